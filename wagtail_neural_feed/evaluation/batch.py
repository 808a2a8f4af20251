"""Batched pieces of the fast engine: masks, terms and the top of many lists at once.

Each function works on a batch of events at a time (one row an event, one
column a catalogue page), so numpy's per-call cost is paid per batch, not
per event and ranker.
"""

from __future__ import annotations

import numpy as np

#: Below this, a row's top is read from every candidate (ties by page id included).
NO_SCORE = -np.inf
LOWEST = -np.finfo(np.float64).max


def freshness_rows(published: np.ndarray, now: np.ndarray, seconds: float) -> np.ndarray:
    """``FRESHNESS_SQL`` for every page at each row's time: exp(-ln2·age/half-life),
    clamped at exp(-700), 0 without a publication time."""
    # In place, the same operations in the same order as ``FRESHNESS_SQL``.
    value = np.subtract(now[:, None], published[None, :])
    np.maximum(0.0, value, out=value)
    np.multiply(-np.log(2), value, out=value)
    np.divide(value, seconds, out=value)
    np.maximum(-700.0, value, out=value)
    np.exp(value, out=value)
    np.copyto(value, 0.0, where=np.isnan(published)[None, :])
    return value


def top_rows(scores: np.ndarray, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per row: the positions of the ``count`` best scores above ``NO_SCORE`` and their
    scores, best first, ties by position (page id), as ``ORDER BY score DESC, page_id``.

    Exact without partitioning every row: a row's ``count``-th best score is at least
    its threshold (:func:`thresholds`), so only the scores at or above it are sorted.
    """
    rows, size = scores.shape
    if size == 0 or count <= 0:
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0))
        return [empty] * rows
    # At least the lowest finite score: NO_SCORE never passes (one comparison).
    floor = np.maximum(thresholds(scores, count), LOWEST)
    row, position = np.nonzero(scores >= floor[:, None])
    values = scores[row, position]
    order = np.lexsort((position, -values, row))
    row, position, values = row[order], position[order], values[order]
    starts = np.searchsorted(row, np.arange(rows))
    ends = np.minimum(np.searchsorted(row, np.arange(rows), side="right"), starts + count)
    return [
        (position[start:end], values[start:end])
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True)
    ]


def thresholds(scores: np.ndarray, count: int) -> np.ndarray:
    """Per row, a score that at least ``count`` of its scores reach: the ``count``-th
    largest of the maxima of ``4 * count`` or so blocks of the row (each of the ``count``
    best blocks holds one score at least that high). ``NO_SCORE`` when the row is short."""
    rows, size = scores.shape
    width = max(8, size // (4 * count))
    blocks = size // width
    if blocks < count:
        return np.full(rows, NO_SCORE)
    maxima = scores[:, : blocks * width].reshape(rows, blocks, width).max(axis=2)
    return np.partition(maxima, blocks - count, axis=1)[:, blocks - count]
