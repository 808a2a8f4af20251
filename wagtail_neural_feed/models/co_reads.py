"""``CoRead``: "readers of this also read", a decayed count per pair of pages.

Kept incrementally from interactions by the profile job (``co_reads.py``),
at most ``CO_READ_MAX_PER_PAGE`` rows per page, so the table stays
O(pages · N) and the ranking reads a page's co-reads through one index.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ..compat import PAGE_MODEL


class CoRead(models.Model):
    #: The page whose readers read ``other_page`` too. Both directions are stored.
    page = models.ForeignKey(PAGE_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    other_page = models.ForeignKey(PAGE_MODEL, on_delete=models.CASCADE, related_name="+")
    #: Readers who read both pages within the window, each decayed by
    #: ``CO_READ_HALF_LIFE_DAYS`` to ``updated_at``.
    weight = models.FloatField(default=0.0)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("co-read pages")
        verbose_name_plural = _("co-read pages")
        constraints = [
            # Also the index the ranking reads a page's co-reads through.
            models.UniqueConstraint(fields=["page", "other_page"], name="neural_feed_coread_pair")
        ]

    def __str__(self) -> str:
        return (
            f"Readers of page {self.page_id} also read page {self.other_page_id}: {self.weight:.2f}"
        )
