"""The interaction endpoint: beacons (views, dwell), like / dislike buttons, and
impressions of / clicks on rendered lists.

Every request is checked before anything is stored: method, size, content
type, JSON shape, the signed per-page token, rate limits, the page (exists,
live, viewable by this reader) and the kind and value. Failures answer 4xx
with ``{"error": "..."}``.
"""

from __future__ import annotations

import json
import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from wagtail.models import Page

from . import ratelimit, visitors
from .conf import neural_feed_settings
from .exceptions import InvalidInteraction
from .impressions import record_impression
from .models import PageEmbedding
from .tracking import (
    interaction_weight,
    read_list_token,
    reader_for,
    set_visitor_cookie,
    store_interaction,
    token_page_id,
    tracking_allowed,
)

logger = logging.getLogger(__name__)

JSON_TYPES = ("application/json", "text/plain")  # sendBeacon sends text/plain strings
#: Beacon kinds about rendered lists rather than pages (reserved: not interaction kinds).
LIST_KINDS = ("impression", "click")


def error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _over_limit(key: str, limit: int) -> bool:
    return not ratelimit.allow(key, limit)


def _client_ip(request: HttpRequest) -> str:
    return ratelimit.client_address(request)


def _reader_key(request: HttpRequest) -> str | None:
    """The rate-limit key of a known reader; None for a first visit (the IP limit applies)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    visitor = request.COOKIES.get(neural_feed_settings.VISITOR_COOKIE_NAME, "")
    return f"visitor:{visitor[:64]}" if visitor else None


def _parse(request: HttpRequest) -> tuple[dict | None, JsonResponse | None]:
    if request.method != "POST":
        response = error(405, "Use POST.")
        response["Allow"] = "POST"
        return None, response
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None, error(400, "Invalid Content-Length.")
    limit = neural_feed_settings.MAX_BODY_BYTES
    if length > limit:
        return None, error(413, f"The body is larger than {limit} bytes.")
    content_type = request.content_type or ""
    if content_type not in JSON_TYPES:
        return None, error(415, "Send JSON (application/json or text/plain).")
    body = request.read(limit + 1)
    if len(body) > limit:
        return None, error(413, f"The body is larger than {limit} bytes.")
    return _decode(body)


#: The body is one flat object; anything nested deeper is not ours.
MAX_JSON_DEPTH = 4


def _decode(body: bytes) -> tuple[dict | None, JsonResponse | None]:
    """The body as a JSON object, or a 400: never an exception, whatever the bytes."""
    if _nesting_depth(body) > MAX_JSON_DEPTH:
        return None, error(400, f"The body nests deeper than {MAX_JSON_DEPTH} levels.")
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None, error(400, "The body is not valid JSON.")
    if not isinstance(data, dict):
        return None, error(400, "The body must be a JSON object.")
    return data, None


def _nesting_depth(body: bytes) -> int:
    """Deepest bracket nesting, strings skipped: checked before parsing, so a
    deeply nested body costs a scan, not the parser's recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed")


#: Largest id PostgreSQL's bigint holds; a larger one would fail in the query.
MAX_ID = 2**63 - 1


def _validate(data: dict) -> tuple[tuple | None, JsonResponse | None]:
    page_id, kind, value, token = (data.get(k) for k in ("page", "kind", "value", "token"))
    if isinstance(page_id, bool) or not isinstance(page_id, int) or not 0 < page_id <= MAX_ID:
        return None, error(400, "page must be a positive integer page id.")
    if not isinstance(kind, str) or not kind:
        return None, error(400, "kind must be a string.")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        return None, error(400, "value must be a number or null.")
    if not isinstance(token, str) or not token:
        return None, error(403, "A token is required (render {% neural_feed_tracker %}).")
    if token_page_id(token) != page_id:
        return None, error(403, "The token does not match this page.")
    try:
        weight = interaction_weight(kind, value)
    except InvalidInteraction as exc:
        return None, error(400, str(exc))
    return (page_id, kind, value, weight), None


