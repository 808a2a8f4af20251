"""How a list is shown complete: the bound, the proofs, and the fallback scans.

A mixin of :class:`~.statement.StatementBuilder`, kept apart because it is
the subtle half of the statement: the argument is in that module's docstring.
"""

from __future__ import annotations

from .scoring import hot_edge_bonus

#: When the hot tier's first k nearest pages cannot settle the list, read this
#: many times deeper into the tier before the (slower) range-scan fallback.
HOT_DEEPER_FACTOR = 4


class CompletenessMixin:
    """The CTEs that prove no page left out could have made the list, or find it."""

    def bound(self, name: str, source: str) -> None:
        """T (the pool-th best score of ``source``; -infinity while it cannot fill
        the pool) and the gap: the bonus a page outside the nearest k needs to beat T."""
        nearest = (
            "COALESCE((SELECT 1 - max(distance) FROM nearest), 1.0)"
            if self.vector is not None
            else "0.0"
        )
        self.cte(
            name,
            f"""SELECT t.score AS t, t.score - {self.weights.similarity!r} * {nearest} AS gap
        FROM (SELECT COALESCE((SELECT score FROM {source} ORDER BY score DESC
                               OFFSET {self.pool - 1} LIMIT 1), '-Infinity') AS score) t""",
        )

    def proof(
        self, name: str, bound: str, hot_source: str, hot_k: int, settled_by: str | None = None
    ) -> None:
        """Nothing outside ``hot_source`` and the seed can beat T: pages outside
        the tier have at most the edge bonus, tier pages beyond the ``hot_k``
        nearest are no more similar than the last of them, and every page
        changed since the refresh was read. ``settled_by`` names an earlier
        proof that, when it holds, settles this one too."""
        earlier = f"(SELECT holds FROM {settled_by}) OR " if settled_by else ""
        w = self.weights
        self.cte(
            name,
            f"""SELECT {earlier}b.gap >= %(hot_edge)s
           AND ((SELECT count(*) FROM {hot_source}) < {hot_k}
                OR b.t >= {w.similarity!r} * (SELECT 1 - max(distance) FROM {hot_source})
                          + {w.bonus_max!r})
           AND (SELECT count(*) FROM changed) < {self.window} AS holds
        FROM {bound} b""",
        )

    def hot_proofs(self, seeds: list[str]) -> tuple[str, str]:
        """Prove the seed complete, else read deeper into the tier and prove again.

        Returns (when the fallback runs, how the list was shown complete), as SQL.
        """
        self.params["hot_edge"] = hot_edge_bonus(
            self.config, self.scope, self.hot, self.now, self.weights
        )
        deeper = HOT_DEEPER_FACTOR * self.hot_k
        self.cte("seed", self.union(seeds))
        self.bound("seed_bound", "seed")
        self.proof("seed_proof", "seed_bound", "hot_nearest", self.hot_k)
        # Many tier pages close to the reader (a busy topic): read deeper into
        # the tier before falling back to the range scans.
        self.hot_search("hot_deeper", deeper, "NOT (SELECT holds FROM seed_proof)")
        self.cte("candidates", self.union([*seeds, "hot_deeper"]))
        self.bound("bound", "candidates")
        self.proof("deeper_proof", "bound", "hot_deeper", deeper, settled_by="seed_proof")
        completeness = """CASE WHEN (SELECT holds FROM seed_proof) THEN 'hot tier'
            WHEN (SELECT holds FROM deeper_proof) THEN 'hot tier, deeper'
            ELSE 'fallback' END"""
        return "NOT (SELECT holds FROM deeper_proof)", completeness

    def fallback_tails(self, run_fallback: str) -> list[str]:
        """Add the range scans for pages whose bonus alone beats the gap; returns their names."""
        w = self.weights
        tails = []
        if w.freshness > 0:
            # Freshness must exceed g (0..1): its share of the gap, and at least
            # what popularity cannot cover. That is: published after now - age(g).
            other = w.popularity if w.popularity_source else 0.0
            g = f"GREATEST(b.gap / {w.bonus_max!r}, (b.gap - {other!r}) / {w.freshness!r})"
            self.cte(
                "fresh_cutoff",
                f"""SELECT CASE WHEN g >= 1 THEN 'infinity'::timestamptz
                    WHEN g <= 0 THEN '-infinity'::timestamptz
                    ELSE %(now)s - make_interval(secs => %(fresh_seconds)s * ln(g) / -ln(2))
               END AS published_after
        FROM (SELECT {g} AS g FROM bound b) x""",
            )
            self.range_tail(
                "fresh_tail",
                self.joined,
                "e.first_published_at > (SELECT published_after FROM fresh_cutoff)",
                "e.first_published_at DESC",
                run_fallback,
            )
            tails.append("fresh_tail")
        if w.popularity_source and w.popularity > 0:
            g = f"GREATEST(b.gap / {w.bonus_max!r}, (b.gap - {w.freshness!r}) / {w.popularity!r})"
            # A stored counter only decays: popularity > g needs score > e^(g·norm) - 1.
            self.cte(
                "popular_cutoff",
                f"""SELECT CASE WHEN g >= 1 THEN 'Infinity'::float8
                    WHEN g <= 0 THEN 0.0::float8
                    ELSE exp(g * %(pop_norm)s) - 1
               END AS score_above
        FROM (SELECT {g} AS g FROM bound b) x""",
            )
            self.range_tail(
                "popular_tail",
                f"{self.popularity_table} p JOIN {self.table} e ON e.page_id = p.page_id",
                "p.score > (SELECT score_above FROM popular_cutoff)",
                "p.score DESC",
                run_fallback,
            )
            tails.append("popular_tail")
        return tails

    def range_tail(
        self, name: str, source: str, condition: str, order: str, run_fallback: str
    ) -> None:
        """Eligible pages not yet candidates whose bonus alone beats the gap,
        walked along an index (``order``) from where ``condition`` starts.

        Candidates are skipped with ``<> ALL(ARRAY(...))`` for the reason given
        in :meth:`hot_search`: under ``NOT IN`` the planner read a whole section
        by tree path and sorted it instead of walking the freshness index.
        """
        w = self.weights
        bonus = f"{w.freshness!r} * ({self.freshness}) + {w.popularity!r} * ({self.popularity})"
        self.cte(
            name,
            f"""SELECT {self.scored()} FROM {source}
        WHERE {run_fallback} AND {self.where}
          AND {condition}
          AND e.page_id <> ALL(ARRAY(SELECT page_id FROM candidates))
          AND {bonus} > (SELECT gap FROM bound)
        ORDER BY {order}
        LIMIT {self.window}""",
        )
