"""How a list is shown complete: the bound, the proofs, and the fallback scans.

A mixin of :class:`~.statement.StatementBuilder`, kept apart because it is
the subtle half of the statement: the argument is in that module's docstring.
"""

from __future__ import annotations

import math

from ..models import HotPage
from ..statements import table_name
from .scoring import hot_edge_bonus

#: When the hot tier's first k nearest pages cannot settle the list, search
#: this many times deeper into the tier before reading it by bonus.
HOT_DEEPER_FACTOR = 4

#: Reading the tier by bonus, the freshness scan goes down to this share of
#: the usual cut-off (gap / (w_fresh + w_pop)): a few more recent pages, and
#: a popularity cut-off up to w_pop / (w_fresh + w_pop) times tighter.
TIER_FRESH_SHARE = 0.25


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
        """Prove the seed complete, else read deeper into the tier, else read the
        tier pages whose bonus can still win; what is left is outside the tier.

        Returns (when the fallback runs, how the list was shown complete), as SQL.
        """
        edge_fresh, edge_popular = hot_edge_bonus(
            self.config, self.scope, self.hot, self.now, self.weights
        )
        # Parameters, not constants: they move with the clock (one plan).
        self.params.update(
            hot_edge=edge_fresh + edge_popular, edge_fresh=edge_fresh, edge_popular=edge_popular
        )
        deeper = HOT_DEEPER_FACTOR * self.hot_k
        self.cte("seed", self.union(seeds))
        self.bound("seed_bound", "seed")
        self.proof("seed_proof", "seed_bound", "hot_nearest", self.hot_k)
        # A busy topic (many tier pages close to the reader): one HNSW search
        # four times deeper into the tier usually settles it, and costs less
        # than reading the tier by bonus (measured at 100k pages).
        self.hot_search("hot_deeper", deeper, "NOT (SELECT holds FROM seed_proof)")
        self.cte("deeper", self.union([*seeds, "hot_deeper"]))
        self.bound("deeper_bound", "deeper")
        self.proof("deeper_proof", "deeper_bound", "hot_deeper", deeper, settled_by="seed_proof")
        # Tier pages beyond the deeper search are no more similar than the last
        # of them: they beat T on their bonus alone, so two range scans of the
        # (small) tier find every one that can. With T unknown (the searches
        # could not fill the list) they read the freshest and most popular.
        self.cte(
            "tier_bound",
            f"""SELECT b.t, b.t - {self.weights.similarity!r}
               * COALESCE((SELECT 1 - max(distance) FROM hot_deeper), 1.0) AS gap
        FROM deeper_bound b""",
        )
        run_tier = "NOT (SELECT holds FROM deeper_proof)"
        tails = self.fallback_tails(run_tier, bound="tier_bound", scored="deeper", prefix="tier_")
        self.cte("candidates", self.union([*seeds, "hot_deeper", *tails]))
        self.bound("bound", "candidates")
        # Then only pages outside the tier could still win: not if the edge
        # bonus cannot close the gap, and every changed page was read.
        self.cte(
            "outside_proof",
            f"""SELECT (SELECT holds FROM deeper_proof)
           OR (b.gap >= %(hot_edge)s AND (SELECT count(*) FROM changed) < {self.window}) AS holds
        FROM bound b""",
        )
        completeness = """CASE WHEN (SELECT holds FROM seed_proof) THEN 'hot tier'
            WHEN (SELECT holds FROM deeper_proof) THEN 'hot tier, deeper'
            WHEN (SELECT holds FROM outside_proof) THEN 'hot tier, by bonus'
            ELSE 'fallback' END"""
        return "NOT (SELECT holds FROM outside_proof)", completeness

    def fallback_tails(
        self, run: str, *, bound: str = "bound", scored: str = "candidates", prefix: str = ""
    ) -> list[str]:
        """Add the range scans for pages whose bonus alone beats ``bound``'s gap;
        returns their names. With ``prefix`` "tier_" they read the hot tier
        (skipping its stale copies) instead of every page. After the tier has
        been read (a hot tier exists), the scans of every page stop at the
        tier's edge: what is newer or more popular is a tier page, already
        read, or a page changed since the refresh, read from ``recent``. So at
        any size they read only the thin slice of pages just outside the tier."""
        w = self.weights
        tier = bool(prefix)
        pages = table_name(HotPage) if tier else self.table
        stale = " AND e.page_id <> ALL(ARRAY(SELECT page_id FROM changed))" if tier else ""
        # What the other term can add at most: its weight, or outside the tier
        # its part of the edge bonus (a tighter cut-off, fewer rows read).
        fresh_most = repr(w.freshness)
        popular_most = repr(w.popularity if w.popularity_source else 0.0)
        fresh_edge = popular_edge = ""
        if not tier and self.hot is not None:
            fresh_edge, popular_edge, fresh_most, most = self.tier_edges()
            popular_most = most if w.popularity_source else popular_most
        tails = []
        if w.freshness > 0:
            # Freshness must exceed g (0..1): its share of the gap, and at least
            # what popularity cannot cover. That is: published after now - age(g).
            # In the tier, read further into the (cheap, short) freshness range:
            # the popular scan then needs only pages older than those read.
            share = f"{TIER_FRESH_SHARE!r} * " if tier else ""
            g = (
                f"GREATEST({share}b.gap / {w.bonus_max!r}, "
                f"(b.gap - {popular_most}) / {w.freshness!r})"
            )
            self.cte(
                f"{prefix}fresh_cutoff",
                f"""SELECT CASE WHEN g >= 1 THEN 'infinity'::timestamptz
                    WHEN g <= 0 THEN '-infinity'::timestamptz
                    ELSE %(now)s - make_interval(secs => %(fresh_seconds)s * ln(g) / -ln(2))
               END AS published_after, g
        FROM (SELECT {g} AS g FROM {bound} b) x""",
            )
            self.range_tail(
                f"{prefix}fresh_tail",
                f"{pages} e LEFT JOIN {self.popularity_table} p ON p.page_id = e.page_id",
                f"e.first_published_at > (SELECT published_after FROM {prefix}fresh_cutoff)"
                + stale
                + fresh_edge,
                "e.first_published_at DESC",
                run,
                bound=bound,
                scored=scored,
            )
            tails.append(f"{prefix}fresh_tail")
        if w.popularity_source and w.popularity > 0:
            g = self.popular_cut(fresh_most, prefix)
            # A stored counter only decays: popularity > g needs score > e^(g·norm) - 1.
            self.cte(
                f"{prefix}popular_cutoff",
                f"""SELECT CASE WHEN g >= 1 THEN 'Infinity'::float8
                    WHEN g <= 0 THEN 0.0::float8
                    ELSE exp(g * %(pop_norm)s) - 1
               END AS score_above
        FROM (SELECT {g} AS g FROM {bound} b) x""",
            )
            self.range_tail(
                f"{prefix}popular_tail",
                f"{self.popularity_table} p JOIN {pages} e ON e.page_id = p.page_id",
                f"p.score > (SELECT score_above FROM {prefix}popular_cutoff)"
                + stale
                + popular_edge,
                "p.score DESC",
                run,
                bound=bound,
                scored=scored,
            )
            tails.append(f"{prefix}popular_tail")
        return tails

    def popular_cut(self, fresh_most: str, prefix: str) -> str:
        """The popularity a page not read by the freshness scan needs (SQL over ``b``)."""
        w = self.weights
        if not prefix or w.freshness <= 0:
            return f"GREATEST(b.gap / {w.bonus_max!r}, (b.gap - {fresh_most}) / {w.popularity!r})"
        # Every tier page fresher than a (the fresh scan's cut-off, or its last
        # row when it filled its window) was read: the rest have at most
        # freshness a, so they need popularity > (gap - w_f·a) / w_p.
        a = f"""LEAST(1.0, GREATEST(0.0, (SELECT CASE WHEN count(*) >= {self.window}
            THEN min(freshness) ELSE (SELECT g FROM {prefix}fresh_cutoff) END
            FROM {prefix}fresh_tail)))"""
        return f"(b.gap - {w.freshness!r} * {a}) / {w.popularity!r}"

    def tier_edges(self) -> tuple[str, str, str, str]:
        """Stop the scans of every page at the hot tier's edge: conditions on
        freshness and popularity, and what each term adds at most there.

        Beyond the edge every page is a tier page or changed since the refresh,
        and both were read, unless more rows changed than ``changed`` holds (a
        bulk import): then the scans read on past the edge as before.
        """
        w = self.weights
        score_above = float(self.hot.score_above)
        score_above = repr(score_above) if math.isfinite(score_above) else "'Infinity'"
        read_all = f"(SELECT count(*) FROM changed) >= {self.window}"
        # The edge is a constant, like the tier's refresh time (the same for
        # every list until the next refresh); the edge bonus moves with the clock.
        return (
            f""" AND e.first_published_at <= (SELECT CASE WHEN {read_all}
            THEN 'infinity'::timestamptz ELSE '{self.hot.fresh_after.isoformat()}' END)""",
            f""" AND p.score <= (SELECT CASE WHEN {read_all}
            THEN 'Infinity'::float8 ELSE {score_above}::float8 END)""",
            f"(SELECT CASE WHEN {read_all} THEN {w.freshness!r} ELSE %(edge_fresh)s::float8 END)",
            f"(SELECT CASE WHEN {read_all} THEN {w.popularity!r}"
            " ELSE %(edge_popular)s::float8 END)",
        )

    def range_tail(
        self,
        name: str,
        source: str,
        condition: str,
        order: str,
        run: str,
        *,
        bound: str = "bound",
        scored: str = "candidates",
    ) -> None:
        """Eligible pages not yet scored whose bonus alone beats the gap,
        walked along an index (``order``) from where ``condition`` starts.

        Scored pages are skipped with ``<> ALL(ARRAY(...))`` for the reason given
        in :meth:`hot_search`: under ``NOT IN`` the planner read a whole section
        by tree path and sorted it instead of walking the freshness index.
        """
        w = self.weights
        bonus = f"{w.freshness!r} * ({self.freshness}) + {w.popularity!r} * ({self.popularity})"
        self.cte(
            name,
            f"""SELECT {self.scored()} FROM {source}
        WHERE {run} AND {self.where}
          AND {condition}
          AND e.page_id <> ALL(ARRAY(SELECT page_id FROM {scored}))
          AND {bonus} > (SELECT gap FROM {bound})
        ORDER BY {order}
        LIMIT {self.window}""",
        )
