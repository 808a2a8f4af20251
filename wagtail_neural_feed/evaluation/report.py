"""Accumulating the metrics of many held-out events, per ranker and per split part.

Memory is bounded by the rankers and the catalogue (the set of pages each
ranker ever recommended, for coverage), not by the number of events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..ranking import RankedRow
from . import metrics

PARTS = ("validation", "test")


@dataclass
class Totals:
    """Running sums for one ranker over one part of the held-out events."""

    events: int = 0
    hits: float = 0.0
    ndcg: float = 0.0
    reciprocal_rank: float = 0.0
    diversity_sum: float = 0.0
    diversity_lists: int = 0
    pages: set[int] = field(default_factory=set)

    def add(self, target: int, rows: Sequence[RankedRow], k: int) -> None:
        vectors = [row.embedding for row in rows if row.embedding is not None]
        self.add_ids(target, [row.page_id for row in rows], vectors, k)

    def add_ids(
        self, target: int, ranked: Sequence[int], vectors, k: int, spread: float | None = None
    ) -> None:
        """One list by page ids; ``spread``: its diversity if known (else from ``vectors``)."""
        ranked = [int(page_id) for page_id in ranked]
        position = metrics.rank_of(target, ranked)
        self.events += 1
        self.hits += metrics.hit_rate(position, k)
        self.ndcg += metrics.ndcg(position, k)
        self.reciprocal_rank += metrics.reciprocal_rank(position, k)
        self.pages.update(ranked)
        if vectors is not None:
            spread = metrics.intra_list_diversity(vectors)
        if spread is not None:
            self.diversity_sum += spread
            self.diversity_lists += 1

    def merged(self, other: Totals) -> Totals:
        return Totals(
            events=self.events + other.events,
            hits=self.hits + other.hits,
            ndcg=self.ndcg + other.ndcg,
            reciprocal_rank=self.reciprocal_rank + other.reciprocal_rank,
            diversity_sum=self.diversity_sum + other.diversity_sum,
            diversity_lists=self.diversity_lists + other.diversity_lists,
            pages=self.pages | other.pages,
        )

    def summary(self, k: int, catalogue_size: int) -> dict[str, float | int | None]:
        n = self.events or 1
        return {
            "events": self.events,
            f"hit_rate@{k}": self.hits / n,
            f"ndcg@{k}": self.ndcg / n,
            f"mrr@{k}": self.reciprocal_rank / n,
            "coverage": metrics.coverage(self.pages, catalogue_size),
            "diversity": (
                self.diversity_sum / self.diversity_lists if self.diversity_lists else None
            ),
        }


@dataclass
class ImpressionTotals:
    """Running sums of the shown-list metrics (``metrics.impression_metrics``) of one ranker."""

    lists: int = 0
    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(IMPRESSION_COLUMNS, 0.0))

    def add(self, scores: Sequence[float], labels: Sequence[int]) -> None:
        values = metrics.impression_metrics(scores, labels)
        if values is None:
            return
        self.lists += 1
        for name in IMPRESSION_COLUMNS:
            self.sums[name] += values[name]

    def summary(self) -> dict[str, float | int]:
        n = self.lists or 1
        return {"lists": self.lists, **{name: self.sums[name] / n for name in IMPRESSION_COLUMNS}}


IMPRESSION_COLUMNS = ("auc", "mrr", "ndcg@5", "ndcg@10")


class Report:
    """Metrics of every ranker, for the validation and test halves and both together,
    and of the stored impressions when they are scored."""

    def __init__(self, rankers: Sequence[str], k: int) -> None:
        self.k = k
        self.names = list(rankers)
        self.totals = {(name, part): Totals() for name in self.names for part in PARTS}
        self.impressions = {name: ImpressionTotals() for name in self.names}

    def add(self, ranker: str, part: str, target: int, rows: Sequence[RankedRow]) -> None:
        self.totals[(ranker, part)].add(target, rows, self.k)

    def add_ids(
        self, ranker: str, part: str, target: int, ranked: Sequence[int], spread: float | None
    ) -> None:
        self.totals[(ranker, part)].add_ids(target, ranked, None, self.k, spread)

    def add_impression(self, ranker: str, scores: Sequence[float], labels: Sequence[int]) -> None:
        self.impressions[ranker].add(scores, labels)

    @property
    def impression_lists(self) -> int:
        return max((totals.lists for totals in self.impressions.values()), default=0)

    def impressions_dict(self) -> dict[str, dict]:
        return {name: self.impressions[name].summary() for name in self.names}

    def summary(self, ranker: str, catalogue_size: int, part: str | None = None) -> dict:
        if part is not None:
            return self.totals[(ranker, part)].summary(self.k, catalogue_size)
        both = self.totals[(ranker, PARTS[0])].merged(self.totals[(ranker, PARTS[1])])
        return both.summary(self.k, catalogue_size)

    def as_dict(self, catalogue_size: int) -> dict[str, dict]:
        return {name: self.summary(name, catalogue_size) for name in self.names}


def format_table(results: dict[str, dict], k: int, columns: Sequence[str] | None = None) -> str:
    """A plain-text table, one ranker a row."""
    if columns is None:
        columns = [f"hit_rate@{k}", f"ndcg@{k}", f"mrr@{k}", "coverage", "diversity"]
    width = max([len(name) for name in results] + [6])
    lines = [f"{'ranker':<{width}}  " + "  ".join(f"{c:>10}" for c in columns)]
    for name, values in results.items():
        cells = ["         -" if values[c] is None else f"{values[c]:>10.4f}" for c in columns]
        lines.append(f"{name:<{width}}  " + "  ".join(cells))
    return "\n".join(lines)
