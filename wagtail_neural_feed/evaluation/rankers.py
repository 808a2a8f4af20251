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

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from .. import diversity
from ..feeds import FeedConfig
from ..models import Interaction, PageEmbedding
from ..ranking import Audience, RankedRow, Scope, pool_size, ranking_statement
from ..ranking.filters import eligibility_sql
from ..statements import run_statement, table_name


@dataclass(frozen=True)
class Ranker:
    """One list-maker under evaluation."""

    name: str
    config: FeedConfig
    #: Whether the reader's profile and the context page are used.
    personal: bool = True
    #: A random list from the pages ``config`` may show, instead of its ranking.
    random: bool = False
    #: "Readers of this also read": the pages most readers of the reader's last
    #: page also read (before now), from the pages ``config`` may show.
    co_read: bool = False


#: The fixed blend baseline: freshness and popularity weights, freshness half-life
#: (days). Not tuned: what a news site might pick without any data.
BLEND_WEIGHTS = (1.0, 1.0)
BLEND_DAYS = 1.0

#: The random ranker's draw: an integer hash of page id and event, the same in
#: SQL and numpy (a few rounds of multiply-modulo a prime and an xor-shift;
#: every intermediate stays below 2^63).
_MODULUS = 2147483647
#: ``h.x``: the first rounds, from a lateral subquery (``RANDOM_MIX_SQL``).
RANDOM_MIX_SQL = f"""LATERAL (SELECT mod(mod(mod(e.page_id, {_MODULUS}) * 48271
    + mod(%(salt)s::bigint, {_MODULUS}) * 16807 + 1, {_MODULUS}) * 69621, {_MODULUS}) AS x) h"""
RANDOM_DRAW_SQL = f"mod((h.x # (h.x >> 13)) * 48271, {_MODULUS})"


def random_draws(page_ids: np.ndarray, salt) -> np.ndarray:
    """``RANDOM_DRAW_SQL`` for many pages (and salts: arrays broadcast) at once."""
    return draws_from(page_draw_part(page_ids), salt)


def page_draw_part(page_ids: np.ndarray) -> np.ndarray:
    """The page's share of the draw's first round (the same for every event)."""
    return (page_ids % _MODULUS) * 48271


def draws_from(page_part: np.ndarray, salt) -> np.ndarray:
    """:func:`random_draws` from :func:`page_draw_part`, computed once per catalogue."""
    salt = np.asarray(salt, dtype=np.int64)
    x = (page_part + (salt % _MODULUS) * 16807 + 1) % _MODULUS
    x = (x * 69621) % _MODULUS
    return ((x ^ (x >> 13)) * 48271) % _MODULUS


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
        Ranker(
            "recent + popular",
            replace(_weighted(config, 0.0, *BLEND_WEIGHTS), freshness_half_life_days=BLEND_DAYS),
            personal=False,
        ),
    ]


def co_read_ranker(config: FeedConfig) -> Ranker:
    """The item-to-item signal on its own, counted from the replayed history."""
    return Ranker("co-read", config, personal=False, co_read=True)


def co_read_variants(config: FeedConfig, weights: Sequence[float]) -> list[Ranker]:
    """The feed with the co-read term at each of ``weights`` (from the replayed store)."""
    return [
        Ranker(f"feed, co-read {weight:g}", replace(config, co_read_weight=float(weight)))
        for weight in weights
    ]


def _weighted(config: FeedConfig, similarity: float, freshness: float, popularity: float):
    """``config`` with only these weights, no cold-start sources and no diversity step."""
    return replace(
        config,
        similarity_weight=similarity,
        freshness_weight=freshness,
        popularity_weight=popularity,
        co_read_weight=0.0,
        cold_start=(),
        diversity="none",
    )


def rank_all(
    rankers: Sequence[Ranker],
    audience: Audience,
    scope: Scope,
    *,
    limit: int,
    now: datetime,
    exclude: Sequence[int] = (),
    salt: int = 0,
    anchor: int | None = None,
) -> list[list[RankedRow]]:
    """Every ranker's top ``limit`` rows for this reader as of ``now``, in one round trip.

    Each ranker's statement is the one :func:`ranking_statement` builds, run
    unchanged as a subquery (its parameters renamed apart); the rows of each
    come back in the statement's own order (score, then page id).
    """
    parts, params = [], {}
    for index, ranker in enumerate(rankers):
        sql, own = _statement(ranker, audience, scope, limit=limit, now=now, exclude=exclude)
        if ranker.random:
            own["salt"] = salt
        if ranker.co_read:
            own.update(anchor=anchor, reader=audience.reader_id)
        renamed = _PARAMETER.sub(lambda match, i=index: f"%({match[1]}__{i})s", sql)
        params.update({f"{name}__{index}": value for name, value in own.items()})
        parts.append(f"SELECT {index} AS ranker, s{index}.* FROM ({renamed}) s{index}")
    lists: list[list[RankedRow]] = [[] for _ in rankers]
    for row in run_statement(" UNION ALL ".join(parts), params, binary=True):
        lists[row[0]].append(RankedRow.from_row(row[1:]))
    return [
        _diversified(ranker, scope, sorted(rows, key=lambda r: (-r.score, r.page_id)), limit)
        for ranker, rows in zip(rankers, lists, strict=True)
    ]


