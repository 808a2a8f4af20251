"""The Python API: ``recommend()``, ``similar_pages()`` and ``explain()``.

Each list is two round trips for ranking (see :mod:`.ranking`) plus one query
per page type in the list to fetch the specific pages.
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connections
from django.http import HttpRequest
from django.utils import translation
from wagtail.coreutils import get_supported_content_language_variant
from wagtail.models import Page, PageViewRestriction, Site
from wagtail.models.pages import BasePageManager

from . import diversity, ranking
from .exceptions import InvalidRecommendationRequest
from .feeds import DEFAULT_FEED_SLUG, Feed, FeedConfig, get_feed_config
from .models import Reader
from .statements import read_alias, run_statement

logger = logging.getLogger(__name__)

MAX_LIMIT = 100

#: "More like this": similarity first, freshness only to order pages that
#: are equally close (or when the page itself has no embedding yet).
SIMILAR_FEED = FeedConfig(
    slug="similar",
    title="More like this",
    similarity_weight=1.0,
    freshness_weight=0.05,
    popularity_weight=0.0,
    exclude_read=False,
    context_weight=1.0,
    cold_start=("context", "fresh"),
)


@dataclass(frozen=True)
class Recommendation:
    """Why a page is in a list: its rank and the parts of its score."""

    feed: str
    rank: int
    score: float
    similarity: float
    freshness: float
    popularity: float
    #: How the ranking showed that no page left out could have made the list:
    #: "hot tier" (the bound held), "fallback" (range scans ran) or "exact" (a
    #: small site: every eligible page scored); see docs/ranking.md.
    completeness: str = ""


FeedLike = str | FeedConfig | type[Feed] | None


def recommend(
    reader_or_request: Any = None,
    *,
    feed: FeedLike = None,
    limit: int = 10,
    context_page: Page | None = None,
    exclude: Iterable[Page | int] = (),
    now: datetime | None = None,
) -> list[Page]:
    """Pages for one reader, best first, each with ``page.recommendation``.

    ``reader_or_request`` is a request (best: it carries the site, language,
    user and visitor), a :class:`~wagtail_neural_feed.models.Reader`, a user,
    or None for an anonymous reader. ``context_page`` is the page being read:
    it is excluded and blended into the reader's profile ("for you, here").
    """
    config = get_feed_config(feed)
    return _ranked_pages(
        config,
        audience_for(reader_or_request, context_page=context_page),
        limit=limit,
        context_page=context_page,
        exclude=exclude,
        personalise=True,
        now=now,
    )


def similar_pages(
    page: Page,
    *,
    limit: int = 5,
    feed: FeedLike = None,
    reader_or_request: Any = None,
    now: datetime | None = None,
) -> list[Page]:
    """Pages most like ``page`` that the reader may see (anonymous by default).

    With ``feed``, that feed's filters and weights apply; the reader's profile
    is not used: the list depends on the page, not on who reads it.
    """
    config = SIMILAR_FEED if feed is None else replace(get_feed_config(feed), context_weight=1.0)
    if "context" not in config.cold_start:
        config = replace(config, cold_start=("context", *config.cold_start))
    return _ranked_pages(
        config,
        audience_for(reader_or_request, context_page=page),
        limit=limit,
        context_page=page,
        exclude=(),
        personalise=False,
        now=now,
    )


def explain(
    reader_or_request: Any = None,
    *,
    feed: FeedLike = None,
    limit: int = 10,
    context_page: Page | None = None,
    exclude: Iterable[Page | int] = (),
    analyze: bool = True,
) -> str:
    """The PostgreSQL plan of the ranking statement ``recommend()`` would run."""
    config = get_feed_config(feed)
    audience = audience_for(reader_or_request, context_page=context_page)
    statement, _ = _statement(
        config,
        audience,
        limit=_checked_limit(limit),
        context_page=context_page,
        exclude=exclude,
        personalise=True,
        now=None,
    )
    return statement.explain(analyze=analyze)


def _checked_limit(limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidRecommendationRequest(
            f"limit must be an integer from 1 to {MAX_LIMIT}, not {limit!r}."
        )
    return limit


def _statement(config, audience, *, limit, context_page, exclude, personalise, now):
    excluded = {item if isinstance(item, int) else item.pk for item in exclude}
    if context_page is not None:
        excluded.add(context_page.pk)
    prepared = ranking.prepare(
        config if personalise else replace(config, parent=None),
        audience if personalise else replace(audience, reader_id=None, visitor_id=None),
        context_page_id=context_page.pk if context_page is not None else None,
        personalise=personalise,
    )
    pool = limit
    if config.diversity == "mmr":
        pool = 3 * limit
    elif config.diversity == "section_cap":
        pool = ranking.candidate_count(config, limit)
    statement = ranking.ranking_statement(
        config,
        audience,
        prepared,
        limit=limit,
        exclude=sorted(excluded),
        pool=pool,
        with_embeddings=config.diversity == "mmr",
        now=now,
    )
    return statement, prepared


def _ranked_pages(config, audience, *, limit, context_page, exclude, personalise, now):
    limit = _checked_limit(limit)
    statement, prepared = _statement(
        config,
        audience,
        limit=limit,
        context_page=context_page,
        exclude=exclude,
        personalise=personalise,
        now=now,
    )
    rows = statement.execute()
    if config.diversity == "mmr":
        rows = diversity.mmr(rows, limit=limit, lambda_=config.mmr_lambda)
    elif config.diversity == "section_cap":
        base = prepared.section_path or _site_path_of(rows, prepared.site_paths)
        rows = diversity.cap_per_section(rows, limit=limit, cap=config.section_cap, base_path=base)
    return fetch_pages(rows[:limit], feed=config.slug)


def _site_path_of(rows, site_paths) -> str:
    """The site root (in the list's locale) the rows sit under."""
    for path in site_paths:
        if rows and rows[0].path.startswith(path):
            return path
    return rows[0].path[: diversity.STEPLEN * 2] if rows else ""


def fetch_pages(rows: list[ranking.RankedRow], *, feed: str = DEFAULT_FEED_SLUG) -> list[Page]:
    """Specific page objects for ranked rows, in order: one query per page type."""
    by_type: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        by_type[row.content_type_id].append(row.page_id)
    pages: dict[int, Page] = {}
    alias = read_alias()
    for content_type_id, ids in by_type.items():
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        if model is None:  # a page type whose code was removed
            continue
        for page in _live_pages(model, alias, ids):
            pages[page.pk] = page
    result = []
    for rank, row in enumerate(rows, start=1):
        page = pages.get(row.page_id)
        if page is None:
            continue
        page.recommendation = Recommendation(
            feed=feed,
            rank=rank,
            score=row.score,
            similarity=row.similarity,
            freshness=row.freshness,
            popularity=row.popularity,
            completeness=row.completeness,
        )
        result.append(page)
    return result


def _live_pages(model: type[Page], alias: str, ids: list[int]) -> Iterable[Page]:
    """The live pages of one type among ``ids``, in no particular order.

    For Wagtail's own page manager the query is compiled once per page type
    and runs as a prepared statement, and rows become pages the way Django's
    own iterator makes them (field converters, then ``from_db``): building
    the same query, planning it and walking a raw queryset's machinery was
    most of the fetch's time. A custom manager, whose queryset may change
    from call to call, gets a fresh ORM query every time.
    """
    compiled = _compiled_live_pages(model, alias)
    if compiled is None:
        return model._default_manager.db_manager(alias).filter(pk__in=ids, live=True).order_by()
    rows = run_statement(compiled.sql, [*compiled.params, ids])
    connection = connections[alias]
    pages = []
    for row in rows:
        if compiled.converters:
            row = list(row)
            for index, (functions, expression) in compiled.converters.items():
                for function in functions:
                    row[index] = function(row[index], expression, connection)
        pages.append(model.from_db(alias, compiled.attnames, row))
    return pages


@dataclass(frozen=True)
class _CompiledPageQuery:
    sql: str
    params: tuple
    attnames: tuple[str, ...]
    #: column index -> (converter functions, column expression), as Django's compiler gives them
    converters: dict


@functools.lru_cache(maxsize=256)
def _compiled_live_pages(model: type[Page], alias: str) -> _CompiledPageQuery | None:
    manager = model._default_manager
    if type(manager).get_queryset is not BasePageManager.get_queryset:
        return None
    queryset = manager.db_manager(alias).filter(live=True).order_by()
    compiler = queryset.query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    columns = [expression for expression, _, _ in compiler.select]
    if compiler.annotation_col_map or list(compiler.klass_info["select_fields"]) != list(
        range(len(columns))
    ):
        return None  # a manager whose query selects more than the page's own fields
    quote = connections[alias].ops.quote_name
    page_id = f"{quote(Page._meta.db_table)}.{quote(Page._meta.pk.column)}"
    return _CompiledPageQuery(
        sql=f"{sql} AND {page_id} = ANY(%s)",
        params=tuple(params),
        attnames=tuple(column.target.attname for column in columns),
        converters=compiler.get_converters(columns),
    )


# --- who is asking ------------------------------------------------------------


def audience_for(reader_or_request: Any, *, context_page: Page | None = None) -> ranking.Audience:
    """Describe the reader: their identity, what they may see, their site and locale."""
    locale_id = context_page.locale_id if context_page is not None else None
    if isinstance(reader_or_request, HttpRequest):
        return _audience_for_request(reader_or_request, locale_id=locale_id, context=context_page)
    if isinstance(reader_or_request, Reader):
        user = reader_or_request.user if reader_or_request.user_id else None
        return replace(
            _audience_for_user(user, locale_id=locale_id),
            reader_id=reader_or_request.pk,
        )
    if reader_or_request is None or getattr(reader_or_request, "is_authenticated", False):
        return _audience_for_user(reader_or_request, locale_id=locale_id)
    if getattr(reader_or_request, "is_anonymous", False):  # AnonymousUser
        return _audience_for_user(None, locale_id=locale_id)
    raise InvalidRecommendationRequest(
        "Pass a request, a Reader, a user or None as the reader, "
        f"not {type(reader_or_request).__name__}."
    )


def _language_code() -> str | None:
    try:
        return get_supported_content_language_variant(translation.get_language())
    except LookupError:
        return None


def _audience_for_user(user, *, locale_id: int | None) -> ranking.Audience:
    authenticated = bool(user is not None and user.is_authenticated)
    return ranking.Audience(
        user_id=user.pk if authenticated else None,
        is_authenticated=authenticated,
        is_superuser=bool(authenticated and getattr(user, "is_superuser", False)),
        locale_id=locale_id,
        language_code=_language_code(),
    )


def _audience_for_request(request: HttpRequest, *, locale_id, context) -> ranking.Audience:
    from .tracking import visitor_id as visitor_id_from_request

    user = getattr(request, "user", None)
    audience = _audience_for_user(user, locale_id=locale_id)
    cached_reader = getattr(request, "_neural_feed_reader", None)
    visitor = None if audience.is_authenticated else visitor_id_from_request(request)
    site_root_id = None
    if context is None:
        site = getattr(request, "_wagtail_site", None) or Site.find_for_request(request)
        site_root_id = site.root_page_id if site is not None else None
    passed: tuple[int, ...] = ()
    session = getattr(request, "session", None)
    if session is not None and (audience.is_authenticated or _has_session_cookie(request)):
        key = PageViewRestriction.passed_view_restrictions_session_key
        passed = tuple(int(pk) for pk in session.get(key, ()))
    return replace(
        audience,
        reader_id=cached_reader.pk if cached_reader is not None else None,
        visitor_id=str(visitor) if visitor else None,
        passed_restrictions=passed,
        site_root_id=site_root_id,
    )


def _has_session_cookie(request: HttpRequest) -> bool:
    from django.conf import settings

    return settings.SESSION_COOKIE_NAME in request.COOKIES
