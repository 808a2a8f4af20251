"""The fast replay: walk the held-out events in time order with the state in memory.

Set up before the replay hides anything (the catalogue's ``live`` flags are
read as they were), it loads the catalogue and the whole history once
(:mod:`.catalogue`, :mod:`.state`), then, a batch of held-out events at a
time: moves the state to each event (strictly before it), prepares its
profile, context and popularity terms, computes every similarity of the
batch in one matrix product and ranks every ranker (:mod:`.engine`).

Every ``check_every``-th event (and the first few) is also ranked by the SQL
replay (the real statement, its exact branch, on tables brought to the same
moment) and the run stops with :class:`~..exceptions.EvaluationError` if any
list differs beyond float ties (:mod:`.parity`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..conf import neural_feed_settings
from ..feeds import get_feed_config, profile_feed_chain
from . import history
from .catalogue import default_scope, load_catalogue
from .engine import FastEngine, Moment
from .history import HeldOutEvent, HistorySummary
from .impression_scores import ImpressionScorer
from .metrics import item_diversities, unit_rows
from .parity import compare
from .report import Report
from .state import ReplayState, load_events
from .workers import chunk_bounds, run_chunks, usable_workers

#: Held-out events whose similarities are computed in one matrix product.
BATCH = 64
#: Score-matrix cells (events x catalogue pages) scored together: 64 events at 5 000
#: pages, 16 at 32 000 (each matrix stays near 4 MB).
SCORE_CELLS = 2**19
#: Events always checked against SQL at the start of a run.
FIRST_CHECKS = 3
#: Rankers checked per checked event (with more, a window moves along them).
CHECK_RANKERS = 8


class FastReplay:
    """The fast engine's run for one :class:`~.replay.Replay`."""

    def __init__(self, replay, summary: HistorySummary) -> None:
        self.replay, self.summary = replay, summary
        base = summary.first_at
        self.catalogue = load_catalogue(base)
        self.log = load_events(base)
        self.state = ReplayState(
            self.catalogue,
            self.log,
            popularity_days=float(neural_feed_settings.POPULARITY_HALF_LIFE_DAYS),
            profile_days=float(neural_feed_settings.PROFILE_HALF_LIFE_DAYS),
        )
        config = replay.config
        chain = [
            config if slug == config.slug else get_feed_config(slug)
            for slug in profile_feed_chain(config)
        ]
        roots = {ranker.config.root_page_id for ranker in replay.rankers}
        self.engine = FastEngine(
            replay.rankers,
            self.state,
            k=replay.k,
            chain=[self.catalogue.profile_mask(c) for c in chain],
            default_scopes={root: default_scope(_rooted(config, root)) for root in roots},
        )
        self.impressions = (
            ImpressionScorer(self.engine, base, summary, replay.max_events)
            if replay.score_impressions
            else None
        )

    def unpublished(self, event: HeldOutEvent) -> list[int]:
        """Pages live at the start but first published after ``event`` (the check excludes
        them; the SQL engine hides them instead)."""
        published = self.catalogue.published
        later = self.catalogue.live & (published > self.log.time[event.seq - 1])
        return self.catalogue.page_ids[later].tolist()

    def run(self, report: Report, reference: Callable | None) -> None:
        """Rank every held-out event; ``reference(event)``: the SQL lists, for the check.
        With ``replay.workers`` > 1, contiguous chunks of events are ranked in worker
        processes (:mod:`.workers`) and added to ``report`` in time order."""
        workers = usable_workers(self.replay.workers)
        if len(chunk_bounds(self.summary.held_out, workers, BATCH)) > 1:
            events = list(history.held_out_events())
            if self.impressions is not None:
                self.impressions.materialise()  # the workers do not query the database
            bounds = chunk_bounds(len(events), workers, BATCH)
            run_chunks(self, events, bounds, BATCH, report, reference)
            return
        batch: list[HeldOutEvent] = []
        done = 0
        for event in history.held_out_events():
            batch.append(event)
            if len(batch) == BATCH:
                done = self.record(batch, *self.rank_batch(batch, report), done, report, reference)
                batch = []
        if batch:
            done = self.record(batch, *self.rank_batch(batch, report), done, report, reference)
        if self.impressions is not None:
            self.impressions.score_until(None, report)

    def skip_to(self, events: list[HeldOutEvent], start: int) -> None:
        """Bring the state to where one process has it before ``events[start]``: the
        counters moved one held-out event at a time, the impressions until then passed."""
        for event in events[:start]:
            self.state.advance(event.before)
        if start and self.impressions is not None:
            self.impressions.skip_until(events[start - 1].created_at)

    def rank_batch(self, events: list[HeldOutEvent], sink) -> tuple[list, list]:
        """Every ranker's list for each of ``events`` and each list's diversity;
        impressions shown before them are scored into ``sink`` (a report) on the way."""
        queries: list[np.ndarray] = []
        moments: list[Moment] = []
        for event in events:
            if self.impressions is not None:
                self.impressions.score_until(event.created_at, sink)
            self.state.advance(event.before)
            context = None
            if self.replay.context == "last":
                context = self.state.last_page(event.reader_id, event.before)
            moment = self.engine.moment(
                event.seq,
                event.reader_id,
                event.before,
                float(self.log.time[event.seq - 1]),
                self.state.counters,
                context,
                queries,
            )
            moments.append(moment)
            self.replay.observe(event, moment)
        similarities = self.engine.similarities(queries)
        rows = max(1, min(BATCH, SCORE_CELLS // max(len(self.catalogue), 1)))
        ranked_lists = [
            lists
            for start in range(0, len(moments), rows)
            for lists in self.engine.rank(moments[start : start + rows], similarities)
        ]
        # Each distinct list once (baselines often repeat one), from the listed pages'
        # unit vectors, each normalised once per batch.
        distinct: dict[bytes, int] = {}
        listed_items = [ranked.items for lists in ranked_lists for ranked in lists]
        which = [distinct.setdefault(items.tobytes(), len(distinct)) for items in listed_items]
        firsts = {number: items for number, items in zip(which, listed_items, strict=True)}
        every = [firsts[number] for number in range(len(distinct))]
        listed, inverse = np.unique(np.concatenate(every), return_inverse=True)
        units = unit_rows(self.catalogue.vectors[listed])
        bounds = np.cumsum([len(items) for items in every])[:-1]
        spreads = item_diversities(units, np.split(inverse, bounds))
        return ranked_lists, [spreads[number] for number in which]

    def record(self, events, ranked_lists, spread_all, done: int, report: Report, reference) -> int:
        """Add a batch's lists to ``report`` in order, check the chosen ones against SQL."""
        names = [ranker.name for ranker in self.replay.rankers]
        width = len(names)
        for number, (event, lists) in enumerate(zip(events, ranked_lists, strict=True)):
            spreads = spread_all[number * width : (number + 1) * width]
            for name, ranked, spread in zip(names, lists, spreads, strict=True):
                page_ids = self.catalogue.page_ids[ranked.items]
                report.add_ids(name, event.part, event.page_id, page_ids, spread)
            done += 1
            if reference is not None and self._checked(done):
                chosen = self._checked_rankers(done)
                rankers = [self.replay.rankers[i] for i in chosen]
                expected = reference(event, rankers=rankers)
                ours = [lists[i] for i in chosen]
                compare(event, rankers, self.catalogue.page_ids, ours, expected)
            if self.replay.progress is not None:
                self.replay.progress(done, self.summary.held_out)
        return done

    def _checked_rankers(self, done: int) -> list[int]:
        """All rankers, or (``--tune``'s many trials) the first and a window that moves
        along the others from one check to the next: every ranker is checked in turn."""
        count = len(self.replay.rankers)
        if count <= CHECK_RANKERS:
            return list(range(count))
        others = count - 1
        start = (done * (CHECK_RANKERS - 1)) % others
        return [0, *sorted({1 + (start + j) % others for j in range(CHECK_RANKERS - 1)})]

    def _checked(self, done: int) -> bool:
        every = self.replay.check_every
        return every > 0 and (done <= FIRST_CHECKS or done % every == 0)


def _rooted(config, root):
    """``config`` with another section (rankers of one replay may differ only there)."""
    return (
        config if config.root_page_id == root else type(config)(slug=config.slug, root_page_id=root)
    )
