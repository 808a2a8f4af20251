"""Round trip 2: the statement that picks and scores a list's pages.

The statement ranks exactly, up to the HNSW searches' own recall: it proves
inside SQL that no page left out could have made the list.

* **Seed**: the ``k`` nearest eligible pages (HNSW) and, from the hot tier
  (recent or popular pages, a second small HNSW index), the
  ``max(20, 2·pool)`` nearest tier pages plus the pages changed since the
  tier's last refresh; without a tier, the few freshest and most popular
  eligible pages instead. All scored in full.
* **Bound**: a page outside the nearest ``k`` is at most as similar as the
  ``k``-th (``s_k``). Outside the hot tier its bonus is at most ``h`` (the
  bonus of a page as old as the tier's edge, as popular as its threshold);
  inside, at most every bonus. So when the ``pool``-th seed score ``T`` is at
  least ``w_sim·s_k + h`` and at least ``w_sim·s' + w_fresh + w_pop`` (``s'``:
  the last tier page read), the seed holds the whole list. Otherwise the
  tier is searched four times deeper and the tests repeated. If they fail
  again, the tier pages beyond ``s'`` can win only on
  their bonus: two range scans of the tier read those whose bonus exceeds
  ``T - w_sim·s'``, and the first test is repeated with the new ``T``.
* **Fallback**, run only when that fails (or there is no hot tier): the
  pages whose bonus alone exceeds ``T - w_sim·s_k`` are two index range
  scans (published after a cut-off, counter above a threshold), each read up
  to ``CANDIDATE_WINDOW`` rows, and scored too. With a tier they stop at its
  edge (older than ``fresh_after``, counter at most ``score_above``): every
  page beyond it was read from the tier already, so the scans cover only the
  slice just outside it, whatever the table's size. When the seed cannot fill
  the pool they take the freshest and most popular pages, which keeps lists
  full under selective filters.
* **Small scopes** (fewer pages than ``EXACT_BELOW_PAGES`` in the table, or
  in the site's own scope index) skip all of that: one scan scores every
  eligible page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.utils import timezone

from ..conf import neural_feed_settings
from ..feeds import FeedConfig
from ..models import HotPage, PageEmbedding, PagePopularity
from ..statements import QueryVector, table_name
from .audience import Audience
from .co_read import CoReadMixin
from .completeness import CompletenessMixin
from .filters import eligibility_sql
from .rerank import RerankMixin, reranks
from .rows import RankingStatement
from .scope import Scope, query_vector
from .scoring import list_weights, score_terms


def candidate_count(config: FeedConfig, limit: int) -> int:
    """Nearest-neighbour candidates searched per list."""
    return config.candidates or max(40, 4 * limit)


def pool_size(config: FeedConfig, limit: int) -> int:
    """Rows the statement returns for a list of ``limit``: more when diversity picks among them."""
    if config.diversity == "mmr":
        return 3 * limit
    if config.diversity == "section_cap":
        return candidate_count(config, limit)
    return limit


def ranking_statement(
    config: FeedConfig,
    audience: Audience,
    scope: Scope,
    *,
    limit: int,
    exclude: Sequence[int] = (),
    pool: int | None = None,
    with_embeddings: bool = False,
    now: datetime | None = None,
) -> RankingStatement:
    """Build the ranking statement; ``pool`` rows come back (default ``limit``)."""
    builder = StatementBuilder(
        config,
        audience,
        scope,
        limit=limit,
        exclude=exclude,
        pool=pool,
        with_embeddings=with_embeddings,
        now=now,
    )
    return builder.build()


class StatementBuilder(CompletenessMixin, CoReadMixin, RerankMixin):
    """Assembles one list's statement from common table expressions (CTEs).

    Every candidate source scores its own rows, so each page's embedding row
    is read once; all sources share one eligibility filter.
    """

    def __init__(
        self,
        config: FeedConfig,
        audience: Audience,
        scope: Scope,
        *,
        limit: int,
        exclude: Sequence[int],
        pool: int | None,
        with_embeddings: bool,
        now: datetime | None,
    ) -> None:
        self.params: dict = {}
        self.ctes: list[str] = []
        self.config, self.scope = config, scope
        self.where = eligibility_sql(config, audience, scope, exclude=exclude, params=self.params)
        self.vector = query_vector(config, scope)
        self.pool = int(pool or limit)
        self.k = int(candidate_count(config, limit))
        # The tier is small: its first search needs only the hot pages close to
        # the reader; in a busy topic the rest is read by bonus (see hot_proofs).
        self.hot_k = max(20, 2 * self.pool)
        self.seed_size = max(2 * limit, 20)
        self.window = max(int(neural_feed_settings.CANDIDATE_WINDOW), self.pool)
        self.weights = list_weights(config, scope, has_vector=self.vector is not None)
        self.now = now or timezone.now()
        self.similarity, self.freshness, self.popularity = score_terms(
            config, scope, has_vector=self.vector is not None, now=self.now, params=self.params
        )
        self.with_embeddings = with_embeddings
        self.table = table_name(PageEmbedding)
        self.popularity_table = table_name(PagePopularity)
        self.joined = f"{self.table} e LEFT JOIN {self.popularity_table} p ON p.page_id = e.page_id"
        self.has_co_read = False  # set by build(): the co_read CTE is in the statement

    # --- building blocks ------------------------------------------------------

    def scored(self) -> str:
        """The columns of a scored row of ``e`` (with ``p`` joined)."""
        embedding = ", e.embedding" if self.with_embeddings else ""
        return f"""e.page_id, e.content_type_id, e.path,
            ({self.similarity})::float8 AS similarity,
            ({self.freshness})::float8 AS freshness,
            ({self.popularity})::float8 AS popularity{embedding}"""

    def total(self, row: str = "u") -> str:
        """The hybrid score of an already scored row."""
        w = self.weights
        return (
            f"{w.similarity!r} * {row}.similarity + {w.freshness!r} * {row}.freshness"
            f" + {w.popularity!r} * {row}.popularity{self.co_read_term()}"
        )

    def union(self, sources: list[str]) -> str:
        """Rows of several sources, each page once, with its score."""
        columns = "page_id, content_type_id, path, similarity, freshness, popularity"
        columns += ", embedding" if self.with_embeddings else ""
        rows = " UNION ALL ".join(f"SELECT {columns} FROM {name}" for name in sources)
        return f"""SELECT DISTINCT ON (u.page_id) u.*, {self.total()} AS score
        FROM ({rows}) u{self.co_read_join("u")}"""

    def cte(self, name: str, body: str) -> None:
        self.ctes.append(f"""{name} AS MATERIALIZED (
        {body})""")

    def hot_search(self, name: str, limit: int, condition: str) -> None:
        """The ``limit`` nearest eligible tier pages not changed since the refresh.

        The changed pages are skipped with ``<> ALL(ARRAY(...))``, not ``NOT IN
        (subquery)``: the planner guesses the latter drops half the rows, and
        with half a tier, sorting all of it looked cheaper than its HNSW index
        (2 ms more a list on a 10k-page site). The array is the few pages
        written since the last refresh (at most ``CANDIDATE_WINDOW``).
        """
        self.cte(
            name,
            f"""SELECT e.embedding <=> %(q)s::vector AS distance, {self.scored()}
        FROM {table_name(HotPage)} e
        LEFT JOIN {self.popularity_table} p ON p.page_id = e.page_id
        WHERE {condition} AND {self.where}
          AND e.page_id <> ALL(ARRAY(SELECT page_id FROM changed))
        ORDER BY e.embedding <=> %(q)s::vector
        LIMIT {limit}""",
        )

    # --- the statement --------------------------------------------------------

    def build(self) -> RankingStatement:
        if reranks(self.config, self.scope, self.vector):
            return self.rerank()
        if self.vector is not None:
            self.params["q"] = QueryVector(self.vector)
        self.has_co_read = self.weights.co_read_source and self.co_read_ctes()
        if 0 <= self.scope.pages < int(neural_feed_settings.EXACT_BELOW_PAGES):
            return self.exact_scan()
        seeds = [*self.seed_sources(), *self.co_read_source()]
        if self.weights.bonus_max <= 0:
            self.cte("seed", self.union(seeds))
            return self.final("SELECT * FROM seed")
        if self.hot is not None:
            run_fallback, completeness = self.hot_proofs(seeds)
        else:
            self.cte("candidates", self.union(seeds))
            self.bound("bound", "candidates")
            run_fallback, completeness = "true", "'fallback'::text"
        self.cte("tail", self.union(self.fallback_tails(run_fallback)))
        rows = "SELECT * FROM candidates UNION ALL SELECT * FROM tail"
        return self.final(rows, completeness)

    def exact_scan(self) -> RankingStatement:
        """A small site: score every eligible page in one scan. Exact, and
        cheaper than the index searches and their proof below ~2 000 pages."""
        self.cte("eligible", f"SELECT {self.scored()} FROM {self.joined} WHERE {self.where}")
        rows = f"SELECT u.*, {self.total()} AS score FROM eligible u{self.co_read_join('u')}"
        return self.final(rows, "'exact'::text")

    @property
    def hot(self):
        """The hot tier, when it can help: a bonus to account for and a vector to search."""
        w = self.weights
        if self.vector is not None and w.similarity > 0 and w.bonus_max > 0:
            return self.scope.hot
        return None

    def seed_sources(self) -> list[str]:
        """Add the seed's CTEs; returns their names."""
        sources = []
        if self.vector is not None:
            self.cte(
                "nearest",
                f"""SELECT e.embedding <=> %(q)s::vector AS distance, {self.scored()}
        FROM {self.joined}
        WHERE {self.where}
        ORDER BY e.embedding <=> %(q)s::vector
        LIMIT {self.k}""",
            )
            sources.append("nearest")
        if self.hot is None:
            # The freshest and most popular pages seed T. (With the hot tier its
            # nearest pages do that better; when the nearest-neighbour scans are
            # starved by a selective filter, the fallback fills the list.)
            self.cte(
                "fresh",
                f"""SELECT {self.scored()} FROM {self.joined}
        WHERE {self.where} AND e.first_published_at IS NOT NULL
        ORDER BY e.first_published_at DESC
        LIMIT {self.seed_size}""",
            )
            sources.append("fresh")
            if self.weights.popularity_source:
                self.cte(
                    "popular",
                    f"""SELECT {self.scored()} FROM {self.popularity_table} p
        JOIN {self.table} e ON e.page_id = p.page_id
        WHERE {self.where} AND p.score > 0
        ORDER BY p.score DESC
        LIMIT {self.seed_size}""",
                )
                sources.append("popular")
            return sources
        # A constant, like the scope: it changes only when the tier is refreshed.
        refreshed = self.hot.refreshed_at.isoformat()
        # Rows written since the refresh: their tier copy may be stale, so
        # they are skipped in the tier and read (and scored) from PageEmbedding.
        self.cte(
            "changed",
            f"""SELECT e.page_id FROM {self.table} e
        WHERE e.updated_at > '{refreshed}'::timestamptz
        ORDER BY e.updated_at DESC
        LIMIT {self.window}""",
        )
        self.cte(
            "recent",
            f"""SELECT {self.scored()} FROM {self.joined}
        WHERE e.page_id IN (SELECT page_id FROM changed) AND {self.where}""",
        )
        # The tier has PageEmbedding's column names: the same filters and
        # scores apply to it, aliased "e", without reading the large table.
        self.hot_search("hot_nearest", self.hot_k, "true")
        return [*sources, "hot_nearest", "recent"]

    def final(self, rows: str, completeness: str = "NULL::text") -> RankingStatement:
        embedding = ", r.embedding" if self.with_embeddings else ""
        sql = f"""
    WITH {", ".join(self.ctes)}
    SELECT r.page_id, r.content_type_id, r.path, r.similarity, r.freshness, r.popularity,
        r.score, {completeness}{embedding}
    FROM ({rows}) r
    ORDER BY r.score DESC, r.page_id
    LIMIT {self.pool}
    """
        # One line, single spaces: a third shorter to send, hash and compare (it
        # keys the placeholder cache and the prepared statement). No comments or
        # multi-space literals are in the statement, so nothing changes meaning.
        return RankingStatement(sql=" ".join(sql.split()), params=self.params)