_PARAMETER = re.compile(r"%\((\w+)\)s")


def _statement(
    ranker: Ranker,
    audience: Audience,
    scope: Scope,
    *,
    limit: int,
    now: datetime,
    exclude: Sequence[int],
) -> tuple[str, dict]:
    """The ranker's statement, as ``recommend()`` would build it: (sql, params)."""
    if not ranker.personal:
        scope = replace(scope, profile=None, context=None)
    config = ranker.config
    if ranker.co_read:
        return _co_read_sql(config, audience, scope, limit=limit, exclude=exclude)
    if ranker.random:
        return _random_sql(
            config, audience, scope, limit=limit, exclude=exclude, with_embeddings=False
        )
    statement = ranking_statement(
        config,
        audience,
        scope,
        limit=limit,
        exclude=sorted(exclude),
        pool=pool_size(config, limit),
        # As recommend() asks: embeddings only for MMR (they cost the exact scan
        # 1.5 kB a row); the replay looks up the few it needs for diversity.
        with_embeddings=config.diversity == "mmr",
        now=now,
    )
    sql = statement.sql
    if config.diversity != "mmr":
        # The union needs the same columns from every ranker.
        sql = f"SELECT t.*, NULL::vector AS embedding FROM ({sql}) t"
    return sql, dict(statement.params)


def _diversified(ranker: Ranker, scope: Scope, rows: list[RankedRow], limit: int):
    """The feed's own diversity step, as ``recommend()`` applies it."""
    config = ranker.config
    if ranker.random or ranker.co_read or config.diversity == "none":
        return rows[:limit]
    if config.diversity == "mmr":
        return diversity.mmr(rows, limit=limit, lambda_=config.mmr_lambda)
    base = scope.section_path or diversity.site_path_of(rows, scope.site_paths)
    return diversity.cap_per_section(rows, limit=limit, cap=config.section_cap, base_path=base)


def _random_sql(
    config: FeedConfig,
    audience: Audience,
    scope: Scope,
    *,
    limit: int,
    exclude: Sequence[int],
    with_embeddings: bool,
) -> tuple[str, dict]:
    """A reproducible random draw (a hash of page and event) from the eligible pages;
    its "score" is minus its position, so it sorts like the ranked lists."""
    params: dict = {}
    where = eligibility_sql(config, audience, scope, exclude=exclude, params=params)
    table = table_name(PageEmbedding)
    embedding = "e.embedding" if with_embeddings else "NULL::vector"
    sql = f"""SELECT e.page_id, e.content_type_id, e.path, 0.0::float8 AS similarity,
        0.0::float8 AS freshness, 0.0::float8 AS popularity, -x.position::float8 AS score,
        NULL::text AS completeness, {embedding}
        FROM (SELECT page_id, row_number() OVER (ORDER BY draw, page_id) AS position
              FROM (SELECT e.page_id, {RANDOM_DRAW_SQL} AS draw
                    FROM {table} e, {RANDOM_MIX_SQL}
                    WHERE {where} ORDER BY draw, e.page_id LIMIT {int(limit)}) d) x
        JOIN {table} e ON e.page_id = x.page_id"""
    return sql, params


def _co_read_sql(
    config: FeedConfig, audience: Audience, scope: Scope, *, limit: int, exclude: Sequence[int]
) -> tuple[str, dict]:
    """Eligible pages ranked by how many other readers read them and the anchor page.

    Counted at query time from the interaction table, which in the replay
    holds only the past: an upper view of what an incrementally kept co-read
    counter could add. No anchor (a reader's first read): an empty list.
    """
    params: dict = {}
    where = eligibility_sql(config, audience, scope, exclude=exclude, params=params)
    interactions = table_name(Interaction)
    sql = f"""SELECT e.page_id, e.content_type_id, e.path, 0.0::float8 AS similarity,
        0.0::float8 AS freshness, 0.0::float8 AS popularity, c.readers::float8 AS score,
        NULL::text AS completeness, NULL::vector AS embedding
        FROM (SELECT j.page_id, count(DISTINCT j.reader_id) AS readers
              FROM {interactions} i JOIN {interactions} j ON j.reader_id = i.reader_id
              WHERE i.page_id = %(anchor)s AND j.page_id <> %(anchor)s
                AND i.reader_id <> %(reader)s
              GROUP BY j.page_id) c
        JOIN {table_name(PageEmbedding)} e ON e.page_id = c.page_id
        WHERE {where}
        ORDER BY c.readers DESC, e.page_id LIMIT {int(limit)}"""
    return sql, params
