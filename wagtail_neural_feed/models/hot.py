"""The hot tier: pages that freshness or popularity can lift, with a second HNSW index.

The ranking's nearest-neighbour search finds the pages most similar to a
reader. A page a little less similar but fresh or popular can still outrank
them, and finding those among every page would mean scoring thousands of rows
per list. The hot tier keeps a copy of the embeddings of the pages whose
bonus can matter (published recently, or with a popularity counter above a
threshold) in a small table with its own HNSW index, so the ranking asks it
for its nearest pages too. The rows carry the columns ranking filters and
scores on, copied from ``PageEmbedding`` (same names), so searching the tier
never reads the large table. Rebuilt with the popularity counters (the
sweep); pages whose ``PageEmbedding`` row changed since then (any write sets
``updated_at``) are skipped in the tier and read from ``PageEmbedding``.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ..compat import PAGE_MODEL
from .fields import HOT_HNSW_INDEX, embedding_field, hnsw_index


class HotPage(models.Model):
    page = models.OneToOneField(
        PAGE_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    embedding = embedding_field()
    # As in PageEmbedding at the last refresh.
    status = models.CharField(max_length=16)
    live = models.BooleanField()
    view_restricted = models.BooleanField()
    locale_id = models.BigIntegerField(null=True)
    path = models.CharField(max_length=255, db_collation="C")
    content_type_id = models.IntegerField()
    first_published_at = models.DateTimeField(null=True)

    class Meta:
        verbose_name = _("hot page")
        verbose_name_plural = _("hot pages")
        indexes = [
            hnsw_index(HOT_HNSW_INDEX),
            # Lists read the tier's pages by bonus (newest first) when its
            # nearest pages cannot settle them; a site of a shared tier by path.
            models.Index(fields=["-first_published_at"], name="neural_feed_hot_fresh"),
            models.Index(fields=["path"], name="neural_feed_hot_path"),
        ]

    def __str__(self) -> str:
        return f"Hot page {self.page_id}"


class HotTier(models.Model):
    """What the hot pages cover, as of their last refresh (a single row)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    #: Pages whose PageEmbedding row changed after this instant are read from it directly.
    refreshed_at = models.DateTimeField()
    #: Every page first published after this is in the tier.
    fresh_after = models.DateTimeField()
    #: Every page whose stored popularity counter exceeds this is in the tier.
    score_above = models.FloatField()
    pages = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("hot tier")
        verbose_name_plural = _("hot tier")

    def __str__(self) -> str:
        return f"Hot tier of {self.pages} pages, refreshed {self.refreshed_at:%Y-%m-%d %H:%M}"
