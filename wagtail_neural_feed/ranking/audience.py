"""Who a list is for: the reader's identity, what they may see, their site and locale."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import translation
from wagtail.coreutils import get_supported_content_language_variant
from wagtail.models import Page, PageViewRestriction, Site

from ..exceptions import InvalidRecommendationRequest
from ..models import Reader
from ..tracking import visitor_id


@dataclass(frozen=True)
class Audience:
    """Who a list is for and where they are: decides what may be shown.

    Identify the reader by ``reader_id``, or by ``user_id`` / ``visitor_id``
    (resolved inside the first query, saving a round trip).
    """

    reader_id: int | None = None
    user_id: int | None = None
    visitor_id: str | None = None
    is_authenticated: bool = False
    is_superuser: bool = False
    #: Ids of password restrictions this session has passed.
    passed_restrictions: tuple[int, ...] = ()
    #: Root page of the reader's site; None = found from the context page, else the default site.
    site_root_id: int | None = None
    #: Locale of the list; None = the context page's, else the active language's.
    locale_id: int | None = None
    language_code: str | None = None

    def anonymised(self) -> Audience:
        """The same place and permissions, without the reader's identity (no profile)."""
        return replace(self, reader_id=None, visitor_id=None)


def audience_for(reader: Any, *, context_page: Page | None = None) -> Audience:
    """Describe the reader given as a request (best: it carries the site, language,
    user and visitor), a :class:`Reader`, a user, or None (anonymous)."""
    locale_id = context_page.locale_id if context_page is not None else None
    if isinstance(reader, HttpRequest):
        return _audience_for_request(reader, locale_id=locale_id, context=context_page)
    if isinstance(reader, Reader):
        user = reader.user if reader.user_id else None
        return replace(_audience_for_user(user, locale_id=locale_id), reader_id=reader.pk)
    if reader is None or getattr(reader, "is_authenticated", False):
        return _audience_for_user(reader, locale_id=locale_id)
    if getattr(reader, "is_anonymous", False):  # AnonymousUser
        return _audience_for_user(None, locale_id=locale_id)
    raise InvalidRecommendationRequest(
        f"Pass a request, a Reader, a user or None as the reader, not {type(reader).__name__}."
    )


def _language_code() -> str | None:
    try:
        return get_supported_content_language_variant(translation.get_language())
    except LookupError:
        return None


def _audience_for_user(user, *, locale_id: int | None) -> Audience:
    authenticated = bool(user is not None and user.is_authenticated)
    return Audience(
        user_id=user.pk if authenticated else None,
        is_authenticated=authenticated,
        is_superuser=bool(authenticated and getattr(user, "is_superuser", False)),
        locale_id=locale_id,
        language_code=_language_code(),
    )


def _audience_for_request(request: HttpRequest, *, locale_id, context) -> Audience:
    user = getattr(request, "user", None)
    audience = _audience_for_user(user, locale_id=locale_id)
    cached_reader = getattr(request, "_neural_feed_reader", None)
    visitor = None if audience.is_authenticated else visitor_id(request)
    site_root_id = None
    if context is None:
        site = getattr(request, "_wagtail_site", None) or Site.find_for_request(request)
        site_root_id = site.root_page_id if site is not None else None
    passed: tuple[int, ...] = ()
    session = getattr(request, "session", None)
    has_session = settings.SESSION_COOKIE_NAME in request.COOKIES
    if session is not None and (audience.is_authenticated or has_session):
        key = PageViewRestriction.passed_view_restrictions_session_key
        passed = tuple(int(pk) for pk in session.get(key, ()))
    return replace(
        audience,
        reader_id=cached_reader.pk if cached_reader is not None else None,
        visitor_id=str(visitor) if visitor else None,
        passed_restrictions=passed,
        site_root_id=site_root_id,
    )
