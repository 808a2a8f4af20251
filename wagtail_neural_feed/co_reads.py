"""The co-read store: "readers of this also read", kept incrementally from interactions.

Two pages are *co-read* when one reader read both (a positive interaction:
views, reading time, likes; dislikes do not count) within
``CO_READ_WINDOW_DAYS`` of each other. Each such reader adds 1 to the pair,
in both directions, once per window: a reader's second interaction with a
page inside the window (a like after the view, a re-read) adds nothing. The
counts decay with ``CO_READ_HALF_LIFE_DAYS``, stored as a sum at
``updated_at`` as the popularity counters are, and each page keeps only its
``CO_READ_MAX_PER_PAGE`` strongest co-reads, so the table stays O(pages · N).

The profile job folds a reader's new interactions in (``update_co_reads``,
after their profiles; a high-water mark on the reader makes it idempotent);
``neural_feed_co_reads --rebuild`` (or :func:`rebuild_co_reads`) recounts
the whole history. The offline evaluation folds its replayed events with
:func:`fold_co_reads`, so the store there holds only the past.
"""

from __future__ import annotations

import logging

from django.db import connection, transaction

from .conf import neural_feed_settings
from .models import CoRead, Interaction, Reader

logger = logging.getLogger(__name__)

#: A new interaction is paired with at most this many of the reader's earlier
#: positive interactions (the latest): the work per interaction is bounded
#: (at most 2 · LOOKBACK pairs written and pages pruned), and a reader who
#: reads dozens of pages in one sitting is not telling us much more.
LOOKBACK = 50
#: Interactions folded per statement by a rebuild.
REBUILD_CHUNK = 20000


