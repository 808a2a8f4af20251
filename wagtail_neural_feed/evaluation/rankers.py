"""What the replay compares: the feed and the baselines, each ranked by the real statement.

Every ranker that is a :class:`FeedConfig` goes through
:func:`~wagtail_neural_feed.ranking.ranking_statement` and the feed's own
diversity step, exactly as :func:`wagtail_neural_feed.recommend` does (minus
loading the specific pages, which metrics do not need). "Random" draws from
the same eligibility filter (:func:`~wagtail_neural_feed.ranking.filters.eligibility_sql`),
so every ranker sees the same candidates: live, visible, published by the
event's time and not already read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from .. import diversity
from ..feeds import FeedConfig
from ..models import PageEmbedding
from ..ranking import Audience, RankedRow, Scope, candidate_count, ranking_statement
from ..ranking.filters import eligibility_sql
from ..statements import parse_vector, run_statement, table_name


@dataclass(frozen=True)
class Ranker:
    """One list-maker under evaluation."""

    name: str
    config: FeedConfig
    #: Whether the reader's profile and the context page are used.
    personal: bool = True
    #: A random list from the pages ``config`` may show, instead of its ranking.
    random: bool = False


def baselines(config: FeedConfig) -> list[Ranker]:
    """The feed's baselines, with its filters (section, page types, already read)."""
    return [
        Ranker("random", config, personal=False, random=True),
        Ranker(
            "most recent",
            _weighted(config, 0.0, 1.0, 0.0),
            personal=False,
        ),
        Ranker(
            "most popular",
            _weighted(config, 0.0, 0.0, 1.0),
            personal=False,
        ),
        Ranker(
            "pure similarity",
            _weighted(config, 1.0, 0.0, 0.0),
        ),
    ]


def _weighted(config: FeedConfig, similarity: float, freshness: float, popularity: float):
    """``config`` with only these weights, no cold-start sources and no diversity step."""
    return replace(
        config,
        similarity_weight=similarity,
        freshness_weight=freshness,
        popularity_weight=popularity,
        cold_start=(),
        diversity="none",
    )


def rank(
    ranker: Ranker,
    audience: Audience,
    scope: Scope,
    *,
    limit: int,
    now: datetime,
    exclude: Sequence[int] = (),
    salt: str = "",
) -> list[RankedRow]:
    """The ranker's top ``limit`` rows for this reader as of ``now`` (with embeddings)."""
    if not ranker.personal:
        scope = replace(scope, profile=None, context=None)
    config = ranker.config
    if ranker.random:
        return _random_rows(config, audience, scope, limit=limit, exclude=exclude, salt=salt)
    pool = limit
    if config.diversity == "mmr":
        pool = 3 * limit
    elif config.diversity == "section_cap":
        pool = candidate_count(config, limit)
    statement = ranking_statement(
        config,
        audience,
        scope,
        limit=limit,
        exclude=sorted(exclude),
        pool=pool,
        with_embeddings=True,
        now=now,
    )
    rows = statement.execute()
    if config.diversity == "mmr":
        rows = diversity.mmr(rows, limit=limit, lambda_=config.mmr_lambda)
    elif config.diversity == "section_cap":
        base = scope.section_path or diversity.site_path_of(rows, scope.site_paths)
        rows = diversity.cap_per_section(rows, limit=limit, cap=config.section_cap, base_path=base)
    return rows[:limit]


def _random_rows(
    config: FeedConfig,
    audience: Audience,
    scope: Scope,
    *,
    limit: int,
    exclude: Sequence[int],
    salt: str,
) -> list[RankedRow]:
    """A reproducible random draw (a hash of page and event) from the eligible pages."""
    params: dict = {"salt": salt}
    where = eligibility_sql(config, audience, scope, exclude=exclude, params=params)
    sql = f"""SELECT e.page_id, e.content_type_id, e.path, e.embedding
        FROM {table_name(PageEmbedding)} e WHERE {where}
        ORDER BY md5(e.page_id::text || %(salt)s) LIMIT {int(limit)}"""
    return [
        RankedRow(page_id, content_type_id, path, 0.0, 0.0, 0.0, 0.0, parse_vector(vector))
        for page_id, content_type_id, path, vector in run_statement(sql, params, binary=True)
    ]
