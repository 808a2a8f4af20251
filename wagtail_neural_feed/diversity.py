"""Diversify a ranked list: maximal marginal relevance or a cap per section.

Both work on the few dozen rows the ranking statement returns, in Python:
the database has already done the expensive part.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from .ranking.rows import RankedRow
from .vectors import normalise

STEPLEN = 4  # characters per level of Wagtail's materialised tree path


def mmr(rows: Sequence[RankedRow], *, limit: int, lambda_: float) -> list[RankedRow]:
    """Pick rows balancing score (weight ``lambda_``) against similarity to rows already picked."""
    if len(rows) <= 1 or lambda_ >= 1.0:
        return list(rows[:limit])
    vectors = normalise(np.stack([row.embedding for row in rows]))
    # The hybrid score is on the same scale as cosine similarity for the
    # similarity part, which is what MMR's trade-off assumes.
    relevance = np.array([row.score for row in rows], dtype=np.float64)
    chosen: list[int] = []
    redundancy = np.full(len(rows), -np.inf)
    remaining = np.ones(len(rows), dtype=bool)
    while remaining.any() and len(chosen) < limit:
        penalty = np.where(np.isfinite(redundancy), redundancy, 0.0)
        value = lambda_ * relevance - (1 - lambda_) * penalty
        value[~remaining] = -np.inf
        best = int(np.argmax(value))
        chosen.append(best)
        remaining[best] = False
        redundancy = np.maximum(redundancy, vectors @ vectors[best])
    return [rows[i] for i in chosen]


def site_path_of(rows: Sequence[RankedRow], site_paths: Sequence[str]) -> str:
    """The site root (in the list's locale) the rows sit under."""
    for path in site_paths:
        if rows and rows[0].path.startswith(path):
            return path
    return rows[0].path[: STEPLEN * 2] if rows else ""


def section_of(path: str, base_path: str) -> str:
    """The section a page belongs to: its ancestor one level below ``base_path``."""
    return path[: len(base_path) + STEPLEN]


def cap_per_section(
    rows: Sequence[RankedRow], *, limit: int, cap: int, base_path: str
) -> list[RankedRow]:
    """At most ``cap`` rows per section, in rank order.

    When capping would leave the list short, the best of the held-back rows
    fill it: a reader expects a full list more than a perfectly spread one.
    """
    counts: Counter[str] = Counter()
    picked: list[RankedRow] = []
    held_back: list[RankedRow] = []
    for row in rows:
        section = section_of(row.path, base_path)
        if counts[section] < cap:
            counts[section] += 1
            picked.append(row)
        else:
            held_back.append(row)
        if len(picked) == limit:
            return picked
    picked.extend(held_back[: limit - len(picked)])
    return sorted(picked, key=lambda row: -row.score)
