"""How far background work is behind: for ``neural_feed_status``, dashboards and monitoring.

Every job leaves its trace in the database (a pending embedding row, a
reader's ``profile_pending`` flag), so the age of the oldest unfinished one
is known whatever happened to the broker or the workers. A growing age means
jobs are not being run: no worker consumes, a worker died holding a message
(Redis redelivers it only after ``visibility_timeout``), or the broker is
down and this process's thread fallback is not running either. The sweep
repairs all of these; its last run is kept in the cache.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Max, Min
from django.utils import timezone

from . import broker, dispatch
from .conf import neural_feed_settings
from .models import (
    EmbeddingStatus,
    Interaction,
    PageEmbedding,
    PagePopularity,
    Reader,
    ReaderProfile,
)

LAST_SWEEP_KEY = "wagtail_neural_feed:last_sweep"


def record_sweep(now: datetime | None = None) -> None:
    """Remember when the sweep last finished (kept until replaced)."""
    cache.set(LAST_SWEEP_KEY, (now or timezone.now()).isoformat(), timeout=None)


def last_sweep() -> datetime | None:
    """When the sweep last finished: the cache, else the popularity counters it refreshes."""
    stored = cache.get(LAST_SWEEP_KEY)
    if stored:
        return datetime.fromisoformat(stored)
    return PagePopularity.objects.aggregate(at=Max("computed_at"))["at"]


def _age(since: datetime | None, now: datetime) -> float | None:
    return None if since is None else max(0.0, (now - since).total_seconds())


def oldest_unfolded_interaction() -> datetime | None:
    """The oldest interaction of a pending reader that no profile has folded in yet."""
    interactions = Interaction._meta.db_table
    readers = Reader._meta.db_table
    profiles = ReaderProfile._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT min(i.created_at) FROM {readers} r
            JOIN {interactions} i ON i.reader_id = r.id
            WHERE r.profile_pending AND i.id > coalesce(
                (SELECT min(p.last_interaction_id) FROM {profiles} p WHERE p.reader_id = r.id), 0)
            """
        )
        return cursor.fetchone()[0]


def status(now: datetime | None = None) -> dict[str, Any]:
    """Counts and ages (seconds; None when nothing waits) of unfinished background work."""
    now = now or timezone.now()
    pending = PageEmbedding.objects.filter(live=True, status=EmbeddingStatus.PENDING)
    failed = PageEmbedding.objects.filter(live=True, status=EmbeddingStatus.FAILED)
    retryable = failed.filter(attempts__lt=neural_feed_settings.MAX_EMBED_ATTEMPTS)
    swept = last_sweep()
    return {
        "dispatch": dispatch.backend_name(),
        "broker_available": broker.broker_available(),
        "pending_embeddings": pending.count(),
        "oldest_pending_embedding_age": _age(pending.aggregate(at=Min("updated_at"))["at"], now),
        "failed_embeddings": failed.count(),
        "failed_embeddings_given_up": failed.count() - retryable.count(),
        "pending_profiles": Reader.objects.filter(profile_pending=True).count(),
        "oldest_pending_profile_age": _age(oldest_unfolded_interaction(), now),
        "stale_profiles": ReaderProfile.objects.filter(stale=True).count(),
        "last_sweep": swept.isoformat() if swept else None,
        "last_sweep_age": _age(swept, now),
    }
