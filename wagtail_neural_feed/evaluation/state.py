"""The fast engine's replay state: the whole history in arrays, the state as of any event.

The history is read once from the replay's temporary table (:mod:`.history`),
in time order. Everything the ranking reads about the past is a function of
a prefix of it (events ``1 .. before``, those strictly earlier than the
event ranked):

* the popularity counters, kept incrementally exactly as the SQL replay keeps
  them (a decayed sum per page, referenced to its last batch's time; one
  batch per held-out event, :func:`.history.replay_events`);
* a reader's already-read pages, last page and profile (folded by the
  profiles module's maths from the reader's prefix), read from per-reader
  slices;
* "readers of this also read" counts, from per-page and per-reader slices.

Memory: about 60 bytes per interaction, plus the counters per page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from ..statements import run_statement
from ..vectors import has_direction, normalise
from .catalogue import Catalogue
from .history import EVENTS_TABLE

#: Events read from the temporary table per statement.
LOAD_CHUNK = 100_000


@dataclass
class EventLog:
    """Every interaction of the replay, by ``seq`` (``seq`` n is row n - 1)."""

    reader: np.ndarray
    page: np.ndarray
    weight: np.ndarray
    time: np.ndarray  # seconds after the replay's base time

    def __len__(self) -> int:
        return len(self.reader)


def load_events(base: datetime) -> EventLog:
    """The whole history from the temporary table, a chunk at a time."""
    parts: list[list[tuple]] = []
    last = 0
    while True:
        rows = run_statement(
            f"""SELECT seq, reader_id, page_id, weight,
                extract(epoch FROM created_at - %(base)s::timestamptz)::float8
            FROM {EVENTS_TABLE} WHERE seq > %(last)s ORDER BY seq LIMIT %(chunk)s""",
            {"base": base, "last": last, "chunk": LOAD_CHUNK},
        )
        if not rows:
            break
        parts.append(rows)
        last = rows[-1][0]
    rows = [row for part in parts for row in part]
    return EventLog(
        reader=np.array([row[1] for row in rows], dtype=np.int64),
        page=np.array([row[2] for row in rows], dtype=np.int64),
        weight=np.array([row[3] for row in rows], dtype=np.float64),
        time=np.array([row[4] for row in rows], dtype=np.float64),
    )


class Counters:
    """Popularity counters over every page read: score at its own reference time."""

    def __init__(self, size: int, half_life: float) -> None:
        self.score = np.zeros(size)
        self.at = np.zeros(size)
        self.has = np.zeros(size, dtype=bool)
        self.half_life = half_life
        #: The largest stored counter (the ranking's normaliser), at least 0.
        self.maximum = 0.0

    def copy(self) -> Counters:
        twin = Counters(0, self.half_life)
        twin.score, twin.at, twin.has = self.score.copy(), self.at.copy(), self.has.copy()
        twin.maximum = self.maximum
        return twin

    def add(self, pages: np.ndarray, weights: np.ndarray, times: np.ndarray) -> None:
        """One batch: each page's counter decayed to the batch's last time, plus its reads."""
        if len(pages) == 0:
            return
        at = times[-1]
        contributions = weights * np.power(2.0, -(at - times) / self.half_life)
        touched, inverse = np.unique(pages, return_inverse=True)
        sums = np.bincount(inverse, weights=contributions)
        old = np.where(
            self.has[touched],
            self.score[touched] * np.power(2.0, -(at - self.at[touched]) / self.half_life),
            0.0,
        )
        self.score[touched] = old + sums
        self.at[touched] = at
        self.has[touched] = True
        self.maximum = max(float(self.score[self.has].max()), 0.0)

    def terms(self, pages: np.ndarray, now: float, seconds: float) -> np.ndarray:
        """The ranking's popularity term of ``pages`` at ``now`` (``POPULARITY_SQL``)."""
        if self.maximum <= 0:
            return np.zeros(len(pages))
        age = np.maximum(0.0, now - self.at[pages])
        decayed = self.score[pages] * np.exp(np.maximum(-700.0, -np.log(2) * age / seconds))
        term = np.minimum(1.0, np.log1p(np.maximum(0.0, decayed)) / np.log1p(self.maximum))
        return np.where(self.has[pages], term, 0.0)


