"""The fast engine's top of each list: exactly ORDER BY score DESC, page id, LIMIT n."""

from __future__ import annotations

import numpy as np
import pytest

from wagtail_neural_feed.evaluation.batch import NO_SCORE, top_rows


def _top_by_sorting(row: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """ORDER BY score DESC, position LIMIT count, scores above NO_SCORE: the whole row."""
    order = np.lexsort((np.arange(len(row)), -row))
    order = order[row[order] > NO_SCORE][:count]
    return order, row[order]


@pytest.mark.parametrize("kind", ["distinct", "few values", "mostly ineligible", "short"])
def test_top_rows_is_the_sorted_top_with_ties_by_position(kind):
    """The threshold shortcut (only scores at or above it are sorted) changes nothing."""
    rng = np.random.default_rng(len(kind))
    for _ in range(40):
        rows, size = int(rng.integers(1, 12)), int(rng.integers(1, 2500))
        count = int(rng.integers(1, 60))
        if kind == "distinct":
            scores = rng.random((rows, size))
        elif kind == "few values":  # ties everywhere, across the edge of the top
            scores = rng.integers(0, 4, (rows, size)).astype(np.float64)
        elif kind == "mostly ineligible":
            scores = rng.random((rows, size))
            scores[rng.random((rows, size)) < 0.97] = NO_SCORE
        else:
            scores = rng.random((rows, min(size, count)))
        scores[0, : size // 3] = NO_SCORE
        for row, (items, values) in zip(scores, top_rows(scores, count), strict=True):
            expected_items, expected_values = _top_by_sorting(row, count)
            assert np.array_equal(items, expected_items)
            assert np.array_equal(values, expected_values)
