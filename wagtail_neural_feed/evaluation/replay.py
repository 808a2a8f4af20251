"""The replay: rank every held-out event with only what was known before it.

Everything happens in one transaction that is rolled back at the end, so the
site's data is untouched. At the start it

* copies the interactions into a temporary table (:mod:`.history`) and
  deletes them, the profiles and the popularity counters;
* switches the hot tier off (its row is deleted: the ranking then uses its
  plain candidate sources, still exact) and hides every page first published
  after the first event.

Then, for each held-out event at time ``t``, in time order:

1. the events strictly before ``t`` not yet replayed are inserted back into
   the interaction table and folded into the popularity counters, decayed to
   their time (one statement each, in SQL); pages published by ``t`` reappear;
2. the reader's profile is folded from exactly the interactions now in the
   table, by the profiles module's own maths
   (:func:`~wagtail_neural_feed.profiles.profile_vector`, what
   ``update_profile`` would store), and handed to the ranking in its scope
   (round trip 1, :func:`~wagtail_neural_feed.ranking.load_scope`) instead of
   being written;
3. every ranker ranks with the real statement at ``now=t``, all in one round
   trip (:func:`.rankers.rank_all`); the "already read" filter reads the same
   interaction table.

So the held-out interaction, and everything after it, is not in the table,
the counters or the profile when it is ranked: no leak by construction.
Running on the live database holds row locks on those tables for the run;
run it on a copy (or at a quiet hour).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import override_settings

from ..co_reads import fold_co_reads
from ..conf import SETTINGS_NAME, neural_feed_settings
from ..exceptions import EvaluationError
from ..feeds import FeedConfig, get_feed_config, profile_feed_chain
from ..models import CoRead, HotTier, Interaction, PageEmbedding, PagePopularity, ReaderProfile
from ..profiles import profile_vector
from ..ranking import Audience, Scope, load_scope
from ..statements import parse_vector, run_statement, table_name
from . import history
from .history import EVENTS_TABLE, HeldOutEvent, HistorySummary
from .rankers import Ranker, baselines, rank_all
from .report import Report

logger = logging.getLogger(__name__)

#: Page embeddings kept for the diversity metric (about 1.5 kB each at 384 dimensions).
EMBEDDING_CACHE_PAGES = 20000


@dataclass
class ReplayResult:
    summary: HistorySummary
    report: Report
    catalogue_size: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.report_events / self.seconds if self.seconds > 0 else 0.0

    @property
    def report_events(self) -> int:
        return self.summary.held_out


class Replay:
    """Replay the history for ``config`` and compare ``rankers`` (default: it and the baselines)."""

    def __init__(
        self,
        config: FeedConfig,
        *,
        split: str = "leave-last-out",
        k: int = 10,
        since: datetime | None = None,
        max_events: int | None = None,
        min_history: int = 1,
        context: str = "none",
        rankers: Sequence[Ranker] | None = None,
        min_held_out: int = 1,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        if split not in history.SPLITS:
            raise EvaluationError(f"split must be one of {', '.join(history.SPLITS)}.")
        if context not in ("none", "last"):
            raise EvaluationError("context must be 'none' or 'last'.")
        self.config, self.split, self.k = config, split, k
        self.since, self.max_events, self.min_history = since, max_events, min_history
        self.context = context
        self.rankers = (
            list(rankers)
            if rankers is not None
            else [
                Ranker("feed", config),
                *baselines(config),
            ]
        )
        self.min_held_out = min_held_out
        self.progress = progress
        self.applied = 0
        self.hidden: deque[tuple[datetime, int]] = deque()
        self.last_page: dict[int, int] = {}
        self.embeddings: dict[int, np.ndarray] = {}
        #: The page each reader read last (as of the replay), for the context
        #: page and the co-read ranker's anchor.
        self.track_last_pages = context == "last" or any(r.co_read for r in self.rankers)

    def run(self) -> ReplayResult:
        """Replay inside a transaction that is always rolled back."""
        if neural_feed_settings.READ_DATABASE not in (None, "", "default"):
            # The ranking must read this transaction's writes: the default database.
            user_settings = getattr(settings, SETTINGS_NAME, {}) or {}
            with override_settings(**{SETTINGS_NAME: {**user_settings, "READ_DATABASE": None}}):
                return self._rolled_back()
        return self._rolled_back()

    def _rolled_back(self) -> ReplayResult:
        with transaction.atomic():
            try:
                return self._run()
            finally:
                transaction.set_rollback(True)

    def _run(self) -> ReplayResult:
        summary = history.snapshot(
            split=self.split,
            since=self.since,
            max_events=self.max_events,
            min_history=self.min_history,
        )
        if summary.held_out < self.min_held_out:
            raise EvaluationError(
                f"Only {summary.held_out} held-out events; at least {self.min_held_out} needed."
            )
        report = Report([ranker.name for ranker in self.rankers], self.k)
        catalogue = PageEmbedding.objects.eligible().count()
        self._start(summary.first_at)
        started = time.monotonic()
        for done, event in enumerate(history.held_out_events(), start=1):
            self._advance(event.before, event.created_at)
            scope, exclude = self._scope(event)
            self.observe(event, scope)
            lists = rank_all(
                self.rankers,
                Audience(reader_id=event.reader_id),
                scope,
                limit=self.k,
                now=event.created_at,
                exclude=exclude,
                salt=str(event.seq),
                anchor=self.last_page.get(event.reader_id),
            )
            self._attach_embeddings(lists)
            for ranker, rows in zip(self.rankers, lists, strict=True):
                report.add(ranker.name, event.part, event.page_id, rows)
            if self.progress is not None:
                self.progress(done, summary.held_out)
        seconds = time.monotonic() - started
        return ReplayResult(summary, report, catalogue, seconds)

    def _attach_embeddings(self, lists) -> None:
        """Embeddings of the listed pages, for intra-list diversity (a bounded cache)."""
        rows = [row for rows in lists for row in rows if row.embedding is None]
        missing = {row.page_id for row in rows} - self.embeddings.keys()
        if missing:
            if len(self.embeddings) + len(missing) > EMBEDDING_CACHE_PAGES:
                self.embeddings.clear()
            found = run_statement(
                f"SELECT page_id, embedding FROM {table_name(PageEmbedding)}"
                " WHERE page_id = ANY(%(ids)s)",
                {"ids": sorted(missing)},
                binary=True,
            )
            self.embeddings.update((page_id, parse_vector(vector)) for page_id, vector in found)
        for row in rows:
            row.embedding = self.embeddings.get(row.page_id)

    def observe(self, event: HeldOutEvent, scope: Scope) -> None:
        """Called before each held-out event is ranked (tests look at the state here)."""

    # --- the state as of an event ----------------------------------------------

    def _start(self, first_at: datetime | None) -> None:
        ReaderProfile.objects.all().delete()
        PagePopularity.objects.all().delete()
        CoRead.objects.all().delete()
        HotTier.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {Interaction._meta.db_table}")
            if first_at is not None:
                cursor.execute(
                    f"""UPDATE {PageEmbedding._meta.db_table} SET live = false
                    WHERE live AND first_published_at > %s
                    RETURNING first_published_at, page_id""",
                    [first_at],
                )
                self.hidden = deque(sorted(cursor.fetchall()))

    def _advance(self, upto: int, now: datetime) -> None:
        """Replay events ``applied+1 .. upto`` (all strictly before ``now``); reveal pages."""
        if upto > self.applied:
            _replay_events(self.applied, upto)
            if self.track_last_pages:
                self._remember_last_pages(self.applied, upto)
            self.applied = upto
        revealed = []
        while self.hidden and self.hidden[0][0] <= now:
            revealed.append(self.hidden.popleft()[1])
        if revealed:
            PageEmbedding.objects.filter(page_id__in=revealed).update(live=True)

    def _remember_last_pages(self, after: int, upto: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""SELECT DISTINCT ON (reader_id) reader_id, page_id FROM {EVENTS_TABLE}
                WHERE seq > %s AND seq <= %s ORDER BY reader_id, seq DESC""",
                [after, upto],
            )
            self.last_page.update(cursor.fetchall())

    def _scope(self, event: HeldOutEvent) -> tuple[Scope, list[int]]:
        """Round trip 1, with the reader's profile as of the event (not written anywhere)."""
        context = self.last_page.get(event.reader_id) if self.context == "last" else None
        audience = Audience(reader_id=event.reader_id)
        scope = load_scope(self.config, audience, context_page_id=context)
        return replace(scope, profile=self._profile(event.reader_id)), (
            [context] if context is not None else []
        )

    def _profile(self, reader_id: int):
        """The first profile with a direction along the feed's chain, from the known history."""
        rows = run_statement(
            f"""SELECT i.weight, i.created_at, e.embedding, e.content_type_id, e.path
            FROM {table_name(Interaction)} i
            JOIN {table_name(PageEmbedding)} e ON e.page_id = i.page_id
            WHERE i.reader_id = %(reader)s AND e.status = 'ready' AND e.embedding IS NOT NULL
            ORDER BY i.id""",
            {"reader": reader_id},
            binary=True,
        )
        history = [
            {
                "weight": weight,
                "created_at": created_at,
                "embedding": parse_vector(embedding),
                "content_type_id": content_type_id,
                "path": path,
            }
            for weight, created_at, embedding, content_type_id, path in rows
        ]
        for slug in profile_feed_chain(self.config):
            config = self.config if slug == self.config.slug else get_feed_config(slug)
            vector = profile_vector(config, history)
            if vector is not None:
                return vector
        return None


