"""``PageEmbedding``: one row per page, outside the page table.

Wagtail copies page fields through revision JSON on publish, so a vector on
the page would be written into every revision and restored stale. This table
also carries the columns the ranking query filters on, so ranking never joins
the page tree.
"""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from wagtail.models import Locale

from ..compat import PAGE_MODEL
from .fields import PAGE_HNSW_INDEX, embedding_field, hnsw_index

#: Columns copied from the page so the ranking filters without joining the page
#: tree; kept in step by ``indexing`` (publish, unpublish, move, restrictions).
DENORMALISED_COLUMNS = (
    "live",
    "view_restricted",
    "locale_id",
    "path",
    "content_type_id",
    "first_published_at",
    "last_published_at",
)
#: Of those, the ones ranking filters and scores on (the hot tier copies them).
FILTER_COLUMNS = DENORMALISED_COLUMNS[:-1]


class EmbeddingStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


class PageEmbeddingQuerySet(models.QuerySet):
    def ready(self):
        return self.filter(status=EmbeddingStatus.READY, embedding__isnull=False)

    def eligible(self):
        """Rows a reader could be shown: live, embedded and not view-restricted."""
        return self.ready().filter(live=True, view_restricted=False)

    def needs_embedding(self, *, max_attempts: int):
        """Live rows that are pending, or failed but still worth retrying."""
        return self.filter(live=True).filter(
            Q(status=EmbeddingStatus.PENDING)
            | Q(status=EmbeddingStatus.FAILED, attempts__lt=max_attempts)
        )


class PageEmbedding(models.Model):
    page = models.OneToOneField(
        PAGE_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="neural_embedding",
    )
    embedding = embedding_field(null=True, blank=True)
    model_name = models.CharField(max_length=255, blank=True)
    text_hash = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=16, choices=EmbeddingStatus.choices, default=EmbeddingStatus.PENDING
    )
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    embedded_at = models.DateTimeField(null=True, blank=True)
    #: The embedded text's words (full-text lexemes), written with the vector:
    #: "More like this" can add the words a candidate shares with the page.
    #: Read only for the nearest candidates, by page id: no index.
    lexemes = SearchVectorField(null=True, blank=True)

    # Denormalised from the page so the ranking query filters without joins.
    live = models.BooleanField(default=False)
    view_restricted = models.BooleanField(default=False)
    locale = models.ForeignKey(
        Locale, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    path = models.CharField(max_length=255, db_collation="C")
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    first_published_at = models.DateTimeField(null=True, blank=True)
    last_published_at = models.DateTimeField(null=True, blank=True)

    objects = PageEmbeddingQuerySet.as_manager()

    class Meta:
        verbose_name = _("page embedding")
        verbose_name_plural = _("page embeddings")
        indexes = [
            hnsw_index(PAGE_HNSW_INDEX),
            models.Index(fields=["path"], name="neural_feed_emb_path"),
            models.Index(fields=["status", "live"], name="neural_feed_emb_status"),
            # Ranking's "freshest" candidates: walked newest first, filtered
            # per reader (view restrictions are decided per reader, so they
            # are not part of the predicate).
            models.Index(
                fields=["-first_published_at"],
                name="neural_feed_emb_fresh",
                condition=Q(live=True, status="ready"),
            ),
            # Ranking reads the rows changed since the hot tier's last refresh.
            models.Index(fields=["-updated_at"], name="neural_feed_emb_changed"),
        ]

    def __str__(self) -> str:
        return f"Embedding of page {self.page_id} ({self.status})"
