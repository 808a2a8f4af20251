"""More like this, beyond one vector: re-score the context page's nearest pages.

One averaged vector per page misses what its nearest neighbours agree on and
the words two pages share. Two optional signals (off unless a feed sets
them; :data:`~wagtail_neural_feed.api.SIMILAR_FEED` does) re-score the ``k``
nearest eligible pages of one HNSW search, inside the same statement:

* **expansion** (``expansion_neighbours`` = m, ``expansion_weight`` = β):
  similarity is taken to the query plus β times the mean of its ``m``
  nearest eligible pages (pseudo-relevance feedback): a page its
  neighbourhood agrees on rises, an outlier that happens to be close falls.
* **lexical** (``lexical_weight`` = λ): λ times the share of words (stemmed
  lexemes of PostgreSQL full-text search, stored with the embedding) that a
  candidate shares with the context page, a binary cosine
  ``|A ∩ B| / sqrt(|A|·|B|)``.

The list is a re-ranking of the ``k`` nearest pages, not a proof over every
page (``completeness = 'rerank'``): the re-scored terms are unknown outside
the candidates. When the search cannot fill the list (a selective filter),
the freshest eligible pages fill it, as in the plain statement.
"""

from __future__ import annotations

from ..models import PageEmbedding
from ..statements import QueryVector, table_name
from .rows import RankingStatement


def reranks(config, scope, vector) -> bool:
    """Whether a list is re-scored: a signal is on and there is a page to be like."""
    signals = config.expansion_neighbours > 0 or config.lexical_weight > 0
    return signals and vector is not None and scope.context_page_id is not None


class RerankMixin:
    """The re-scoring statement of :class:`~.statement.StatementBuilder`."""

    def rerank(self) -> RankingStatement:
        config, w = self.config, self.weights
        lexical = config.lexical_weight > 0
        self.params["q"] = QueryVector(self.vector)
        lexemes = ", e.lexemes, length(e.lexemes) AS words" if lexical else ""
        self.cte(
            "nearest",
            f"""SELECT e.embedding <=> %(q)s::vector AS distance, e.embedding AS vec{lexemes},
            {self.scored()}
        FROM {self.joined}
        WHERE {self.where}
        ORDER BY e.embedding <=> %(q)s::vector
        LIMIT {self.k}""",
        )
        similarity = "n.similarity"
        if (m := int(config.expansion_neighbours)) > 0:
            # q/β + mean(neighbours) points where q + β·mean does: cosine ignores length.
            self.params["q_scaled"] = QueryVector(self.vector / max(config.expansion_weight, 1e-6))
            # "distance + 0", not "distance": PostgreSQL 17+ knows the CTE came
            # out of an index scan ordered by distance and would skip this sort,
            # but with relaxed_order iterative scans that order is only roughly
            # right (after many deleted rows, far off): the m nearest must be sorted.
            self.cte(
                "expanded",
                f"""SELECT %(q_scaled)s::vector + avg(nb.vec) AS v
        FROM (SELECT vec FROM nearest ORDER BY distance + 0 LIMIT {m}) nb""",
            )
            similarity = "COALESCE(1 - (n.vec <=> (SELECT v FROM expanded)), n.similarity)"
        lexical_sql, terms = "0.0", ""
        if lexical:
            # The context page's words (it need not be eligible: it is left out of
            # its own list), then each candidate's shared words in one hashed join.
            self.params["context_page"] = self.scope.context_page_id
            self.cte(
                "terms",
                f"""SELECT w.lexeme FROM {table_name(PageEmbedding)} c, unnest(c.lexemes) w
        WHERE c.page_id = %(context_page)s""",
            )
            self.cte(
                "overlap",
                """SELECT n.page_id, count(*)::float8
            / sqrt(n.words::float8 * (SELECT count(*) FROM terms)) AS share
        FROM nearest n, unnest(n.lexemes) w
        WHERE w.lexeme IN (SELECT lexeme FROM terms)
        GROUP BY n.page_id, n.words""",
            )
            lexical_sql = "COALESCE(o.share, 0.0)"
            terms = " LEFT JOIN overlap o ON o.page_id = n.page_id"
        columns = "n.page_id, n.content_type_id, n.path, n.similarity, n.freshness, n.popularity"
        embedding = ", n.embedding" if self.with_embeddings else ""
        # A short list (a filter starved the search) is filled with the freshest pages.
        self.cte(
            "tail",
            f"""SELECT {self.scored()} FROM {self.joined}
        WHERE (SELECT count(*) FROM nearest) < {self.pool} AND {self.where}
          AND e.page_id <> ALL(ARRAY(SELECT page_id FROM nearest))
          AND e.first_published_at IS NOT NULL
        ORDER BY e.first_published_at DESC
        LIMIT {self.pool}""",
        )
        bonus = f"{w.freshness!r} * n.freshness + {w.popularity!r} * n.popularity"
        rows = f"""SELECT {columns}{embedding},
            {w.similarity!r} * {similarity} + {float(config.lexical_weight)!r} * {lexical_sql}
            + {bonus} AS score
        FROM nearest n{terms}
        UNION ALL
        SELECT {columns}{embedding}, {self.total("n")} AS score FROM tail n"""
        return self.final(rows, "'rerank'::text")
