"""Ranking metrics, as pure functions of ranks and lists (no database).

Ranks are 1-based; ``None`` means the held-out page was not in the list.
With one relevant page per held-out event the ideal DCG is 1, so NDCG@K is
``1 / log2(rank + 1)`` inside the top K and 0 outside.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np


def hit_rate(rank: int | None, k: int) -> float:
    """1.0 when the relevant page is in the top ``k``."""
    return 1.0 if rank is not None and 1 <= rank <= k else 0.0


def ndcg(rank: int | None, k: int) -> float:
    """NDCG@k of a list holding one relevant page at ``rank``."""
    if rank is None or not 1 <= rank <= k:
        return 0.0
    return 1.0 / math.log2(rank + 1)


def reciprocal_rank(rank: int | None, k: int | None = None) -> float:
    """1/rank (0 when absent, or below ``k`` when given): averaged, the MRR."""
    if rank is None or rank < 1 or (k is not None and rank > k):
        return 0.0
    return 1.0 / rank


def rank_of(page_id: int, ranked: Sequence[int]) -> int | None:
    """The 1-based position of ``page_id`` in ``ranked``, or None."""
    try:
        return list(ranked).index(page_id) + 1
    except ValueError:
        return None


def auc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """Area under the ROC curve: the chance a clicked item outscores a shown-but-not-clicked
    one (ties count half). None when the list has no positive or no negative."""
    positives = [s for s, label in zip(scores, labels, strict=True) if label]
    negatives = [s for s, label in zip(scores, labels, strict=True) if not label]
    if not positives or not negatives:
        return None
    wins = 0.0
    for p in positives:
        for n in negatives:
            wins += 1.0 if p > n else 0.5 if p == n else 0.0
    return wins / (len(positives) * len(negatives))


def impression_metrics(scores: Sequence[float], labels: Sequence[int]) -> dict[str, float] | None:
    """Score one shown list the way public news benchmarks do (MIND): AUC, MRR, nDCG@5/10.

    The list is re-ordered by ``scores``; every clicked item is relevant. MRR
    here is the mean of 1/rank over the clicked items. None without both a
    click and a non-click.
    """
    area = auc(scores, labels)
    if area is None:
        return None
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    ranked = [labels[i] for i in order]
    clicked_ranks = [position + 1 for position, label in enumerate(ranked) if label]
    mrr = sum(1.0 / r for r in clicked_ranks) / len(clicked_ranks)
    return {
        "auc": area,
        "mrr": mrr,
        "ndcg@5": _multi_ndcg(ranked, 5),
        "ndcg@10": _multi_ndcg(ranked, 10),
    }


def _multi_ndcg(ranked_labels: Sequence[int], k: int) -> float:
    dcg = sum(label / math.log2(i + 2) for i, label in enumerate(ranked_labels[:k]))
    ideal = sorted(ranked_labels, reverse=True)
    idcg = sum(label / math.log2(i + 2) for i, label in enumerate(ideal[:k]))
    return dcg / idcg if idcg > 0 else 0.0


def coverage(recommended: Iterable[int], catalogue_size: int) -> float:
    """Share of the catalogue that appeared in at least one list."""
    if catalogue_size <= 0:
        return 0.0
    return len(set(recommended)) / catalogue_size


def intra_list_diversity(vectors: Sequence[np.ndarray]) -> float | None:
    """Mean cosine distance (1 - cosine) over the pairs of a list; None below two items."""
    if len(vectors) < 2:
        return None
    matrix = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit = matrix / norms
    cosine = unit @ unit.T
    n = len(vectors)
    pair_sum = (cosine.sum() - np.trace(cosine)) / 2
    pairs = n * (n - 1) / 2
    return float(1.0 - pair_sum / pairs)


def intra_list_diversities(lists: Sequence[np.ndarray]) -> list[float | None]:
    """:func:`intra_list_diversity` of many lists (matrices of row vectors) at once:
    one batched product per list length."""
    result: list[float | None] = [None] * len(lists)
    by_length: dict[int, list[int]] = {}
    for index, vectors in enumerate(lists):
        if len(vectors) >= 2:
            by_length.setdefault(len(vectors), []).append(index)
    for n, members in by_length.items():
        stack = np.stack([np.asarray(lists[i], dtype=np.float64) for i in members])
        _pair_diversities(unit_rows(stack), members, n, result)
    return result


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """``vectors`` (the last axis) scaled to unit length in float64; zero rows stay zero."""
    matrix = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


def item_diversities(units: np.ndarray, lists: Sequence[np.ndarray]) -> list[float | None]:
    """:func:`intra_list_diversities` of lists of row numbers into ``units``
    (:func:`unit_rows` of a catalogue, computed once): the same values, without
    converting and normalising every listed vector again."""
    result: list[float | None] = [None] * len(lists)
    by_length: dict[int, list[int]] = {}
    for index, items in enumerate(lists):
        if len(items) >= 2:
            by_length.setdefault(len(items), []).append(index)
    for n, members in by_length.items():
        rows = np.stack([lists[i] for i in members])
        _pair_diversities(units[rows], members, n, result)
    return result


def _pair_diversities(unit: np.ndarray, members: list[int], n: int, result: list) -> None:
    """1 - the mean cosine over the pairs of each list of ``unit`` (lists, n, dimensions)."""
    cosine = unit @ unit.transpose(0, 2, 1)
    pair_sums = (cosine.sum(axis=(1, 2)) - np.trace(cosine, axis1=1, axis2=2)) / 2
    for i, value in zip(members, 1.0 - pair_sums / (n * (n - 1) / 2), strict=True):
        result[i] = float(value)