def fold_co_reads(*, after_id: int, upto_id: int, reader_id: int | None = None) -> int:
    """Count the co-reads of the interactions with ``after_id < id <= upto_id``.

    Each is paired with the same reader's earlier positive interactions (by id)
    within the window. Returns the pages whose co-reads changed.
    """
    window_seconds = float(neural_feed_settings.CO_READ_WINDOW_DAYS) * 86400.0
    params = {
        "after": after_id,
        "upto": upto_id,
        "reader": reader_id,
        "window": f"{window_seconds} seconds",
        "h": float(neural_feed_settings.CO_READ_HALF_LIFE_DAYS) * 86400.0,
        "lookback": LOOKBACK,
    }
    interactions, co_reads = Interaction._meta.db_table, CoRead._meta.db_table
    reader_filter = "AND reader_id = %(reader)s" if reader_id is not None else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH new AS (
                SELECT id, reader_id, page_id, created_at FROM {interactions}
                WHERE id > %(after)s AND id <= %(upto)s AND weight > 0 {reader_filter}),
            earlier AS (
                SELECT n.id, n.page_id AS a, y.page_id AS b, n.created_at AS at
                FROM new n CROSS JOIN LATERAL (
                    SELECT y.page_id, y.created_at FROM {interactions} y
                    WHERE y.reader_id = n.reader_id AND y.id < n.id AND y.weight > 0
                    ORDER BY y.id DESC LIMIT %(lookback)s) y
                WHERE y.created_at > n.created_at - %(window)s::interval
                  AND y.created_at < n.created_at + %(window)s::interval),
            pairs AS (
                SELECT DISTINCT id, a, b, at FROM earlier
                WHERE a <> b AND id NOT IN (SELECT id FROM earlier WHERE a = b)),
            both_ways AS (
                SELECT a AS page_id, b AS other_page_id, at FROM pairs
                UNION ALL SELECT b, a, at FROM pairs),
            reference AS (SELECT max(at) AS at FROM both_ways)
            INSERT INTO {co_reads} AS c (page_id, other_page_id, weight, updated_at)
            SELECT w.page_id, w.other_page_id,
                   sum(power(2, -extract(epoch FROM r.at - w.at) / %(h)s)), r.at
            FROM both_ways w, reference r
            GROUP BY w.page_id, w.other_page_id, r.at
            ORDER BY w.page_id, w.other_page_id
            ON CONFLICT (page_id, other_page_id) DO UPDATE SET
                weight = CASE WHEN EXCLUDED.updated_at >= c.updated_at
                    THEN c.weight * power(2, -extract(epoch FROM EXCLUDED.updated_at
                                                      - c.updated_at) / %(h)s)
                         + EXCLUDED.weight
                    ELSE c.weight + EXCLUDED.weight * power(2, -extract(epoch FROM
                                                      c.updated_at - EXCLUDED.updated_at) / %(h)s)
                    END,
                updated_at = GREATEST(c.updated_at, EXCLUDED.updated_at)
            RETURNING page_id""",
            params,
        )
        pages = sorted({page_id for (page_id,) in cursor.fetchall()})
        if pages:
            _prune(cursor, pages, params["h"])
    return len(pages)


def _prune(cursor, pages: list[int], half_life_seconds: float) -> None:
    """Keep each page's ``CO_READ_MAX_PER_PAGE`` strongest co-reads, compared decayed
    to one moment (log weight + ln2 · time / half-life orders them as that would).

    Page by page through the pair index, and the rows to drop by primary key:
    the work follows the pages touched, never the table's size.
    """
    table = CoRead._meta.db_table
    cursor.execute(
        f"""DELETE FROM {table} WHERE id = ANY(ARRAY(
            SELECT r.id FROM unnest(%(pages)s::integer[]) AS t(page_id)
            CROSS JOIN LATERAL (
                SELECT x.id FROM {table} x WHERE x.page_id = t.page_id
                ORDER BY ln(GREATEST(x.weight, 1e-300))
                         + ln(2) * extract(epoch FROM x.updated_at) / %(h)s DESC,
                         x.other_page_id
                OFFSET %(keep)s) r))""",
        {
            "pages": pages,
            "h": half_life_seconds,
            "keep": int(neural_feed_settings.CO_READ_MAX_PER_PAGE),
        },
    )


def update_co_reads(reader_id: int) -> int:
    """Fold a reader's interactions above their high-water mark (the profile job's part).

    Idempotent: the reader's row lock serialises concurrent runs (and orders
    them after every interaction in flight, see ``tracking``), and the mark
    moves in the same transaction as the counts.
    """
    with transaction.atomic():
        marks = list(
            Reader.objects.select_for_update()
            .filter(pk=reader_id)
            .values_list("co_read_mark", flat=True)
        )
        if not marks:
            return 0
        upto = (
            Interaction.objects.filter(reader_id=reader_id, id__gt=marks[0])
            .order_by("-id")
            .values_list("id", flat=True)
            .first()
        )
        if upto is None:
            return 0
        pages = fold_co_reads(after_id=marks[0], upto_id=upto, reader_id=reader_id)
        Reader.objects.filter(pk=reader_id).update(co_read_mark=upto)
    return pages


def rebuild_co_reads() -> int:
    """Recount the store from the whole history; returns the rows kept.

    One transaction, with the table locked against the profile job's writes:
    run it after upgrading, or to apply new window / half-life settings.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {CoRead._meta.db_table} IN EXCLUSIVE MODE")
        cursor.execute(f"DELETE FROM {CoRead._meta.db_table}")
        cursor.execute(f"SELECT COALESCE(max(id), 0) FROM {Interaction._meta.db_table}")
        (upto,) = cursor.fetchone()
        done = 0
        while done < upto:
            end = min(done + REBUILD_CHUNK, upto)
            fold_co_reads(after_id=done, upto_id=end)
            done = end
        Reader.objects.update(co_read_mark=upto)
        rows = CoRead.objects.count()
    logger.info("Co-reads rebuilt from %d interactions: %d pairs kept.", upto, rows)
    return rows
