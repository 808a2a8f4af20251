"""The sweep: redo whatever a lost job, a dead worker or a broker outage left undone.

Interactions and pending embeddings are in the database, so the sweep can
always rebuild what depends on them: stale or pending profiles, pending and
failed embeddings, popularity counters. Safe to run at any time, as often as
you like (Celery beat, cron, or ``manage.py neural_feed_sweep``).
"""

from __future__ import annotations

import logging

from .indexing import embed_pending
from .models import Reader, ReaderProfile
from .popularity import refresh_popularity
from .profiles import recompute_profiles, recompute_source_profiles, run_profile_update
from .status import record_sweep

logger = logging.getLogger(__name__)


def sweep() -> dict[str, int]:
    """Run every repair; returns how much each did."""
    embedded = embed_pending()
    pending = list(Reader.objects.filter(profile_pending=True).values_list("pk", flat=True))
    for reader_id in pending:
        run_profile_update(reader_id)
    stale = list(
        ReaderProfile.objects.filter(stale=True).values_list("reader_id", flat=True).distinct()
    )
    for reader_id in stale:
        recompute_profiles(reader_id)
        recompute_source_profiles(reader_id)
    counters = refresh_popularity()
    result = {
        "embedded": embedded,
        "pending_readers": len(pending),
        "stale_readers": len(stale),
        "popular_pages": counters,
    }
    record_sweep()
    logger.info("Neural feed sweep: %s", result)
    return result
