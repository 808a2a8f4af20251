"""Batched pieces of the fast engine: masks, terms and the top of many lists at once.

Each function works on a batch of events at a time (one row an event, one
column a catalogue page), so numpy's per-call cost is paid per batch, not
per event and ranker.
"""

from __future__ import annotations

import numpy as np

#: Below this, a row's top is read from every candidate (ties by page id included).
NO_SCORE = -np.inf


def freshness_rows(published: np.ndarray, now: np.ndarray, seconds: float) -> np.ndarray:
    """``FRESHNESS_SQL`` for every page at each row's time: exp(-ln2·age/half-life),
    clamped at exp(-700), 0 without a publication time."""
    age = np.maximum(0.0, now[:, None] - published[None, :])
    value = np.exp(np.maximum(-700.0, -np.log(2) * age / seconds))
    return np.where(np.isnan(published)[None, :], 0.0, value)


def top_rows(scores: np.ndarray, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per row: the positions of the ``count`` best scores above ``NO_SCORE`` and their
    scores, best first, ties by position (page id), as ``ORDER BY score DESC, page_id``."""
    rows, size = scores.shape
    if size == 0 or count <= 0:
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0))
        return [empty] * rows
    crowded = np.zeros(rows, dtype=bool)
    if size > count:
        # One more than needed: if it equals the last one kept, a tie crosses
        # the edge and argpartition chose among equals (the lowest ids must win).
        part = np.argpartition(-scores, count, axis=1)[:, : count + 1]
        values = np.take_along_axis(scores, part, axis=1)
        edge = values[:, count]
        part, values = part[:, :count], values[:, :count]
        threshold = values.min(axis=1)
        crowded = (edge == threshold) & (edge > NO_SCORE)
    else:
        part = np.broadcast_to(np.arange(size), (rows, size))
        values = scores
        threshold = values.min(axis=1)
    order = np.lexsort((part, -values), axis=-1)
    part = np.take_along_axis(part, order, axis=1)
    values = np.take_along_axis(values, order, axis=1)
    result = []
    for row in range(rows):
        if crowded[row]:
            candidates = np.flatnonzero(scores[row] >= threshold[row])
            ranked = candidates[np.lexsort((candidates, -scores[row][candidates]))][:count]
            chosen, chosen_scores = ranked, scores[row][ranked]
        else:
            chosen, chosen_scores = part[row], values[row]
        keep = chosen_scores > NO_SCORE
        result.append((chosen[keep], chosen_scores[keep]))
    return result