def _replay_events(after: int, upto: int) -> None:
    """Insert events ``after+1 .. upto`` as interactions and add them to the decayed
    counters and the co-read store."""
    half_life = float(neural_feed_settings.POPULARITY_HALF_LIFE_DAYS) * 86400.0
    popularity = PagePopularity._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(max(id), 0) FROM {Interaction._meta.db_table}")
        (last_id,) = cursor.fetchone()
        # One statement: the events go back into the interaction table, and into
        # the counters as refresh_popularity() keeps them (a decayed sum at
        # computed_at), updated incrementally to the batch's last event.
        cursor.execute(
            f"""WITH batch AS (
                SELECT seq, reader_id, page_id, kind, value, weight, created_at,
                       max(created_at) OVER () AS at
                FROM {EVENTS_TABLE} WHERE seq > %(after)s AND seq <= %(upto)s),
            inserted AS (
                INSERT INTO {Interaction._meta.db_table}
                    (reader_id, page_id, kind, value, weight, created_at)
                SELECT reader_id, page_id, kind, value, weight, created_at FROM batch
                ORDER BY seq)
            INSERT INTO {popularity} AS p (page_id, score, interactions, computed_at)
            SELECT page_id,
                   sum(weight * power(2, -extract(epoch FROM at - created_at) / %(h)s)),
                   count(*), max(at)
            FROM batch GROUP BY page_id
            ON CONFLICT (page_id) DO UPDATE SET
                score = p.score * power(2, -extract(epoch FROM EXCLUDED.computed_at
                                                    - p.computed_at) / %(h)s)
                        + EXCLUDED.score,
                interactions = p.interactions + EXCLUDED.interactions,
                computed_at = EXCLUDED.computed_at""",
            {"after": after, "upto": upto, "h": half_life},
        )
        # The store as the profile job keeps it: the batch's interactions (ids
        # in time order) paired with the reader's earlier ones, all before now.
        cursor.execute(f"SELECT COALESCE(max(id), 0) FROM {Interaction._meta.db_table}")
        fold_co_reads(after_id=last_id, upto_id=cursor.fetchone()[0])
