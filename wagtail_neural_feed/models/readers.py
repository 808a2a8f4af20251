"""Readers, their interactions (the source of truth) and derived profiles."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..compat import PAGE_MODEL
from .fields import embedding_field


class Reader(models.Model):
    """A person who reads: a signed-in user or an anonymous visitor (cookie id)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="neural_feed_reader",
    )
    visitor_id = models.UUIDField(null=True, blank=True, unique=True, default=None)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    #: A profile update is queued: further interactions need not queue another.
    profile_pending = models.BooleanField(default=False)
    #: Interactions up to this id are counted in the co-read store (``co_reads.py``).
    co_read_mark = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("reader")
        verbose_name_plural = _("readers")
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False) | Q(visitor_id__isnull=False),
                name="neural_feed_reader_has_identity",
            )
        ]

    def __str__(self) -> str:
        return f"user {self.user_id}" if self.user_id else f"visitor {self.visitor_id}"

    @classmethod
    def new_visitor_id(cls) -> uuid.UUID:
        return uuid.uuid4()


class Interaction(models.Model):
    """One thing a reader did with a page. Written in the request; never derived."""

    reader = models.ForeignKey(Reader, on_delete=models.CASCADE, related_name="interactions")
    page = models.ForeignKey(PAGE_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32)
    # Raw value reported (e.g. dwell seconds); None for plain events.
    value = models.FloatField(null=True, blank=True)
    # Signed weight used by profiles and popularity (dislikes are negative).
    weight = models.FloatField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        indexes = [
            models.Index(fields=["reader", "id"], name="neural_feed_int_reader"),
            models.Index(fields=["page", "created_at"], name="neural_feed_int_page"),
            # "Already read" exclusion in ranking: the reader's distinct pages.
            models.Index(fields=["reader", "page"], name="neural_feed_int_reader_page"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on page {self.page_id} by reader {self.reader_id}"


class ReaderProfile(models.Model):
    """A reader's interest vector for one feed, derived from interactions.

    ``sum_vector`` is the time-decayed weighted sum referenced to
    ``reference_time``; ``vector`` is its L2-normalised form used by ranking.
    ``last_interaction_id`` is the high-water mark that makes updates idempotent.
    """

    reader = models.ForeignKey(Reader, on_delete=models.CASCADE, related_name="profiles")
    feed = models.SlugField(max_length=100)
    vector = embedding_field(null=True, blank=True)
    sum_vector = embedding_field(null=True, blank=True)
    reference_time = models.DateTimeField(null=True, blank=True)
    interaction_count = models.PositiveIntegerField(default=0)
    last_interaction_id = models.BigIntegerField(default=0)
    stale = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("reader profile")
        verbose_name_plural = _("reader profiles")
        constraints = [
            models.UniqueConstraint(fields=["reader", "feed"], name="neural_feed_profile_unique")
        ]
        indexes = [
            models.Index(
                fields=["stale"], name="neural_feed_profile_stale", condition=Q(stale=True)
            ),
        ]

    def __str__(self) -> str:
        return f"Profile of reader {self.reader_id} for feed {self.feed!r}"
