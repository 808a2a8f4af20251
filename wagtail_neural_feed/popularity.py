"""Refresh the stored popularity counters from recent interactions.

Popularity counts readers, not requests: each reader's weight on a page is
capped per day, and readers with implausible daily counts are left out, so
scripted traffic cannot buy the top of every anonymous list.

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
        # Per reader, page and day: the weights summed, then capped, so a
        # script repeating one page adds at most POPULARITY_READER_CAP a day;
        # a reader-day with implausibly many interactions adds nothing.
        cursor.execute(
            f"""
            WITH per_reader AS (
                SELECT page_id, reader_id, date_trunc('day', created_at) AS day,
                       greatest(least(sum(weight), %(cap)s), -%(cap)s) AS contribution,
                       max(created_at) AS latest, count(*) AS interactions
                FROM {interaction}
                WHERE created_at > %(since)s
                GROUP BY page_id, reader_id, day
            ), plausible AS (
                SELECT reader_id, day FROM per_reader
                GROUP BY reader_id, day HAVING sum(interactions) <= %(daily)s
            )
            INSERT INTO {popularity} (page_id, score, interactions, computed_at)
            SELECT page_id,
                   sum(contribution
                       * power(2, -extract(epoch FROM %(now)s - latest) / %(h)s)),
                   sum(interactions), %(now)s
            FROM per_reader JOIN plausible USING (reader_id, day)
            GROUP BY page_id
            ON CONFLICT (page_id) DO UPDATE SET
                score = EXCLUDED.score,
                interactions = EXCLUDED.interactions,
                computed_at = EXCLUDED.computed_at
            """,
            {
                "now": now,
                "h": half_life_seconds,
                "since": since,
                "cap": float(neural_feed_settings.POPULARITY_READER_CAP),
                "daily": int(neural_feed_settings.POPULARITY_MAX_READER_DAILY),
            },
        )
        cursor.execute(f"DELETE FROM {popularity} WHERE computed_at < %s", [now])
        # In the same transaction: the hot tier's popularity rule must match
        # the counters ranking reads.
        refresh_hot_tier(now=now)
        return PagePopularity.objects.count()
