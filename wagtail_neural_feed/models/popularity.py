"""``PagePopularity``: a narrow table of decayed interaction counters.

Kept apart from ``PageEmbedding`` on purpose: frequent updates to the
HNSW-indexed table would write new row versions and index entries, and dead
tuples degrade HNSW results.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ..compat import PAGE_MODEL


class PagePopularity(models.Model):
    page = models.OneToOneField(
        PAGE_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="neural_popularity"
    )
    # Sum of interaction weights, each decayed by the popularity half-life to
    # ``computed_at``.
    score = models.FloatField(default=0.0)
    interactions = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("page popularity")
        verbose_name_plural = _("page popularity")
        # Ranking walks this index for its "most popular" candidates and for
        # the normalising maximum: an index lookup, never a scan or a COUNT.
        indexes = [models.Index(fields=["-score"], name="neural_feed_pop_score")]

    def __str__(self) -> str:
        return f"Popularity of page {self.page_id}: {self.score:.2f}"
