"""Template tags: ``{% load neural_feed %}``."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from wagtail.models import Page

from ..conf import neural_feed_settings
from ..lists import SIMILAR_TITLE, RecommendationList
from ..pagetypes import is_recommendable
from ..rendering import ListOptions, render_list, render_placeholder, safe_list
from ..tracking import page_token

register = template.Library()


@register.inclusion_tag("wagtail_neural_feed/tracker.html", takes_context=True)
def neural_feed_tracker(context, page=None) -> dict:
    """The beacon script for ``page`` (default: the ``page`` in the context).

    It reports a view when the page is shown and the reading time when it is
    left, with ``navigator.sendBeacon``; it works on CDN-cached pages (the
    token is per page, not per reader) and honours Do Not Track, Global
    Privacy Control and the consent cookie in the browser too. It also reports
    impressions of and clicks on rendered lists (``data-neural-feed-list``) and
    fills client-side placeholders (``data-neural-feed-placeholder``) from the
    JSON API. On a page that does not take part (a home page, an index, a
    view without a page) it only reports the lists and fills placeholders.
    """
    page = page or context.get("page")
    tracked = page is not None and bool(getattr(page, "pk", None)) and is_recommendable(page)
    return {
        "enabled": True,
        "config": {
            "endpoint": reverse("wagtail_neural_feed:interactions"),
            # null on a page that does not take part: no view, reading time or likes.
            "page": page.pk if tracked else None,
            "token": page_token(page.pk) if tracked else "",
            "respectDnt": bool(neural_feed_settings.RESPECT_DO_NOT_TRACK),
            "consentCookie": neural_feed_settings.CONSENT_COOKIE_NAME or "",
            # The JSON API, for [data-neural-feed-placeholder] elements (client-side mode).
            "recommendationsEndpoint": reverse("wagtail_neural_feed:recommendations"),
            # ".../similar/" without an id: the script appends the context page id.
            "similarEndpoint": reverse("wagtail_neural_feed:similar", args=["0"])[:-2],
        },
    }


# --- recommendation lists ----------------------------------------------------------
# The assignment tags return a RecommendationList: loop over it for the pages
# (each with ``page.recommendation``), read ``pages.list_token`` for the
# tracker. The ``*_list`` tags render the default (or per-feed) template.
# ``context`` is a tag argument, so the template context is positional-only.

LIST_ARGUMENTS = {"feed", "limit", "context", "picks", "personalise_picks"}
RENDER_ARGUMENTS = {
    "heading",
    "layout",
    "show_summary",
    "show_image",
    "empty_text",
    "hide_when_empty",
    "client_side",
}


def _page_or_none(value: Any) -> Page | None:
    return value if isinstance(value, Page) and value.pk else None


def _checked(tag: str, kwargs: dict, allowed: set[str]) -> None:
    unknown = set(kwargs) - allowed
    if unknown:
        raise template.TemplateSyntaxError(
            f"{tag} got unknown arguments {', '.join(sorted(unknown))}; "
            f"it takes {', '.join(sorted(allowed))}."
        )


def _list_kwargs(template_context, kwargs: dict) -> dict:
    """Arguments for the list service; ``context`` defaults to the template's ``page``."""
    context_page = kwargs["context"] if "context" in kwargs else template_context.get("page")
    return {
        "feed": kwargs.get("feed") or None,
        "limit": kwargs.get("limit", 6),
        "context_page": _page_or_none(context_page),
        "picks": _pick_ids(kwargs.get("picks") or ()),
        "personalise_picks": bool(kwargs.get("personalise_picks", False)),
    }


def _pick_ids(picks: Any) -> tuple[int, ...]:
    if isinstance(picks, str):
        return tuple(int(part) for part in picks.split(",") if part.strip().isdigit())
    if isinstance(picks, int | Page):
        picks = [picks]
    return tuple(p if isinstance(p, int) else p.pk for p in picks if p is not None)


def _options(kwargs: dict, *, default_heading: str = "") -> ListOptions:
    return ListOptions(
        heading=str(kwargs.get("heading") or default_heading),
        layout=kwargs.get("layout", "list"),
        show_summary=bool(kwargs.get("show_summary", True)),
        show_image=bool(kwargs.get("show_image", False)),
        empty_text=str(kwargs.get("empty_text") or ""),
        hide_when_empty=bool(kwargs.get("hide_when_empty", True)),
        client_side=bool(kwargs.get("client_side", False)),
    )


@register.simple_tag(takes_context=True)
def recommended_pages(context, /, **kwargs: Any) -> RecommendationList:
    """``{% recommended_pages feed="news" limit=5 context=page as pages %}``.

    Also takes ``picks`` (pages or ids, placed first) and ``personalise_picks``.
    ``context`` defaults to the template's ``page`` (never in the list);
    ``context=None`` means no context page.
    """
    _checked("recommended_pages", kwargs, LIST_ARGUMENTS)
    return safe_list(context.get("request"), **_list_kwargs(context, kwargs))


@register.simple_tag(takes_context=True)
def similar_pages(context, page: Any = None, /, **kwargs: Any) -> RecommendationList:
    """``{% similar_pages page limit=5 as pages %}`` (default page: the template's ``page``)."""
    _checked("similar_pages", kwargs, {"feed", "limit"})
    page = _page_or_none(page if page is not None else context.get("page"))
    if page is None:
        return RecommendationList(pages=[], feed="similar", title="")
    return safe_list(
        context.get("request"),
        feed=kwargs.get("feed") or None,
        limit=kwargs.get("limit", 5),
        similar_to=page,
    )


@register.simple_tag(takes_context=True)
def recommended_pages_list(context, /, **kwargs: Any) -> str:
    """``{% recommended_pages_list feed="news" limit=6 layout="cards" %}``: the rendered list.

    Takes the arguments of ``recommended_pages`` plus heading, layout ("list"
    or "cards"), show_summary, show_image, empty_text, hide_when_empty and
    client_side (render the placeholder the tracker fills in the browser).
    """
    _checked("recommended_pages_list", kwargs, LIST_ARGUMENTS | RENDER_ARGUMENTS)
    options = _options(kwargs)
    arguments = _list_kwargs(context, kwargs)
    if options.client_side:
        return render_placeholder(
            options,
            feed=arguments["feed"] or "",
            limit=arguments["limit"],
            context_page=arguments["context_page"],
            picks=arguments["picks"],
        )
    request = context.get("request")
    return render_list(safe_list(request, **arguments), options, request=request)


@register.simple_tag(takes_context=True)
def similar_pages_list(context, page: Any = None, /, **kwargs: Any) -> str:
    """``{% similar_pages_list page limit=4 %}``: the rendered "More like this" list."""
    _checked("similar_pages_list", kwargs, {"feed", "limit"} | RENDER_ARGUMENTS)
    options = _options(kwargs, default_heading=str(SIMILAR_TITLE))
    page = _page_or_none(page if page is not None else context.get("page"))
    if options.client_side:
        return render_placeholder(
            options,
            feed=kwargs.get("feed") or "",
            limit=kwargs.get("limit", 5),
            context_page=page,
            similar=True,
        )
    recommendations = similar_pages(
        context, page, **{k: kwargs[k] for k in ("feed", "limit") if k in kwargs}
    )
    return render_list(recommendations, options, request=context.get("request"))
