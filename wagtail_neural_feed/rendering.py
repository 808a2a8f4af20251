"""Turning a :class:`~.lists.RecommendationList` into HTML, for blocks and tags.

Templates are looked up per feed first (``wagtail_neural_feed/feeds/<slug>.html``)
and then the default ``wagtail_neural_feed/page_list.html``. Page types choose
their image and summary with two optional methods,
``get_recommendation_image()`` and ``get_recommendation_summary()``; without
them the summary is the search description and the image is the page's first
image field.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.apps import apps
from django.http import HttpRequest
from django.template import TemplateDoesNotExist
from django.template.loader import get_template, render_to_string, select_template
from django.utils.safestring import SafeString
from wagtail.models import Page

from .exceptions import NeuralFeedError
from .lists import RecommendationList, recommendation_list
from .page_urls import page_urls
from .pagetypes import recommendable_models

logger = logging.getLogger(__name__)

DEFAULT_TEMPLATE = "wagtail_neural_feed/page_list.html"
IMAGE_TEMPLATE = "wagtail_neural_feed/includes/image.html"
#: The filter spec IMAGE_TEMPLATE renders (a literal there: keep the two the same).
IMAGE_FILTER = "fill-480x270"
# The package's template directory as Django's loaders name it, and resolved
# (a source checkout links it to the top-level templates/).
_OWN_TEMPLATES = tuple(
    {
        f"{path}{os.sep}"
        for path in (
            Path(__file__).parent / "templates",
            (Path(__file__).parent / "templates").resolve(),
        )
    }
)
PLACEHOLDER_TEMPLATE = "wagtail_neural_feed/placeholder.html"
LAYOUTS = ("list", "cards")
_SLUG = re.compile(r"^[-\w]+$")


@dataclass
class ListOptions:
    """How a list looks; the same options for the block and the tags."""

    heading: str = ""
    layout: str = "list"
    show_summary: bool = True
    show_image: bool = False
    empty_text: str = ""
    hide_when_empty: bool = True
    client_side: bool = False


@dataclass
class Item:
    page: Page
    summary: str = ""
    image: Any = None
    #: ``{% pageurl page %}``'s answer, computed for the whole list at once.
    url: str | None = None

    @property
    def page_id(self) -> str:
        """The page's id as text: rendered as is, with no number localisation."""
        return str(self.page.pk)


def safe_list(request_or_reader: Any, **kwargs: Any) -> RecommendationList:
    """:func:`~.lists.recommendation_list`, or an empty list (and a warning in the log)
    when the feed is unknown or an argument is bad: a page never fails for that."""
    try:
        return recommendation_list(request_or_reader, **kwargs)
    except NeuralFeedError as exc:
        logger.warning("Rendering an empty recommendation list: %s", exc)
        feed = kwargs.get("feed")
        return RecommendationList(pages=[], feed=str(getattr(feed, "slug", feed) or ""), title="")


def render_list(
    recommendations: RecommendationList,
    options: ListOptions,
    *,
    request: HttpRequest | None = None,
) -> str:
    """The HTML of one list (empty when it has no pages and should hide)."""
    if not recommendations and options.hide_when_empty:
        return ""
    layout = options.layout if options.layout in LAYOUTS else "list"
    template = select_template(templates_for(recommendations.feed))
    # Renditions come with the images (one query) when the markup is ours and so
    # asks for IMAGE_FILTER; other markup may ask for any, found the usual way.
    renditions = options.show_image and _default_image_markup(template)
    items = items_for(
        recommendations.pages,
        with_images=options.show_image,
        request=request,
        renditions=IMAGE_FILTER if renditions else None,
    )
    context = {
        "request": request,
        "recommendations": recommendations,
        "items": items,
        "heading": options.heading or recommendations.title,
        "heading_id": f"neural-feed-{recommendations.list_id[:12]}",
        "layout": layout,
        "show_summary": options.show_summary,
        "show_image": options.show_image,
        "empty_text": options.empty_text,
    }
    return template.render(context)


def render_placeholder(
    options: ListOptions,
    *,
    feed: str = "",
    limit: int,
    context_page: Page | None = None,
    similar: bool = False,
    picks: tuple[int, ...] = (),
) -> SafeString:
    """The client-side placeholder the tracker script fills from the JSON API."""
    return render_to_string(
        PLACEHOLDER_TEMPLATE,
        {
            "feed": feed,
            "limit": limit,
            "context_id": context_page.pk if context_page is not None else "",
            "layout": options.layout if options.layout in LAYOUTS else "list",
            "similar": similar,
            "heading": options.heading,
            "picks": ",".join(str(pk) for pk in picks),
        },
    )


def _default_image_markup(template: Any) -> bool:
    """Whether the list's template and its image include are this package's own."""
    try:
        image = get_template(IMAGE_TEMPLATE)
    except TemplateDoesNotExist:
        return False
    return all(
        str(getattr(getattr(t, "origin", None), "name", "")).startswith(_OWN_TEMPLATES)
        for t in (template, image)
    )


def templates_for(feed: str) -> list[str]:
    """The per-feed override first, then the default template."""
    if feed and _SLUG.match(feed):
        return [f"wagtail_neural_feed/feeds/{feed}.html", DEFAULT_TEMPLATE]
    return [DEFAULT_TEMPLATE]


def items_for(
    pages: list[Page],
    *,
    with_images: bool,
    request: HttpRequest | None = None,
    renditions: str | None = None,
) -> list[Item]:
    """Each page with its URL, its summary and, when asked, its image (one query
    for all images found through an image field, one more for their
    ``renditions`` of that filter spec)."""
    items = [
        Item(page=page, summary=recommendation_summary(page), url=url)
        for page, url in zip(pages, page_urls(pages, request), strict=True)
    ]
    if with_images:
        _attach_images(items, renditions)
    return items


def recommendation_summary(page: Page) -> str:
    hook = getattr(page, "get_recommendation_summary", None)
    if callable(hook):
        return str(hook() or "")
    return getattr(page, "search_description", "") or ""


def _attach_images(items: list[Item], renditions: str | None) -> None:
    wanted: dict[int, list[Item]] = {}
    for item in items:
        hook = getattr(item.page, "get_recommendation_image", None)
        if callable(hook):
            item.image = hook()
            continue
        field = image_field(type(item.page))
        image_id = getattr(item.page, field.attname) if field is not None else None
        if image_id is not None:
            wanted.setdefault(image_id, []).append(item)
    if wanted:
        from wagtail.images import get_image_model

        images = get_image_model().objects.all()
        if renditions:
            images = images.prefetch_renditions(renditions)
        for image_id, image in images.in_bulk(list(wanted)).items():
            for item in wanted[image_id]:
                item.image = image


@functools.cache
def image_field(model: type[Page]) -> Any:
    """The model's first foreign key to an image, or None."""
    if not apps.is_installed("wagtail.images"):
        return None
    from wagtail.images.models import AbstractImage

    for field in model._meta.concrete_fields:
        related = getattr(field, "related_model", None)
        if field.many_to_one and isinstance(related, type) and issubclass(related, AbstractImage):
            return field
    return None


def latest_pages(limit: int) -> list[Page]:
    """The newest live, public, recommendable pages: a realistic sample for previews."""
    models = recommendable_models()
    if not models:
        return []
    return list(
        Page.objects.live()
        .public()
        .type(*models)
        .order_by("-first_published_at", "-pk")
        .specific()[:limit]
    )