def _rate_limited(request: HttpRequest) -> JsonResponse | None:
    if _over_limit(f"ip:{_client_ip(request)}", neural_feed_settings.RATE_LIMIT_PER_IP_PER_MINUTE):
        return error(429, "Too many interactions from this address; slow down.")
    reader_key = _reader_key(request)
    if reader_key and _over_limit(reader_key, neural_feed_settings.RATE_LIMIT_PER_MINUTE):
        return error(429, "Too many interactions from this reader; slow down.")
    return None


def _list_beacon(request: HttpRequest, data: dict) -> HttpResponse:
    """An impression of a rendered list, or a click on a page in it (see :mod:`.impressions`).

    The signed list token stands in for the page token: it proves the server
    rendered this list, with these pages, so only they can be clicked.
    """
    kind, token, page_id = data.get("kind"), data.get("list"), data.get("page")
    if not isinstance(token, str) or not token:
        return error(403, "A list token is required (the data-neural-feed-list attribute).")
    shown = read_list_token(token)
    if shown is None or not isinstance(shown["list_id"], str) or not shown["list_id"]:
        return error(403, "The list token is forged or malformed.")
    if kind == "click":
        if isinstance(page_id, bool) or not isinstance(page_id, int) or page_id < 1:
            return error(400, "page must be the positive integer id of the page followed.")
        if page_id not in shown["page_ids"]:
            return error(400, "The page followed is not in this list.")
    elif page_id is not None:
        return error(400, "An impression has no page; send only kind and list.")
    problem = _rate_limited(request)
    if problem:
        return problem
    if not tracking_allowed(request):
        return HttpResponse(status=204)
    reader = reader_for(request, create=True, probation=True)
    if reader is None:
        # A first contact: scripts never come back, so nothing is stored (no
        # Reader row, no impression). The tracker sends a page's view before
        # its lists' beacons, so a browser's impressions arrive as a return.
        visitors.begin(request._neural_feed_probation)
        response = JsonResponse({"list": shown["list_id"], "stored": False}, status=202)
    else:
        record_impression(reader, shown, clicked_page_id=page_id if kind == "click" else None)
        response = JsonResponse({"list": shown["list_id"]}, status=201)
    set_visitor_cookie(request, response)
    return response


@csrf_exempt  # the signed page token replaces the CSRF token (beacons carry no headers)
def interactions(request: HttpRequest) -> HttpResponse:
    """Record one interaction. 201 when stored, 204 when tracking is not allowed."""
    data, problem = _parse(request)
    if problem:
        return problem
    if data.get("kind") in LIST_KINDS:
        return _list_beacon(request, data)
    values, problem = _validate(data)
    if problem:
        return problem
    page_id, kind, value, weight = values
    problem = _rate_limited(request)
    if problem:
        return problem
    # One indexed lookup decides most requests: only recommendable pages have
    # a row, and its live / view_restricted columns follow the page.
    row = PageEmbedding.objects.filter(page_id=page_id, live=True).values_list(
        "view_restricted", flat=True
    )
    restricted = next(iter(row), None)
    if restricted is None:
        return error(404, "No live recommendable page with this id.")
    if restricted:
        page = Page.objects.get(pk=page_id)
        for restriction in page.get_view_restrictions():
            if not restriction.accept_request(request):
                return error(403, "This page is not visible to you.")
    if not tracking_allowed(request):
        return HttpResponse(status=204)
    reader = reader_for(request, create=True, probation=True)
    if reader is None:  # a first visit, on probation: held, not stored yet
        interaction = visitors.hold_interaction(request, page_id, kind, value, weight)
    else:
        interaction = store_interaction(reader, page_id, kind, value, weight)
    response = JsonResponse({"id": interaction.pk}, status=201)
    set_visitor_cookie(request, response)
    return response
