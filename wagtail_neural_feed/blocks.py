"""StreamField blocks: "Recommended for you" and "More like this".

Add them to any StreamField::

    body = StreamField([..., ("recommended", RecommendedPagesBlock()),
                        ("similar", SimilarPagesBlock())])

and render the field with ``{% include_block page.body %}`` so the blocks
see the request (the reader). Rendered without one (``{{ page.body }}``, a
search index, a sitemap) they show the non-personal list.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.blocks.struct_block import StructBlockValidationError
from wagtail.models import Page

from .exceptions import UnknownFeed
from .feeds import get_feed_config, registered_feeds
from .lists import RecommendationList
from .rendering import ListOptions, latest_pages, render_list, render_placeholder, safe_list

MIN_COUNT, MAX_COUNT = 1, 24
LAYOUT_CHOICES = [("list", _("List")), ("cards", _("Cards"))]
PREVIEW_FLAG = "neural_feed_block_preview"


def feed_choices() -> list[tuple[str, str]]:
    """The registered feeds, read when the editor's form is built (never at import)."""
    return [(slug, config.title or slug) for slug, config in sorted(registered_feeds().items())]


def _context_page(context: dict | None) -> Page | None:
    """The page the block is rendered on: ``page`` (or ``self``) in the template context."""
    for name in ("page", "self"):
        candidate = (context or {}).get(name)
        if isinstance(candidate, Page) and candidate.pk:
            return candidate
    return None


class _ListBlock(blocks.StructBlock):
    """What both blocks share: options, validation, rendering and the preview."""

    similar = False

    def clean(self, value):
        errors, non_block_errors = {}, None
        try:
            value = super().clean(value)
        except StructBlockValidationError as exc:
            errors, non_block_errors = dict(exc.block_errors), exc.non_block_errors
        count = value.get("count")
        if not isinstance(count, int) or not MIN_COUNT <= count <= MAX_COUNT:
            errors["count"] = ValidationError(
                _("Show between %(min)d and %(max)d pages."),
                params={"min": MIN_COUNT, "max": MAX_COUNT},
            )
        feed = value.get("feed")
        if feed:
            try:
                get_feed_config(feed)
            except UnknownFeed:
                errors["feed"] = ValidationError(
                    _("There is no feed %(feed)s; choose one of the registered feeds."),
                    params={"feed": feed},
                )
        if errors or non_block_errors:
            raise StructBlockValidationError(block_errors=errors, non_block_errors=non_block_errors)
        return value

    def get_searchable_content(self, value) -> list[str]:
        """Nothing: a list's heading is no part of what the page is about (search or
        embedding), and its pages are other pages."""
        return []

    def options(self, value) -> ListOptions:
        return ListOptions(
            # Empty: the feed's title, or "More like this" for similar pages.
            heading=value.get("heading")
            or (str(self.meta.default_heading) if self.similar else ""),
            layout=value.get("layout") or "list",
            show_summary=bool(value.get("show_summary", True)),
            show_image=bool(value.get("show_image", False)),
            empty_text=value.get("empty_text") or "",
            hide_when_empty=bool(value.get("hide_when_empty", True)),
            client_side=bool(value.get("client_side", False)),
        )

    def render(self, value, context=None) -> str:
        context = context or {}
        options = self.options(value)
        page = _context_page(context)
        count = value.get("count") or 6
        picks = tuple(p.pk for p in value.get("picks") or () if p is not None)
        if options.client_side and not context.get(PREVIEW_FLAG):
            return render_placeholder(
                options,
                feed=value.get("feed") or "",
                limit=count,
                context_page=page,
                similar=self.similar,
                picks=picks,
            )
        request = context.get("request")
        if context.get(PREVIEW_FLAG):
            recommendations = self.preview_list(value, count)
        elif self.similar and page is None:
            recommendations = RecommendationList(pages=[], feed="similar", title="")
        elif self.similar:
            recommendations = safe_list(
                request, feed=value.get("feed") or None, limit=count, similar_to=page
            )
        else:
            recommendations = safe_list(
                request,
                feed=value.get("feed") or None,
                limit=count,
                context_page=page,
                picks=picks,
                personalise_picks=bool(value.get("personalise_order")),
            )
        return render_list(recommendations, options, request=request)

    def preview_list(self, value, count: int) -> RecommendationList:
        """A realistic, non-personal list for the editor's block preview."""
        recommendations = safe_list(None, feed=value.get("feed") or None, limit=count)
        if not recommendations:
            recommendations = RecommendationList(
                pages=latest_pages(count),
                feed=recommendations.feed or "default",
                title=str(self.meta.default_heading),
            )
        return recommendations

    def get_preview_context(self, value, parent_context=None) -> dict[str, Any]:
        context = super().get_preview_context(value, parent_context=parent_context)
        return {**context, PREVIEW_FLAG: True}


