"""The headless JSON API: a reader's recommendations and "more like this" lists.

``GET <prefix>/recommendations/?feed=&limit=&context=<page id>`` and
``GET <prefix>/similar/<page id>/?feed=&limit=`` answer with pages serialised
the way Wagtail's API v2 lists pages, each with its ``recommendation``, plus
the list's ``feed`` and the signed ``list_token`` the tracker reports
impressions and clicks with. The reader comes from the same cookie / session
as the beacon; every answer is personal (``Cache-Control: private``,
``Vary: Cookie``). Sites that mount Wagtail's API router can use
:class:`wagtail_neural_feed.api_v2.RecommendationsAPIViewSet` instead.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control, patch_vary_headers
from wagtail.models import Locale, Page, PageViewRestriction, Site

from .admin_feeds import one_version_read
from .conf import neural_feed_settings
from .exceptions import InvalidRecommendationRequest, PageNotAvailable, UnknownFeed
from .feeds import DEFAULT_FEED_SLUG, get_feed_config
from .lists import recommendation_list
from .sites import site_for_request
from .views import _client_ip, _over_limit

logger = logging.getLogger(__name__)

#: Query parameters each endpoint understands (``_`` is a cache-buster some clients add).
QUERY_PARAMETERS = frozenset({"feed", "limit", "context", "_"})
SIMILAR_FEED_LABEL = "similar"
_POSITIVE_INT = re.compile(r"[1-9][0-9]{0,17}")


@dataclass(frozen=True)
class ListQuery:
    """A validated request for one list."""

    feed: str | None
    limit: int
    context: Page | None
    similar: bool

    @property
    def feed_label(self) -> str:
        """The feed named in answers and impressions."""
        return self.feed or (SIMILAR_FEED_LABEL if self.similar else DEFAULT_FEED_SLUG)


@dataclass(frozen=True)
class RankedList:
    query: ListQuery
    pages: list[Page]
    list_token: str | None


def _positive_int(raw: str, name: str) -> int:
    if not _POSITIVE_INT.fullmatch(raw):
        raise InvalidRecommendationRequest(f"{name} must be a positive integer, not {raw!r}.")
    return int(raw)


def parse_query(
    request: HttpRequest,
    params: Mapping[str, str],
    *,
    similar_to: str | None = None,
    allowed: frozenset[str] = QUERY_PARAMETERS,
) -> ListQuery:
    """Validate the query string; raises InvalidRecommendationRequest (400) or
    UnknownFeed / PageNotAvailable (404)."""
    similar = similar_to is not None
    if similar:  # the page in the path is the context
        allowed = allowed - {"context"}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise InvalidRecommendationRequest(
            f"Unknown query parameter(s): {', '.join(unknown)}; use {', '.join(sorted(allowed))}."
        )
    maximum = neural_feed_settings.API_MAX_LIMIT
    raw_limit = params.get("limit", "")
    limit = _positive_int(raw_limit, "limit") if raw_limit else (5 if similar else 10)
    if limit > maximum:
        raise InvalidRecommendationRequest(f"limit must be from 1 to {maximum}, not {limit}.")
    feed = params.get("feed") or None
    if feed is not None:
        get_feed_config(feed)  # UnknownFeed for a slug nobody registered
    raw_context = similar_to if similar else params.get("context", "")
    context = visible_page(request, _positive_int(raw_context, "context")) if raw_context else None
    return ListQuery(feed=feed, limit=limit, context=context, similar=similar)


def visible_page(request: HttpRequest, page_id: int) -> Page:
    """The live page ``page_id`` if this reader may see it on this request's site.

    Missing, draft, unpublished, view-restricted (unless the reader passes the
    restriction, as Wagtail would serve it) and other sites' pages all raise
    PageNotAvailable alike, so the API does not reveal which pages exist.
    One query when neither the page nor an ancestor is restricted or an alias
    (Wagtail's own check, two more queries, decides when one is).
    """
    page = Page.objects.live().filter(pk=page_id).annotate(nf_guarded=_guarded()).first()
    if page is None:
        raise PageNotAvailable(f"No page {page_id} is available to you.")
    site = Site.find_for_request(request)
    if site is not None:
        parts = page.get_url_parts(request)
        if parts is None or parts[0] != site.pk:
            raise PageNotAvailable(f"No page {page_id} is available to you.")
    if page.nf_guarded:
        for restriction in page.get_view_restrictions():
            if not restriction.accept_request(request):
                raise PageNotAvailable(f"No page {page_id} is available to you.")
    return page


def _guarded() -> RawSQL:
    """Whether the page or an ancestor has a view restriction or is an alias (whose
    source's restrictions apply, as ``Page.get_view_restrictions`` resolves them)."""
    quote = connection.ops.quote_name
    pages, restrictions = quote(Page._meta.db_table), quote(PageViewRestriction._meta.db_table)
    return RawSQL(
        f"EXISTS (SELECT 1 FROM {pages} nf_up WHERE nf_up.path IN ("
        f"SELECT substr({pages}.path, 1, %s * nf_depth) "
        f"FROM generate_series(1, {pages}.depth) nf_depth) "
        f"AND (nf_up.alias_of_id IS NOT NULL OR EXISTS "
        f"(SELECT 1 FROM {restrictions} nf_r WHERE nf_r.page_id = nf_up.id)))",
        [Page.steplen],
        output_field=BooleanField(),
    )


def ranked_list(request: HttpRequest, query: ListQuery) -> RankedList:
    """The pages for ``query`` and the signed token the tracker reports them with.

    From the lists service that blocks and tags use, so every surface gives a
    reader the same list (and the same per-reader cache serves them all).
    """
    if query.similar:
        shown = recommendation_list(
            request, feed=query.feed, limit=query.limit, similar_to=query.context
        )
    else:
        shown = recommendation_list(
            request, feed=query.feed, limit=query.limit, context_page=query.context
        )
    token = shown.list_token if shown.pages else None
    return RankedList(query=query, pages=list(shown.pages), list_token=token)


def recommendation_data(page: Page) -> dict[str, Any]:
    """Why the page is in the list: its rank and the parts of its score."""
    rec = page.recommendation
    return {
        "rank": rec.rank,
        "score": rec.score,
        "similarity": rec.similarity,
        "freshness": rec.freshness,
        "popularity": rec.popularity,
    }


def list_data(ranked: RankedList, items: list[dict]) -> dict[str, Any]:
    query = ranked.query
    return {
        "meta": {"total_count": len(items)},
        "feed": query.feed_label,
        "context": query.context.pk if query.context is not None else None,
        "list_token": ranked.list_token,
        "items": items,
    }


def _iso(value: datetime | None) -> str | None:
    """Datetimes as Wagtail's API (Django REST framework) writes them."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


#: Full page URLs by (page, its url_path, the request's site, every site's root path).
_urls: dict[tuple, str | None] = {}
URL_CACHE_SIZE = 10_000


def page_url(page: Page, request: HttpRequest) -> str | None:
    """``page.get_full_url(request)``, remembered per process.

    Wagtail reverses its serve URL for every page (a tenth of a list's time in
    the profile). The answer depends only on what the key holds: the page's
    ``url_path`` (a move or new slug changes it), the request's site (a page
    reachable from several sites prefers it) and the sites' root paths and
    languages (Wagtail's own cached list). Page types that route themselves
    (their own ``get_url_parts`` or ``get_full_url``) are asked every time.
    """
    cls = type(page)
    if cls.get_url_parts is not Page.get_url_parts or cls.get_full_url is not Page.get_full_url:
        return page.get_full_url(request)
    roots = getattr(request, "_wagtail_cached_site_root_paths", None)
    if roots is None:  # as Page._get_site_root_paths caches them on the request
        roots = request._wagtail_cached_site_root_paths = Site.get_site_root_paths()
    site = getattr(request, "_wagtail_site", None)
    key = (page.pk, page.url_path, site.pk if site is not None else None, tuple(roots))
    try:
        return _urls[key]
    except KeyError:
        pass
    if len(_urls) >= URL_CACHE_SIZE:
        _urls.clear()
    url = _urls[key] = page.get_full_url(request)
    return url


def serialise_page(page: Page, request: HttpRequest, locales: dict[int, str]) -> dict[str, Any]:
    """A page as Wagtail's API v2 lists it (its default listing fields), plus ``recommendation``."""
    meta = {
        "type": f"{page._meta.app_label}.{type(page).__name__}",
        "html_url": page_url(page, request),
        "slug": page.slug,
        "first_published_at": _iso(page.first_published_at),
        "search_description": page.search_description,
    }
    if locales:
        meta["locale"] = locales.get(page.locale_id)
    return {
        "id": page.pk,
        "meta": meta,
        "title": page.title,
        "recommendation": recommendation_data(page),
    }


_locale_codes: dict[int, str] = {}


def locale_codes(locale_ids: set[int]) -> dict[int, str]:
    """Language codes by locale id (for ``meta.locale``), read again only when a locale is new;
    empty when Wagtail's internationalisation is off (its API omits the field then)."""
    if not getattr(settings, "WAGTAIL_I18N_ENABLED", False):
        return {}
    if not locale_ids <= _locale_codes.keys():
        _locale_codes.update(Locale.objects.values_list("pk", "language_code"))
    return _locale_codes


def personal(response: HttpResponse) -> HttpResponse:
    """Keep an answer out of shared caches: it depends on who asks."""
    patch_cache_control(response, private=True)
    patch_vary_headers(response, ["Cookie"])
    return response


def rate_limited(request: HttpRequest) -> bool:
    limit = neural_feed_settings.API_RATE_LIMIT_PER_IP_PER_MINUTE
    return bool(limit) and _over_limit(f"api-ip:{_client_ip(request)}", limit)


def _answer(request: HttpRequest, similar_to: str | None) -> HttpResponse:
    with one_version_read():  # the site, the feed and its default: one stamp read
        return _list_response(request, similar_to)


def _list_response(request: HttpRequest, similar_to: str | None) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        response = JsonResponse({"error": "Use GET."}, status=405)
        response["Allow"] = "GET, HEAD"
        return response
    if rate_limited(request):
        return personal(JsonResponse({"error": "Too many requests; slow down."}, status=429))
    site_for_request(request)  # once per process, not a query per request
    try:
        query = parse_query(request, request.GET, similar_to=similar_to)
        ranked = ranked_list(request, query)
    except InvalidRecommendationRequest as exc:
        return personal(JsonResponse({"error": str(exc)}, status=400))
    except (UnknownFeed, PageNotAvailable) as exc:
        return personal(JsonResponse({"error": str(exc)}, status=404))
    locales = locale_codes({page.locale_id for page in ranked.pages})
    items = [serialise_page(page, request, locales) for page in ranked.pages]
    return personal(JsonResponse(list_data(ranked, items)))


def recommendations(request: HttpRequest) -> HttpResponse:
    """``GET recommendations/?feed=&limit=&context=``: the reader's list."""
    return _answer(request, None)


def similar(request: HttpRequest, page_id: str) -> HttpResponse:
    """``GET similar/<page id>/?feed=&limit=``: pages like one the reader may see."""
    return _answer(request, page_id)
