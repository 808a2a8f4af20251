"""The Python API: ``recommend()``, ``similar_pages()`` and ``explain()``.

Each list is two round trips (see :mod:`.ranking`): the specific pages come
joined onto the ranking statement's rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any

from wagtail.models import Page

from . import diversity, replicas
from .exceptions import InvalidRecommendationRequest
from .feeds import Feed, FeedConfig, get_feed_config
from .ranking import (
    Audience,
    RankingStatement,
    Recommendation,
    Scope,
    audience_for,
    execute_with_pages,
    fetch_pages,
    load_scope,
    page_models_for,
    pool_size,
    ranking_statement,
)

__all__ = ["MAX_LIMIT", "SIMILAR_FEED", "Recommendation", "explain", "recommend", "similar_pages"]

MAX_LIMIT = 100

#: "More like this": similarity first, freshness only to order pages that
#: are equally close (or when the page itself has no embedding yet).
SIMILAR_FEED = FeedConfig(
    slug="similar",
    title="More like this",
    similarity_weight=1.0,
    freshness_weight=0.05,
    # Its own half-life: the feeds' default (chosen for "for you" lists) is not its concern.
    freshness_half_life_days=14.0,
    popularity_weight=0.0,
    exclude_read=False,
    context_weight=1.0,
    cold_start=("context", "fresh"),
    # Re-score the nearest pages (ranking/rerank.py): similarity to the page plus
    # twice its 3 nearest neighbours' mean, and the words shared with it. Chosen
    # by same-category precision@10 (docs/evaluation.md, "More like this").
    expansion_neighbours=3,
    expansion_weight=2.0,
    lexical_weight=0.3,
)

FeedLike = str | FeedConfig | type[Feed] | None


def recommend(
    reader: Any = None,
    *,
    feed: FeedLike = None,
    limit: int = 10,
    context_page: Page | None = None,
    exclude: Iterable[Page | int] = (),
    now: datetime | None = None,
) -> list[Page]:
    """Pages for one reader, best first, each with ``page.recommendation``.

    ``reader`` is a request (best: it carries the site, language, user and
    visitor), a :class:`~wagtail_neural_feed.models.Reader`, a user, or None
    for an anonymous reader. ``context_page`` is the page being read: it is
    excluded and blended into the reader's profile ("for you, here").
    """
    config = get_feed_config(feed)
    audience = audience_for(reader, context_page=context_page)
    return _ranked_pages(
        config, audience, limit=limit, context_page=context_page, exclude=exclude, now=now
    )


def similar_pages(
    page: Page,
    *,
    limit: int = 5,
    feed: FeedLike = None,
    reader: Any = None,
    now: datetime | None = None,
) -> list[Page]:
    """Pages most like ``page`` that the reader may see (anonymous by default).

    With ``feed``, that feed's filters and weights apply; the reader's profile
    is not used: the list depends on the page, not on who reads it.
    """
    config = SIMILAR_FEED if feed is None else replace(get_feed_config(feed), context_weight=1.0)
    if "context" not in config.cold_start:
        config = replace(config, cold_start=("context", *config.cold_start))
    # Impersonal: no profile (no parent feed's either), and no "already read".
    config = replace(config, parent=None)
    audience = audience_for(reader, context_page=page).anonymised()
    return _ranked_pages(
        config, audience, limit=limit, context_page=page, now=now, personalise=False
    )


def explain(
    reader: Any = None,
    *,
    feed: FeedLike = None,
    limit: int = 10,
    context_page: Page | None = None,
    exclude: Iterable[Page | int] = (),
    analyze: bool = True,
) -> str:
    """The PostgreSQL plan of the ranking statement ``recommend()`` would run."""
    config = get_feed_config(feed)
    audience = audience_for(reader, context_page=context_page)
    limit = _checked_limit(limit)

    def plan() -> str:
        statement, _ = _statement(
            config, audience, limit=limit, context_page=context_page, exclude=exclude
        )
        return statement.explain(analyze=analyze)

    return replicas.rank_on_read_database(_marker_keys(audience, True), plan)


def _checked_limit(limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidRecommendationRequest(
            f"limit must be an integer from 1 to {MAX_LIMIT}, not {limit!r}."
        )
    return limit


def _statement(
    config: FeedConfig,
    audience: Audience,
    *,
    limit: int,
    context_page: Page | None,
    exclude: Iterable[Page | int] = (),
    now: datetime | None = None,
    personalise: bool = True,
) -> tuple[RankingStatement, Scope]:
    excluded = {item if isinstance(item, int) else item.pk for item in exclude}
    if context_page is not None:
        excluded.add(context_page.pk)
    scope = load_scope(
        config,
        audience,
        context_page_id=context_page.pk if context_page is not None else None,
        personalise=personalise,
    )
    statement = ranking_statement(
        config,
        audience,
        scope,
        limit=limit,
        exclude=sorted(excluded),
        pool=pool_size(config, limit),
        with_embeddings=config.diversity == "mmr",
        now=now,
    )
    return statement, scope


def _ranked_pages(
    config: FeedConfig,
    audience: Audience,
    *,
    limit: Any,
    context_page: Page | None,
    exclude: Iterable[Page | int] = (),
    now: datetime | None = None,
    personalise: bool = True,
) -> list[Page]:
    limit = _checked_limit(limit)
    rank = partial(
        _rank,
        config,
        audience,
        limit=limit,
        context_page=context_page,
        exclude=exclude,
        now=now,
        personalise=personalise,
    )
    # On the replica, unless it is behind this reader's own writes or failing.
    return replicas.rank_on_read_database(_marker_keys(audience, personalise), rank)


def _marker_keys(audience: Audience, personalise: bool) -> list[str]:
    if not personalise:
        return []
    return replicas.marker_keys(
        reader_id=audience.reader_id, user_id=audience.user_id, visitor_id=audience.visitor_id
    )


def _rank(
    config: FeedConfig,
    audience: Audience,
    *,
    limit: int,
    context_page: Page | None,
    exclude: Iterable[Page | int],
    now: datetime | None,
    personalise: bool,
) -> list[Page]:
    statement, scope = _statement(
        config,
        audience,
        limit=limit,
        context_page=context_page,
        exclude=exclude,
        now=now,
        personalise=personalise,
    )
    if config.diversity == "mmr":  # binary embeddings: the pages are fetched after the pick
        rows = statement.execute()
    else:
        rows = execute_with_pages(statement, page_models_for(config.page_types))
    if config.diversity == "mmr":
        rows = diversity.mmr(rows, limit=limit, lambda_=config.mmr_lambda)
    elif config.diversity == "section_cap":
        base = scope.section_path or diversity.site_path_of(rows, scope.site_paths)
        rows = diversity.cap_per_section(rows, limit=limit, cap=config.section_cap, base_path=base)
    return fetch_pages(rows[:limit], feed=config.slug)
