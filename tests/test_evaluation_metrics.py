"""The evaluation's metrics on hand-checked fixtures: known ranks give known values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wagtail_neural_feed.evaluation import metrics


@pytest.mark.parametrize(
    ("rank", "k", "hit", "ndcg", "rr"),
    [
        (1, 10, 1.0, 1.0, 1.0),
        (2, 10, 1.0, 1 / math.log2(3), 0.5),
        (3, 10, 1.0, 0.5, 1 / 3),  # log2(4) = 2
        (7, 10, 1.0, 1 / 3, 1 / 7),  # log2(8) = 3
        (10, 10, 1.0, 1 / math.log2(11), 0.1),
        (11, 10, 0.0, 0.0, 0.0),
        (None, 10, 0.0, 0.0, 0.0),
        (3, 2, 0.0, 0.0, 0.0),
    ],
)
def test_rank_metrics(rank, k, hit, ndcg, rr):
    assert metrics.hit_rate(rank, k) == hit
    assert metrics.ndcg(rank, k) == pytest.approx(ndcg)
    assert metrics.reciprocal_rank(rank, k) == pytest.approx(rr)


def test_rank_of():
    assert metrics.rank_of(5, [9, 5, 1]) == 2
    assert metrics.rank_of(4, [9, 5, 1]) is None


def test_auc_counts_pairs_and_ties():
    # Positives 0.9 and 0.4; negatives 0.5, 0.1: pairs won 2 + 1 of 4.
    assert metrics.auc([0.9, 0.5, 0.4, 0.1], [1, 0, 1, 0]) == pytest.approx(0.75)
    assert metrics.auc([0.5, 0.5], [1, 0]) == pytest.approx(0.5)
    assert metrics.auc([0.1, 0.9], [1, 0]) == 0.0
    assert metrics.auc([0.1, 0.9], [1, 1]) is None


def test_impression_metrics_like_mind():
    # Ordered by score: c(0) a(1) d(0) b(1) -> clicked at ranks 2 and 4.
    scores = [0.8, 0.3, 0.9, 0.5]
    labels = [1, 1, 0, 0]
    result = metrics.impression_metrics(scores, labels)
    assert result["auc"] == pytest.approx(0.25)  # of 4 pairs only 0.8 > 0.5 wins
    assert result["mrr"] == pytest.approx((1 / 2 + 1 / 4) / 2)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3)
    assert result["ndcg@5"] == pytest.approx(dcg / idcg)
    assert result["ndcg@10"] == pytest.approx(dcg / idcg)
    assert metrics.impression_metrics([0.1, 0.2], [0, 0]) is None


def test_coverage():
    assert metrics.coverage([1, 2, 2, 3], 10) == pytest.approx(0.3)
    assert metrics.coverage([], 0) == 0.0


def test_intra_list_diversity():
    x, y = np.array([1.0, 0.0]), np.array([0.0, 2.0])
    assert metrics.intra_list_diversity([x, y]) == pytest.approx(1.0)  # orthogonal
    assert metrics.intra_list_diversity([x, x]) == pytest.approx(0.0)
    # Pairs: (x,y)=1, (x,-x)=2, (y,-x)=1 -> mean 4/3.
    assert metrics.intra_list_diversity([x, y, -x]) == pytest.approx(4 / 3)
    assert metrics.intra_list_diversity([x]) is None
