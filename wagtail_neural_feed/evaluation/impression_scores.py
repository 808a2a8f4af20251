"""Scoring the stored impressions: each shown list re-ordered by every ranker's score.

For each :class:`~wagtail_neural_feed.models.Impression` (the pages a reader
was shown, in order, and the ones they followed; rendered lists, or MIND's
impression logs imported by :mod:`.mind`), every shown page gets each
ranker's score as of the list's time, from the state strictly before it
(the list's own clicks are interactions at that time, so they are not in
it), and the list is scored the way public news benchmarks score them:
AUC, MRR, nDCG@5 and @10 (:func:`.metrics.impression_metrics`).

The scores are the ranking's own terms for those pages, without its filters:
the pages were shown, whatever the feed would have listed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import numpy as np

from ..models import Impression
from .engine import FastEngine, Moment, freshness
from .history import HistorySummary
from .rankers import random_draws
from .report import Report

CHUNK = 2000


class ImpressionScorer:
    """The impressions of the evaluated period, in time order, scored as the replay passes."""

    def __init__(
        self, engine: FastEngine, base: datetime, summary: HistorySummary, limit: int | None
    ) -> None:
        self.engine, self.base = engine, base
        self.since = summary.cutoff or summary.first_at
        self.rows = _impressions(self.since, limit)
        self.pending = next(self.rows, None)

    def score_until(self, until: datetime | None, report: Report) -> None:
        """Score the impressions shown at or before ``until`` (None: all that are left)."""
        while self.pending is not None and (until is None or self.pending[2] <= until):
            self._score(*self.pending, report)
            self.pending = next(self.rows, None)

    def materialise(self) -> None:
        """Read the rest of the impressions now (worker processes cannot query)."""
        rest = list(self.rows)
        self.rows = iter(rest)

    def skip_until(self, until: datetime) -> None:
        """Pass over the impressions shown at or before ``until`` (scored elsewhere)."""
        while self.pending is not None and self.pending[2] <= until:
            self.pending = next(self.rows, None)

    def _score(self, list_id, reader, shown_at, page_ids, clicked, context, report) -> None:
        engine, state = self.engine, self.engine.state
        now = (shown_at - self.base).total_seconds()
        before = int(np.searchsorted(state.log.time, now, side="left"))
        items = engine.catalogue.index_of(page_ids)
        shown = np.asarray(page_ids, dtype=np.int64)[items >= 0]
        items = items[items >= 0]
        labels = [int(page_id in set(clicked)) for page_id in shown.tolist()]
        if not 0 < sum(labels) < len(labels):
            return
        queries: list[np.ndarray] = []
        moment = engine.moment(
            list_id, reader, before, now, state.counters_at(before), context, queries
        )
        for ranker, scores in zip(
            engine.rankers, item_scores(engine, moment, items, queries), strict=True
        ):
            report.add_impression(ranker.name, scores.tolist(), labels)


def item_scores(
    engine: FastEngine, moment: Moment, items: np.ndarray, queries: list[np.ndarray]
) -> list[np.ndarray]:
    """Each ranker's score of ``items`` at ``moment`` (random: a draw; co-read: counts)."""
    catalogue = engine.catalogue
    vectors = catalogue.vectors[items].astype(np.float64)
    similarities = []
    for query in queries:
        query = np.asarray(query, dtype=np.float32).astype(np.float64)
        norms = catalogue.norms[items] * np.linalg.norm(query)
        similarities.append(
            np.divide(vectors @ query, norms, out=np.zeros(len(items)), where=norms > 0)
        )
    co_read = None
    result = []
    for index, ranker in enumerate(engine.rankers):
        if ranker.random:
            result.append(-random_draws(catalogue.page_ids[items], moment.seq).astype(float))
            continue
        if ranker.co_read:
            if co_read is None:
                co_read = _co_read_counts(engine, moment, items)
            result.append(co_read)
            continue
        w, column = moment.weights[index], moment.columns[index]
        similarity = similarities[column] if column >= 0 else 0.0
        fresh = freshness(catalogue.published[items], moment.now, engine.fresh_seconds[index])
        popular = moment.popularity[engine.pop_seconds[index]][items]
        result.append(w.similarity * similarity + w.freshness * fresh + w.popularity * popular)
    return result


def _co_read_counts(engine: FastEngine, moment: Moment, items: np.ndarray) -> np.ndarray:
    counts = np.zeros(len(items))
    anchor = engine.state.last_page(moment.reader, moment.before)
    if anchor is None:
        return counts
    found, readers = engine.state.co_reads(anchor, moment.reader, moment.before)
    lookup = dict(zip(found.tolist(), readers.tolist(), strict=True))
    return np.array([lookup.get(int(item), 0) for item in items], dtype=float)


def _impressions(since: datetime | None, limit: int | None) -> Iterator[tuple]:
    """(id, reader, shown at, shown pages, clicked pages, context page), in time order."""
    queryset = Impression.objects.all()
    if since is not None:
        queryset = queryset.filter(shown_at__gt=since)
    if limit is not None:
        edge = (
            queryset.order_by("-shown_at", "-id").values_list("shown_at", flat=True)[limit - 1 :]
        ).first()
        if edge is not None:
            queryset = queryset.filter(shown_at__gte=edge)
    fields = ("id", "reader_id", "shown_at", "page_ids", "clicked_page_ids", "context_page_id")
    yield from queryset.order_by("shown_at", "id").values_list(*fields).iterator(chunk_size=CHUNK)
