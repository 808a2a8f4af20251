"""Refresh the hot tier: the pages whose freshness or popularity bonus can matter.

Runs inside the popularity refresh's transaction, so the tier and the stored
counters always agree. A page belongs when it has an embedding and was first
published within ``HOT_FRESH_DAYS``, or its stored counter is above the
``HOT_POPULARITY`` share (log-scaled) of the top counter. Liveness and
visibility are not part of the rule: ranking joins ``PageEmbedding`` and
filters there, so a page unpublished or restricted since the refresh is never
shown, and one published again is still covered. The tier copies the columns
ranking filters and scores on; a page whose row changes after the refresh is
read from ``PageEmbedding`` instead (every write to it sets ``updated_at``).
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from .conf import neural_feed_settings
from .models import FILTER_COLUMNS, HotPage, HotTier, PageEmbedding, PagePopularity

logger = logging.getLogger(__name__)

#: Rows changed this long before a refresh began are read from
#: ``PageEmbedding`` by ranking anyway: covers writes that commit while the
#: refresh runs, and clocks of app servers and database a little apart.
IN_FLIGHT_MARGIN = timedelta(minutes=1)

#: PageEmbedding columns the tier keeps (ranking filters and scores on them).
COPIED_COLUMNS = ("embedding", "status", *FILTER_COLUMNS)


def refresh_hot_tier(*, now: datetime | None = None) -> int:
    """Bring the hot pages up to date; returns how many there are."""
    if not neural_feed_settings.HOT_TIER:
        clear_hot_tier()
        return 0
    now = now or timezone.now()
    fresh_after = now - timedelta(days=float(neural_feed_settings.HOT_FRESH_DAYS))
    hot = HotPage._meta.db_table
    embeddings = PageEmbedding._meta.db_table
    popularity = PagePopularity._meta.db_table
    belongs = """e.embedding IS NOT NULL
        AND (e.first_published_at > %(fresh_after)s OR p.score > %(score_above)s)"""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT max(score) FROM {popularity}")
        top = float(cursor.fetchone()[0] or 0.0)
        # popularity = ln(1 + score) / ln(1 + top) > HOT_POPULARITY
        share = float(neural_feed_settings.HOT_POPULARITY)
        score_above = math.expm1(share * math.log1p(top)) if top > 0 else math.inf
        params = {"fresh_after": fresh_after, "score_above": score_above}
        cursor.execute(
            f"""DELETE FROM {hot} h WHERE NOT EXISTS (
                SELECT 1 FROM {embeddings} e
                LEFT JOIN {popularity} p ON p.page_id = e.page_id
                WHERE e.page_id = h.page_id AND {belongs})""",
            params,
        )
        # Unchanged rows are not rewritten: no dead tuples in the HNSW index.
        columns = ", ".join(COPIED_COLUMNS)
        cursor.execute(
            f"""INSERT INTO {hot} (page_id, {columns})
            SELECT e.page_id, {", ".join(f"e.{c}" for c in COPIED_COLUMNS)}
            FROM {embeddings} e
            LEFT JOIN {popularity} p ON p.page_id = e.page_id
            WHERE {belongs}
            ON CONFLICT (page_id) DO UPDATE SET
                {", ".join(f"{c} = EXCLUDED.{c}" for c in COPIED_COLUMNS)}
            WHERE ({", ".join(f"{hot}.{c}" for c in COPIED_COLUMNS)})
                IS DISTINCT FROM ({", ".join(f"EXCLUDED.{c}" for c in COPIED_COLUMNS)})""",
            params,
        )
        # Fresh statistics, or the planner may scan the tier instead of
        # searching its HNSW index (and cached plans are rebuilt).
        cursor.execute(f"ANALYZE {hot}")
        pages = HotPage.objects.count()
        HotTier.objects.update_or_create(
            id=1,
            defaults={
                "refreshed_at": now - IN_FLIGHT_MARGIN,
                "fresh_after": fresh_after,
                "score_above": score_above,
                "pages": pages,
            },
        )
    logger.info("Hot tier refreshed: %d pages", pages)
    return pages


def clear_hot_tier() -> None:
    """Forget the tier (ranking then reads every candidate from ``PageEmbedding``)."""
    with transaction.atomic():
        HotTier.objects.all().delete()
        HotPage.objects.all().delete()