class RecommendedPagesBlock(_ListBlock):
    """ "Recommended for you": a feed's pages for the reader, with optional editor's picks."""

    heading = blocks.CharBlock(
        required=False, label=_("Heading"), help_text=_("Leave empty to use the feed's title.")
    )
    feed = blocks.ChoiceBlock(
        choices=feed_choices,
        required=False,
        label=_("Feed"),
        help_text=_("Leave empty for the default feed."),
    )
    count = blocks.IntegerBlock(
        default=6, min_value=MIN_COUNT, max_value=MAX_COUNT, label=_("Number of pages")
    )
    layout = blocks.ChoiceBlock(choices=LAYOUT_CHOICES, default="cards", label=_("Layout"))
    show_summary = blocks.BooleanBlock(required=False, default=True, label=_("Show summary"))
    show_image = blocks.BooleanBlock(required=False, default=True, label=_("Show image"))
    picks = blocks.ListBlock(
        blocks.PageChooserBlock(),
        default=[],
        label=_("Editor's picks"),
        help_text=_("Shown first; the feed fills the remaining places."),
    )
    personalise_order = blocks.BooleanBlock(
        required=False,
        default=False,
        label=_("Personalise the order of the picks"),
        help_text=_("Order the picks by how close each is to the reader's interests."),
    )
    empty_text = blocks.CharBlock(
        required=False,
        label=_("Text when empty"),
        help_text=_("Shown when there is nothing to recommend (unless the block is hidden)."),
    )
    hide_when_empty = blocks.BooleanBlock(
        required=False, default=True, label=_("Hide the block when there is nothing to show")
    )
    client_side = blocks.BooleanBlock(
        required=False,
        default=False,
        label=_("Load in the browser"),
        help_text=_("For pages served from a shared cache: the list is fetched per reader."),
    )

    class Meta:
        icon = "pick"
        label = _("Recommended for you")
        default_heading = _("Recommended for you")
        description = _(
            "Pages picked for each reader from what they have read, with optional editor's picks."
        )
        preview_template = "wagtail_neural_feed/block_preview.html"
        form_classname = "neural-feed-block"


class SimilarPagesBlock(_ListBlock):
    """ "More like this": the pages closest in meaning to the page the block is on."""

    similar = True

    heading = blocks.CharBlock(
        required=False, label=_("Heading"), help_text=_('Leave empty for "More like this".')
    )
    feed = blocks.ChoiceBlock(
        choices=feed_choices,
        required=False,
        label=_("Feed"),
        help_text=_("Optional: only pages this feed would recommend."),
    )
    count = blocks.IntegerBlock(
        default=4, min_value=MIN_COUNT, max_value=MAX_COUNT, label=_("Number of pages")
    )
    layout = blocks.ChoiceBlock(choices=LAYOUT_CHOICES, default="list", label=_("Layout"))
    show_summary = blocks.BooleanBlock(required=False, default=True, label=_("Show summary"))
    show_image = blocks.BooleanBlock(required=False, default=False, label=_("Show image"))
    empty_text = blocks.CharBlock(required=False, label=_("Text when empty"))
    hide_when_empty = blocks.BooleanBlock(
        required=False, default=True, label=_("Hide the block when there is nothing to show")
    )
    client_side = blocks.BooleanBlock(required=False, default=False, label=_("Load in the browser"))

    class Meta:
        icon = "doc-full-inverse"
        label = _("More like this")
        default_heading = _("More like this")
        description = _("Pages closest in meaning to the page this block is on.")
        preview_template = "wagtail_neural_feed/block_preview.html"
