"""Refresh the stored popularity counters from recent interactions.

Ranking reads ``PagePopularity.score`` through an index and never counts at
query time; this periodic job (Celery beat or ``neural_feed_sweep``) does the
counting, in one statement, and refreshes the hot tier (``hot.py``) with it.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from .conf import neural_feed_settings
from .hot import refresh_hot_tier
from .models import Interaction, PagePopularity

#: Interactions older than this many half-lives add less than 0.1 %; skip them.
WINDOW_HALF_LIVES = 10


def refresh_popularity() -> int:
    """Recompute every page's decayed interaction sum; returns the pages with a counter."""
    now = timezone.now()
    half_life_seconds = float(neural_feed_settings.POPULARITY_HALF_LIFE_DAYS) * 86400
    since = now - timezone.timedelta(seconds=half_life_seconds * WINDOW_HALF_LIVES)
    popularity = PagePopularity._meta.db_table
    interaction = Interaction._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {popularity} (page_id, score, interactions, computed_at)
            SELECT page_id,
                   sum(weight * power(2, -extract(epoch FROM %(now)s - created_at) / %(h)s)),
                   count(*), %(now)s
            FROM {interaction}
            WHERE created_at > %(since)s
            GROUP BY page_id
            ON CONFLICT (page_id) DO UPDATE SET
                score = EXCLUDED.score,
                interactions = EXCLUDED.interactions,
                computed_at = EXCLUDED.computed_at
            """,
            {"now": now, "h": half_life_seconds, "since": since},
        )
        cursor.execute(f"DELETE FROM {popularity} WHERE computed_at < %s", [now])
        # In the same transaction: the hot tier's popularity rule must match
        # the counters ranking reads.
        refresh_hot_tier(now=now)
        return PagePopularity.objects.count()
