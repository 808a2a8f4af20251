"""The hybrid score: ``w_sim·similarity + w_fresh·freshness + w_pop·popularity``
(``+ w_co·co_read`` when the feed weighs co-reads, see ``co_read.py``).

* similarity: cosine similarity to the query vector (``1 - <=>``);
* freshness: ``exp(-ln2 · age / half_life)`` from the first publication;
* popularity: the stored, decayed counter, log-scaled against the top page.

The terms are SQL over a row of ``PageEmbedding`` (or the hot tier) aliased
``e`` with ``PagePopularity`` joined as ``p``; their parameters are named
``%(now)s``, ``%(fresh_seconds)s``, ``%(pop_seconds)s``, ``%(pop_norm)s``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from ..conf import neural_feed_settings
from ..feeds import FeedConfig
from .scope import HotState, Scope

SECONDS_PER_DAY = 86400.0

# exp() of a very old page would underflow (an error in PostgreSQL): clamp.
FRESHNESS_SQL = """COALESCE(exp(GREATEST(-700, -ln(2)
                * GREATEST(0, date_part('epoch', %(now)s - e.first_published_at))
                / %(fresh_seconds)s)), 0.0)"""

POPULARITY_SQL = """COALESCE(LEAST(1.0, ln(1 + GREATEST(0, p.score * exp(GREATEST(-700,
                -ln(2) * GREATEST(0, date_part('epoch', %(now)s - p.computed_at))
                / %(pop_seconds)s))))
                / %(pop_norm)s), 0.0)"""

SIMILARITY_SQL = "1 - (e.embedding <=> %(q)s::vector)"


@dataclass(frozen=True)
class Weights:
    """The weights a list is scored with, after what the reader and the data allow."""

    similarity: float
    freshness: float
    popularity: float
    #: Whether the most popular pages are a candidate source (a popularity
    #: weight, or a cold reader whose feed starts from popular pages).
    popularity_source: bool
    #: "Readers of this also read" (0 without a page to anchor it).
    co_read: float = 0.0
    #: Whether pages co-read with the anchor pages are a candidate source (a
    #: co-read weight, or a cold reader on a page whose feed starts from co-reads).
    co_read_source: bool = False

    @property
    def bonus_max(self) -> float:
        """The most freshness and popularity can add to a page's score."""
        return self.freshness + (self.popularity if self.popularity_source else 0.0)


def list_weights(config: FeedConfig, scope: Scope, *, has_vector: bool) -> Weights:
    """No similarity without a query vector, no popularity without counters."""
    has_counters = scope.popularity_max > 0
    cold = scope.profile is None
    anchored = scope.context_page_id is not None or scope.reader_id is not None
    co_read = float(config.co_read_weight) if anchored else 0.0
    return Weights(
        similarity=float(config.similarity_weight) if has_vector else 0.0,
        freshness=float(config.freshness_weight),
        popularity=float(config.popularity_weight) if has_counters else 0.0,
        popularity_source=has_counters
        and (config.popularity_weight > 0 or (cold and "popular" in config.cold_start)),
        co_read=co_read,
        co_read_source=co_read > 0
        or (cold and scope.context_page_id is not None and "co_read" in config.cold_start),
    )


def score_terms(
    config: FeedConfig, scope: Scope, *, has_vector: bool, now: datetime, params: dict
) -> tuple[str, str, str]:
    """SQL for (similarity, freshness, popularity); their parameters are added to ``params``."""
    params["now"] = now
    params["fresh_seconds"] = config.freshness_half_life_days * SECONDS_PER_DAY
    popularity_half_life = (
        config.popularity_half_life_days or neural_feed_settings.POPULARITY_HALF_LIFE_DAYS
    )
    params["pop_seconds"] = float(popularity_half_life) * SECONDS_PER_DAY
    popularity = "0.0"
    if scope.popularity_max > 0:
        params["pop_norm"] = math.log1p(scope.popularity_max)
        popularity = POPULARITY_SQL
    similarity = SIMILARITY_SQL if has_vector else "0.0"
    return similarity, FRESHNESS_SQL, popularity


def hot_edge_bonus(
    config: FeedConfig, scope: Scope, hot: HotState, now: datetime, weights: Weights
) -> tuple[float, float]:
    """The largest freshness and popularity parts of the bonus of a page
    outside the hot tier now (weighted): older than ``fresh_after``, stored
    counter at most ``score_above``. Their sum is the largest bonus."""
    age = max(0.0, (now - hot.fresh_after).total_seconds())
    freshness = math.exp(-math.log(2) * age / (config.freshness_half_life_days * SECONDS_PER_DAY))
    popularity = 0.0
    if scope.popularity_max > 0:
        popularity = min(
            1.0, math.log1p(max(hot.score_above, 0.0)) / math.log1p(scope.popularity_max)
        )
    return weights.freshness * freshness, weights.popularity * popularity
