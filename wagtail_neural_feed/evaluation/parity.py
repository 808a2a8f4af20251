"""The fast engine's check: its lists must be the SQL replay's, up to float ties.

The two compute the same score in different arithmetic (pgvector's float4
cosine, PostgreSQL's float8 functions; BLAS and numpy), so two pages whose
scores differ by a few units in the last places may swap. Anything else (a
different score at any rank, a different length) is a disagreement, and
the replay stops: its numbers would not be the real ranking's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..exceptions import EvaluationError
from ..ranking import RankedRow
from .history import HeldOutEvent

#: Scores this close (relative, at least absolute) count as tied.
TOLERANCE = 1e-5


def compare(
    event: HeldOutEvent,
    rankers: Sequence,
    page_ids: np.ndarray,
    fast_lists: Sequence,
    sql_lists: Sequence[Sequence[RankedRow]],
) -> None:
    """Raise :class:`EvaluationError` naming the event and both lists if any ranker differs.

    Random draws and co-read counts are integers: those lists must be identical.
    """
    for ranker, fast, sql in zip(rankers, fast_lists, sql_lists, strict=True):
        ours = [
            (int(page_ids[item]), float(score))
            for item, score in zip(fast.items, fast.scores, strict=True)
        ]
        theirs = [(row.page_id, row.score) for row in sql]
        exact = ranker.random or ranker.co_read
        if not (ours == theirs if exact else lists_agree(ours, theirs)):
            raise EvaluationError(
                f"The fast engine and the SQL ranking disagree on held-out event {event.seq} "
                f"(reader {event.reader_id}, page {event.page_id}, at {event.created_at}), "
                f"ranker {ranker.name!r}:\n  fast: {_format(ours)}\n  sql:  {_format(theirs)}\n"
                "Re-run with --engine sql for the real path alone, and please report this."
            )


def lists_agree(ours: Sequence[tuple[int, float]], theirs: Sequence[tuple[int, float]]) -> bool:
    """Same length and the same score at every rank. Then a page can differ only
    where the other list holds a page with (nearly) the same score: a tie."""
    if len(ours) != len(theirs):
        return False
    return all(
        abs(score - other) <= TOLERANCE * max(1.0, abs(score), abs(other))
        for (_, score), (_, other) in zip(ours, theirs, strict=True)
    )


def _format(rows: Sequence[tuple[int, float]]) -> str:
    return "[" + ", ".join(f"{page}: {score:.6f}" for page, score in rows) + "]"
