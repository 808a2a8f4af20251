"""The history to replay: a snapshot of the interactions, the split, the held-out events.

Inside the replay's transaction the interactions are copied, in time order,
into a temporary table (``nf_replay_events``) with, for each event:

* ``seq``: its position in time (ties broken by id);
* ``before``: how many events happened strictly earlier (the prefix of the
  history that may be known when it is ranked);
* ``held_out``: whether it is one of the events the rankers must predict.

Held-out events (``time``: all such events after the cut-off;
``leave-last-out``: each reader's last one) are a reader's first interaction
with a page (a page already read is hidden by the feed, so a repeat could
never be a hit), with a
positive weight, on a page that can still be recommended, by a reader with
at least ``min_history`` earlier interactions. Only they are read into
Python, a chunk at a time; the rest of the history is replayed in SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from ..co_reads import fold_co_reads
from ..conf import neural_feed_settings
from ..models import Interaction, PageEmbedding, PagePopularity

EVENTS_TABLE = "nf_replay_events"
SPLITS = ("time", "leave-last-out")
#: Share of the history held out by ``--split time`` when no date is given.
DEFAULT_TEST_SHARE = 0.2


@dataclass(frozen=True)
class HeldOutEvent:
    seq: int
    before: int
    reader_id: int
    page_id: int
    created_at: datetime
    #: "validation" (first half in time) or "test"; only tuning tells them apart.
    part: str


@dataclass(frozen=True)
class HistorySummary:
    events: int
    held_out: int
    first_at: datetime | None
    cutoff: datetime | None


def snapshot(
    *,
    split: str,
    since: datetime | None = None,
    max_events: int | None = None,
    min_history: int = 1,
) -> HistorySummary:
    """Copy the history into the temporary table and mark the held-out events.

    ``since``: only events at or after it are held out (for ``time``, it is
    the cut-off; default: the last ``DEFAULT_TEST_SHARE`` of the history).
    ``max_events``: hold out only the latest that many.
    """
    interactions = Interaction._meta.db_table
    embeddings = PageEmbedding._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {EVENTS_TABLE}")
        cursor.execute(f"""
            CREATE TEMPORARY TABLE {EVENTS_TABLE} ON COMMIT DROP AS
            SELECT row_number() OVER (ORDER BY created_at, id) AS seq,
                   rank() OVER (ORDER BY created_at) - 1 AS before,
                   row_number() OVER (PARTITION BY reader_id ORDER BY created_at, id) - 1
                       AS history,
                   row_number() OVER (PARTITION BY reader_id, page_id ORDER BY created_at, id)
                       AS nth_read,
                   reader_id, page_id, kind, value, weight, created_at,
                   false AS held_out, 'test'::text AS part, NULL::timestamptz AS batch_at
            FROM {interactions}""")
        cursor.execute(f"CREATE INDEX ON {EVENTS_TABLE} (seq)")
        cutoff = since
        if split == "time" and cutoff is None:
            cursor.execute(
                f"""SELECT percentile_disc(%s) WITHIN GROUP (ORDER BY created_at)
                FROM {EVENTS_TABLE}""",
                [1 - DEFAULT_TEST_SHARE],
            )
            cutoff = cursor.fetchone()[0]
        cursor.execute(
            f"""UPDATE {EVENTS_TABLE} ev SET held_out = true
            WHERE nth_read = 1 AND weight > 0 AND history >= %(min_history)s
              AND (%(cutoff)s::timestamptz IS NULL OR created_at >= %(cutoff)s)
              AND EXISTS (SELECT 1 FROM {embeddings} e WHERE e.page_id = ev.page_id
                          AND e.status = 'ready' AND e.live AND e.embedding IS NOT NULL)""",
            {"min_history": min_history, "cutoff": cutoff},
        )
        if split == "leave-last-out":
            # Each reader's last event that could be held out (a like or a
            # reading time on a page already viewed is not one).
            cursor.execute(
                f"""UPDATE {EVENTS_TABLE} ev SET held_out = false
                FROM (SELECT seq, row_number() OVER (PARTITION BY reader_id ORDER BY seq DESC)
                      AS from_last FROM {EVENTS_TABLE} WHERE held_out) latest
                WHERE ev.seq = latest.seq AND latest.from_last > 1"""
            )
        if max_events is not None:
            cursor.execute(
                f"""UPDATE {EVENTS_TABLE} SET held_out = false WHERE held_out AND seq <
                (SELECT min(seq) FROM (SELECT seq FROM {EVENTS_TABLE} WHERE held_out
                 ORDER BY seq DESC LIMIT %s) latest)""",
                [max_events],
            )
        _mark_parts(cursor)
        _mark_batches(cursor)
        cursor.execute(
            f"""SELECT count(*), count(*) FILTER (WHERE held_out), min(created_at)
            FROM {EVENTS_TABLE}"""
        )
        events, held_out, first_at = cursor.fetchone()
    return HistorySummary(events=events, held_out=held_out, first_at=first_at, cutoff=cutoff)


def _mark_parts(cursor) -> None:
    """The earlier half of the held-out events (in time) validates, the later half tests."""
    cursor.execute(
        f"""UPDATE {EVENTS_TABLE} SET part = 'validation' WHERE held_out AND seq <=
        (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY seq) FROM {EVENTS_TABLE}
         WHERE held_out)"""
    )


def _mark_batches(cursor) -> None:
    """Each event's batch time: when the replay folds it into the popularity counters.

    The replay applies the events before each held-out event as one batch
    (events ``before`` of the previous held-out event + 1 .. its own
    ``before``) and keeps each counter referenced to its batch's last event.
    Storing that time per event lets one statement apply many batches at
    once with the same result (the fast engine's parity check does).
    """
    cursor.execute(
        f"""WITH ends AS (
            SELECT before AS upto, lag(before) OVER (ORDER BY before) AS after
            FROM (SELECT DISTINCT before FROM {EVENTS_TABLE} WHERE held_out AND before > 0) b)
        UPDATE {EVENTS_TABLE} ev SET batch_at = last.created_at
        FROM ends JOIN {EVENTS_TABLE} last ON last.seq = ends.upto
        WHERE ev.seq > COALESCE(ends.after, 0) AND ev.seq <= ends.upto"""
    )


def held_out_events(chunk: int = 500) -> Iterator[HeldOutEvent]:
    """The held-out events in time order, read a chunk at a time (bounded memory)."""
    last = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""SELECT seq, before, reader_id, page_id, created_at, part FROM {EVENTS_TABLE}
                WHERE held_out AND seq > %s ORDER BY seq LIMIT %s""",
                [last, chunk],
            )
            rows = cursor.fetchall()
        if not rows:
            return
        for row in rows:
            yield HeldOutEvent(*row)
        last = rows[-1][0]


