"""The replay: rank every held-out event with only what was known before it.

Two engines rank. ``engine="fast"`` (the default, :mod:`.fast`) keeps the
state below in memory and ranks batches of events with numpy; every
``check_every``-th event (and the first few) it also ranks through the SQL
path described here and stops if a list differs. ``engine="sql"`` ranks
every event through the SQL path. This docstring describes the SQL path.

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

from ..conf import SETTINGS_NAME, neural_feed_settings
from ..exceptions import EvaluationError
from ..feeds import FeedConfig, get_feed_config, profile_feed_chain
from ..models import CoRead, HotTier, Interaction, PageEmbedding, PagePopularity, ReaderProfile
from ..profiles import profile_vector
from ..ranking import Audience, RankedRow, Scope, load_scope
from ..statements import parse_vector, run_statement, table_name
from . import history
from .engine import supports
from .fast import FastReplay
from .history import EVENTS_TABLE, HeldOutEvent, HistorySummary
from .rankers import Ranker, baselines, rank_all
from .report import Report
from .workers import cpu_seconds

logger = logging.getLogger(__name__)

#: Page embeddings kept for the diversity metric (about 1.5 kB each at 384 dimensions).
EMBEDDING_CACHE_PAGES = 20000
#: "fast": numpy, checked against SQL every ``check_every`` events; "sql": SQL only.
ENGINES = ("fast", "sql")
DEFAULT_CHECK_EVERY = 50


@dataclass
class ReplayResult:
    summary: HistorySummary
    report: Report
    catalogue_size: int
    seconds: float
    engine: str = "sql"
    #: Processor time of this process and its workers in the loop (on a loaded
    #: host, closer to what the loop costs than the wall clock; the SQL engine's
    #: work is mostly PostgreSQL's, not counted here).
    cpu_seconds: float = 0.0

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
        engine: str = "fast",
        check_every: int = DEFAULT_CHECK_EVERY,
        score_impressions: bool = True,
        workers: int = 1,
    ) -> None:
        if engine not in ENGINES:
            raise EvaluationError(f"engine must be one of {', '.join(ENGINES)}.")
        if engine == "fast" and not all(
            supports(r.config) for r in rankers or [Ranker("", config)]
        ):
            logger.warning("A feed uses a score term the fast engine lacks: the SQL engine ranks.")
            engine = "sql"
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
        if workers < 1:
            raise EvaluationError("workers must be 1 or more.")
        self.engine, self.check_every = engine, check_every
        #: Fast engine: processes ranking contiguous chunks of the held-out events
        #: (:mod:`.workers`); the results are the same as with one.
        self.workers = workers
        self.fast: FastReplay | None = None
        #: Score stored impressions too (the fast engine only).
        self.score_impressions = score_impressions and engine == "fast"
        self.applied = 0
        self.hidden: deque[tuple[datetime, int]] = deque()
        self.last_page: dict[int, int] = {}
        self.embeddings: dict[int, np.ndarray] = {}
        #: The page each reader read last (as of the replay), for the context
        #: page and the co-read ranker's anchor.
        self.track_last_pages = context == "last" or any(r.co_read for r in self.rankers)

    def run(self) -> ReplayResult:
        """Replay inside a transaction that is always rolled back."""
        overrides = {}
        if neural_feed_settings.READ_DATABASE not in (None, "", "default"):
            # The ranking must read this transaction's writes: the default database.
            overrides["READ_DATABASE"] = None
        if self.engine == "fast" and self.check_every > 0:
            # The check runs the statement's exact branch (the fast engine is exact;
            # the index's recall is the ranking benchmarks' business).
            overrides["EXACT_BELOW_PAGES"] = 2**62
        if overrides:
            user_settings = getattr(settings, SETTINGS_NAME, {}) or {}
            with override_settings(**{SETTINGS_NAME: {**user_settings, **overrides}}):
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
        # The fast engine reads the catalogue before the replay hides pages.
        fast = self.fast = FastReplay(self, summary) if self.engine == "fast" else None
        if fast is None:
            self._start(summary.first_at, hide=True)
        elif self.check_every > 0:
            # The check excludes unpublished pages by id (cheaper than hiding them).
            self._start(summary.first_at, hide=False)
        started, cpu = time.monotonic(), cpu_seconds()
        if fast is not None:
            fast.run(report, self._reference if self.check_every > 0 else None)
        else:
            self._run_sql(report, summary)
        seconds, cpu = time.monotonic() - started, cpu_seconds() - cpu
        return ReplayResult(summary, report, catalogue, seconds, self.engine, cpu)

    def _run_sql(self, report: Report, summary: HistorySummary) -> None:
        for done, event in enumerate(history.held_out_events(), start=1):
            lists = self._reference(event, observe=True)
            self._attach_embeddings(lists)
            for ranker, rows in zip(self.rankers, lists, strict=True):
                report.add(ranker.name, event.part, event.page_id, rows)
            if self.progress is not None:
                self.progress(done, summary.held_out)

    def _reference(
        self, event: HeldOutEvent, *, observe: bool = False, rankers: Sequence[Ranker] = ()
    ) -> list[list[RankedRow]]:
        """Each ranker's list (default: all) from the real statements, the tables brought
        to the event."""
        self._advance(event.before, event.created_at)
        scope, exclude = self._scope(event)
        if observe:
            self.observe(event, scope)
        if self.fast is not None:
            scope = replace(scope, embedded_pages=0)  # the exact branch, see run()
            exclude = [*exclude, *self.fast.unpublished(event)]
        return rank_all(
            rankers or self.rankers,
            Audience(reader_id=event.reader_id),
            scope,
            limit=self.k,
            now=event.created_at,
            exclude=exclude,
            salt=event.seq,
            anchor=self.last_page.get(event.reader_id),
        )

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

    def observe(self, event: HeldOutEvent, scope) -> None:
        """Called before each held-out event is ranked (tests look at the state here):
        with the SQL engine the tables hold it and ``scope`` is round trip 1's; with the
        fast engine ``scope`` is its :class:`~.engine.Moment`."""

    # --- the state as of an event ----------------------------------------------

    def _start(self, first_at: datetime | None, *, hide: bool) -> None:
        ReaderProfile.objects.all().delete()
        PagePopularity.objects.all().delete()
        CoRead.objects.all().delete()
        HotTier.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {Interaction._meta.db_table}")
            if first_at is not None and hide:
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
            history.replay_events(self.applied, upto, co_reads=self._reads_co_reads())
            if self.track_last_pages:
                self._remember_last_pages(self.applied, upto)
            self.applied = upto
        revealed = []
        while self.hidden and self.hidden[0][0] <= now:
            revealed.append(self.hidden.popleft()[1])
        if revealed:
            PageEmbedding.objects.filter(page_id__in=revealed).update(live=True)

    def _reads_co_reads(self) -> bool:
        """Whether a statement ranked may read the co-read store. The fast engine's
        check ranks only feeds without the co-read term, so unless one has the
        co-read cold start the store is not kept (most of the check's time)."""
        if self.fast is None:
            return True
        return any("co_read" in ranker.config.cold_start for ranker in self.rankers)

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