class ReplayState:
    """The state as of a prefix of the history; the counters move forward only."""

    def __init__(
        self, catalogue: Catalogue, log: EventLog, *, popularity_days: float, profile_days: float
    ) -> None:
        self.catalogue, self.log = catalogue, log
        pages = np.unique(np.concatenate([catalogue.page_ids, log.page]))
        #: The page id of each counter.
        self.pages = pages
        self.event_page = np.searchsorted(pages, log.page)  # index into the counters
        self.catalogue_counter = np.searchsorted(pages, catalogue.page_ids)
        in_catalogue = np.full(len(pages), -1, dtype=np.int64)
        in_catalogue[self.catalogue_counter] = np.arange(len(catalogue))
        #: Each event's page in the catalogue (-1: not ready / not embedded).
        self.event_item = in_catalogue[self.event_page]
        self.counters = Counters(len(pages), popularity_days * 86400.0)
        self.profile_seconds = profile_days * 86400.0
        self.applied = 0
        self._last_lookup: tuple = (None, None)
        seq = np.arange(1, len(log) + 1, dtype=np.int64)
        self.by_reader = _Slices(log.reader, seq)
        # Each reader's first interaction with each page: co-reads count readers.
        order = np.lexsort((seq, log.page, log.reader))
        new = np.ones(len(order), dtype=bool)
        new[1:] = (np.diff(log.reader[order]) != 0) | (np.diff(log.page[order]) != 0)
        self.firsts = np.sort(order[new])
        self.first_by_reader = _Slices(log.reader[self.firsts], seq[self.firsts])
        self.first_by_page = _Slices(log.page[self.firsts], seq[self.firsts])

    def advance(self, upto: int) -> None:
        """Fold events ``applied+1 .. upto`` into the counters as one batch."""
        if upto > self.applied:
            batch = slice(self.applied, upto)
            self.counters.add(self.event_page[batch], self.log.weight[batch], self.log.time[batch])
            self.applied = upto

    def counters_at(self, before: int) -> Counters:
        """The counters as they would be with events up to ``before`` applied (a copy)."""
        if before < self.applied:
            raise ValueError("The counters only move forward; this moment has passed.")
        if before == self.applied:
            return self.counters
        twin = self.counters.copy()
        batch = slice(self.applied, before)
        twin.add(self.event_page[batch], self.log.weight[batch], self.log.time[batch])
        return twin

    def reader_events(self, reader: int, before: int) -> np.ndarray:
        """Row numbers of the reader's events among ``1 .. before``, in time order."""
        if self._last_lookup[0] != (reader, before):
            self._last_lookup = ((reader, before), self.by_reader.rows(reader, before))
        return self._last_lookup[1]

    def read_items(self, reader: int, before: int) -> np.ndarray:
        items = self.event_item[self.reader_events(reader, before)]
        return items[items >= 0]

    def last_page(self, reader: int, before: int) -> int | None:
        rows = self.reader_events(reader, before)
        return int(self.log.page[rows[-1]]) if len(rows) else None

    def profile(self, reader: int, before: int, chain: list[np.ndarray | None]):
        """The first profile with a direction along the feed's chain (``profile_vector``)."""
        rows = self.reader_events(reader, before)
        items = self.event_item[rows]
        rows, items = rows[items >= 0], items[items >= 0]
        for accepts in chain:
            kept_rows, kept_items = rows, items
            if accepts is not None:
                keep = accepts[items]
                kept_rows, kept_items = rows[keep], items[keep]
            if not len(kept_rows):
                continue
            times, weights = self.log.time[kept_rows], self.log.weight[kept_rows]
            coefficients = weights * np.power(2.0, -(times[-1] - times) / self.profile_seconds)
            total = coefficients @ self.catalogue.vectors[kept_items].astype(np.float64)
            if has_direction(total):
                return normalise(total)
        return None

    def co_reads(self, anchor: int, reader: int, before: int) -> tuple[np.ndarray, np.ndarray]:
        """(catalogue items, distinct other readers who read the item and ``anchor``), before."""
        others = self.log.reader[self.firsts[self.first_by_page.rows(anchor, before)]]
        others = others[others != reader]
        if len(others) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        rows = self.firsts[self.first_by_reader.rows_of_many(others, before)]
        items = self.event_item[rows]
        items = items[(items >= 0) & (self.log.page[rows] != anchor)]
        counts = np.bincount(items, minlength=len(self.catalogue))
        found = np.flatnonzero(counts)
        return found, counts[found]


class _Slices:
    """Row numbers grouped by a key (reader or page), each group in ``seq`` order."""

    def __init__(self, keys: np.ndarray, seq: np.ndarray) -> None:
        order = np.lexsort((seq, keys))
        self.rows_sorted = order
        self.seq_sorted = seq[order]
        self.keys, starts, counts = np.unique(keys[order], return_index=True, return_counts=True)
        self.starts, self.ends = starts, starts + counts
        #: key -> (start, end) of its rows: one dict lookup per event.
        self.spans = dict(
            zip(
                self.keys.tolist(),
                zip(starts.tolist(), self.ends.tolist(), strict=True),
                strict=True,
            )
        )
        self.span = int(seq.max()) + 1 if len(seq) else 1
        rank = np.repeat(np.arange(len(self.keys)), counts)
        self.composite = rank * self.span + self.seq_sorted

    def _ranks(self, keys: np.ndarray) -> np.ndarray:
        found = np.searchsorted(self.keys, keys)
        found = np.minimum(found, max(len(self.keys) - 1, 0))
        return np.where(self.keys[found] == keys, found, -1) if len(self.keys) else found - 1

    def rows(self, key: int, before: int) -> np.ndarray:
        span = self.spans.get(int(key))
        if span is None:
            return np.zeros(0, dtype=np.int64)
        start, end = span
        stop = start + int(np.searchsorted(self.seq_sorted[start:end], before, side="right"))
        return self.rows_sorted[start:stop]

    def rows_of_many(self, keys: np.ndarray, before: int) -> np.ndarray:
        """Row numbers of every key's events among ``1 .. before``."""
        ranks = self._ranks(keys)
        ranks = ranks[ranks >= 0]
        starts = self.starts[ranks]
        stops = np.searchsorted(self.composite, ranks * self.span + before, side="right")
        lengths = np.maximum(stops - starts, 0)
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        return self.rows_sorted[np.arange(int(lengths.sum())) + offsets]