def replay_events(after: int, upto: int, *, co_reads: bool = True) -> None:
    """Insert events ``after+1 .. upto`` as interactions and add them to the decayed counters.

    ``upto`` is always some held-out event's ``before``; the range may span
    several of the replay's batches (the fast engine's parity check jumps
    ahead). Each counter ends referenced to its last batch's time
    (``batch_at``), exactly as if the batches had been applied one by one.
    ``co_reads=False`` leaves the co-read store alone (no statement ranked reads it).
    """
    half_life = float(neural_feed_settings.POPULARITY_HALF_LIFE_DAYS) * 86400.0
    popularity = PagePopularity._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(max(id), 0) FROM {Interaction._meta.db_table}")
        (last_id,) = cursor.fetchone()
        # One statement: the events go back into the interaction table, and into
        # the counters as refresh_popularity() keeps them (a decayed sum at
        # computed_at), updated incrementally.
        cursor.execute(
            f"""WITH batch AS (
                SELECT seq, reader_id, page_id, kind, value, weight, created_at, batch_at
                FROM {EVENTS_TABLE} WHERE seq > %(after)s AND seq <= %(upto)s),
            inserted AS (
                INSERT INTO {Interaction._meta.db_table}
                    (reader_id, page_id, kind, value, weight, created_at)
                SELECT reader_id, page_id, kind, value, weight, created_at FROM batch
                ORDER BY seq),
            pages AS (SELECT page_id, max(batch_at) AS at FROM batch GROUP BY page_id)
            INSERT INTO {popularity} AS p (page_id, score, interactions, computed_at)
            SELECT b.page_id,
                   sum(b.weight * power(2, -extract(epoch FROM pages.at - b.created_at) / %(h)s)),
                   count(*), pages.at
            FROM batch b JOIN pages ON pages.page_id = b.page_id GROUP BY b.page_id, pages.at
            ON CONFLICT (page_id) DO UPDATE SET
                score = p.score * power(2, -extract(epoch FROM EXCLUDED.computed_at
                                                    - p.computed_at) / %(h)s)
                        + EXCLUDED.score,
                interactions = p.interactions + EXCLUDED.interactions,
                computed_at = EXCLUDED.computed_at""",
            {"after": after, "upto": upto, "h": half_life},
        )
        if not co_reads:
            return
        # The co-read store as the profile job keeps it: the new interactions
        # (ids in time order) paired with the reader's earlier ones.
        cursor.execute(f"SELECT COALESCE(max(id), 0) FROM {Interaction._meta.db_table}")
        fold_co_reads(after_id=last_id, upto_id=cursor.fetchone()[0])
