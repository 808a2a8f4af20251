"""Impressions and clicks on rendered lists, and click-through computed from them.

A list is described by the signed token it was rendered with
(:func:`.tracking.list_token`); the tracker sends it back once when the list
scrolls into view and again, with the page, when a link in it is followed.
Both become one :class:`~.models.Impression` row per list and reader.

A click is not also stored as an :class:`~.models.Interaction`: the page the
reader lands on records its own view through its tracker, and counting the
click as well would give every followed recommendation double weight.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from .conf import neural_feed_settings
from .models import Impression, Reader

logger = logging.getLogger(__name__)


def record_impression(
    reader: Reader, shown: dict[str, Any], *, clicked_page_id: int | None = None
) -> bool:
    """Store that ``reader`` was shown the list ``shown`` (a read list token), and optionally
    that they followed ``clicked_page_id`` in it.

    Idempotent: a repeated impression changes nothing, a repeated click is
    kept once, and a click on a list whose impression never arrived records
    the impression too. Returns True when a row was inserted or changed.
    """
    now = timezone.now()
    clicked = [int(clicked_page_id)] if clicked_page_id is not None else []
    table = Impression._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} AS i (list_id, reader_id, feed, context_page_id, page_ids,
                                      shown_at, clicked_page_ids, clicked_at)
            VALUES (%s, %s, %s, %s, %s::bigint[], %s, %s::bigint[], %s)
            ON CONFLICT (list_id, reader_id) DO UPDATE
                SET clicked_page_ids = i.clicked_page_ids || EXCLUDED.clicked_page_ids,
                    clicked_at = COALESCE(i.clicked_at, EXCLUDED.clicked_at)
                WHERE EXCLUDED.clicked_page_ids <> '{{}}'
                  AND NOT i.clicked_page_ids @> EXCLUDED.clicked_page_ids
            RETURNING i.id
            """,
            [
                shown["list_id"],
                reader.pk,
                shown["feed"] or "",
                shown["context_page_id"],
                [int(pk) for pk in shown["page_ids"]],
                now,
                clicked,
                now if clicked else None,
            ],
        )
        return cursor.fetchone() is not None


def purge_old_impressions(days: int | None = None) -> int:
    """Delete impressions older than the retention period (``RETENTION_DAYS``)."""
    days = neural_feed_settings.RETENTION_DAYS if days is None else days
    cutoff = timezone.now() - timezone.timedelta(days=days)
    deleted, _ = Impression.objects.filter(shown_at__lt=cutoff).delete()
    return deleted


# --- click-through --------------------------------------------------------------------


@dataclass(frozen=True)
class FeedDay:
    """Click-through of one feed on one day (UTC): lists shown, lists with a click."""

    feed: str
    day: date
    impressions: int
    clicked_lists: int
    clicks: int

    @property
    def ctr(self) -> float:
        """Share of shown lists in which the reader followed at least one page."""
        return self.clicked_lists / self.impressions if self.impressions else 0.0


@dataclass(frozen=True)
class PageClicks:
    """How often one page was shown in a list and followed from it."""

    page_id: int
    impressions: int
    clicks: int

    @property
    def ctr(self) -> float:
        return self.clicks / self.impressions if self.impressions else 0.0


@dataclass(frozen=True)
class ClickThrough:
    by_feed_day: list[FeedDay]
    by_page: list[PageClicks]


def click_through(feed: str | None = None, since: datetime | None = None) -> ClickThrough:
    """Click-through per feed and day, and per page (most shown first), from impressions.

    Two aggregate statements over the impression rows (page ids are unnested
    in SQL); ``feed`` and ``since`` narrow both.
    """
    table = Impression._meta.db_table
    where, params = ["TRUE"], []
    if feed is not None:
        where.append("feed = %s")
        params.append(feed)
    if since is not None:
        where.append("shown_at >= %s")
        params.append(since)
    condition = " AND ".join(where)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT feed, (shown_at AT TIME ZONE 'UTC')::date AS day, count(*),
                   count(*) FILTER (WHERE cardinality(clicked_page_ids) > 0),
                   coalesce(sum(cardinality(clicked_page_ids)), 0)
            FROM {table} WHERE {condition}
            GROUP BY feed, day ORDER BY day, feed
            """,
            params,
        )
        by_feed_day = [FeedDay(*row) for row in cursor.fetchall()]
        cursor.execute(
            f"""
            SELECT shown.page_id, count(*),
                   count(*) FILTER (WHERE shown.page_id = ANY(i.clicked_page_ids))
            FROM {table} i CROSS JOIN LATERAL unnest(i.page_ids) AS shown(page_id)
            WHERE {condition}
            GROUP BY shown.page_id ORDER BY count(*) DESC, shown.page_id
            """,
            params,
        )
        by_page = [PageClicks(*row) for row in cursor.fetchall()]
    return ClickThrough(by_feed_day=by_feed_day, by_page=by_page)
