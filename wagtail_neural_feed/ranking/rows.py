"""A built ranking statement and the rows it returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..statements import parse_vector, run_statement


@dataclass
class RankedRow:
    page_id: int
    content_type_id: int
    path: str
    similarity: float
    freshness: float
    popularity: float
    score: float
    embedding: np.ndarray | None = field(default=None, repr=False)
    #: How the list was shown complete: "hot tier" (the bound held), "fallback"
    #: (the range scans ran), "exact" (a small site, every page scored), or ""
    #: (no bonus to account for).
    completeness: str = ""
    #: The page's own columns, when the statement ran with them joined
    #: (:func:`~.fetch.execute_with_pages`); :func:`~.fetch.fetch_pages` reads them.
    page_columns: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def from_row(cls, row: Sequence) -> RankedRow:
        """A row of a ranking statement (binary results): the columns ``final()`` selects."""
        return cls(
            page_id=row[0],
            content_type_id=row[1],
            path=row[2],
            similarity=float(row[3]),
            freshness=float(row[4]),
            popularity=float(row[5]),
            score=float(row[6]),
            completeness=row[7] or "",
            embedding=parse_vector(row[8]) if len(row) > 8 else None,
        )


@dataclass
class RankingStatement:
    """The SQL of one list's ranking and its parameters."""

    sql: str
    params: dict

    def execute(self) -> list[RankedRow]:
        rows = run_statement(self.sql, self.params, binary=True)
        return [RankedRow.from_row(row) for row in rows]

    def explain(self, *, analyze: bool = True) -> str:
        """PostgreSQL's plan for this statement (``EXPLAIN [ANALYZE, BUFFERS]``)."""
        options = "ANALYZE, BUFFERS, " if analyze else ""
        rows = run_statement(
            f"EXPLAIN ({options}FORMAT TEXT) {self.sql}", self.params, prepare=False
        )
        return "\n".join(line for (line,) in rows)
