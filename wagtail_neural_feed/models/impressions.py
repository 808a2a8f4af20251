"""Impressions: one row per list a reader was shown, with the pages they followed."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

from .readers import Reader


class Impression(models.Model):
    """A rendered list that scrolled into view, and which of its pages the reader followed.

    The shape of public news-recommendation logs (MIND's impression lists with
    clicked flags): the pages in rank order plus the clicked ones, so
    click-through can be computed and real impressions replayed offline.
    Unique per list and reader: a list in a page served from a shared cache
    carries the same list id for everyone who sees it.
    """

    list_id = models.CharField(max_length=64)
    reader = models.ForeignKey(Reader, on_delete=models.CASCADE, related_name="impressions")
    feed = models.CharField(max_length=64)
    # Plain ids, not foreign keys: a log row outlives the pages it mentions.
    context_page_id = models.BigIntegerField(null=True, blank=True)
    page_ids = ArrayField(models.BigIntegerField())
    shown_at = models.DateTimeField()
    # Followed pages in click order (each once); empty when nothing was clicked.
    clicked_page_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("impression")
        verbose_name_plural = _("impressions")
        constraints = [
            models.UniqueConstraint(
                fields=["list_id", "reader"], name="neural_feed_impression_list_reader"
            )
        ]
        indexes = [
            models.Index(fields=["shown_at"], name="neural_feed_impr_shown"),
            models.Index(fields=["feed", "shown_at"], name="neural_feed_impr_feed"),
        ]

    def __str__(self) -> str:
        return f"list {self.list_id} ({self.feed}) shown to reader {self.reader_id}"
