"""Every list the demo shows, built through the plugin's public API in one place.

Templates receive each list as a :class:`PageList` and render it with
``blog/includes/card_list.html``, which follows the shared list contract
(``data-neural-feed-list`` on the section, ``data-neural-feed-page`` on every
link), so impressions and clicks can be reported for exactly what was shown.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.http import HttpRequest
from wagtail.models import Page

from wagtail_neural_feed import FeedConfig, recommend, similar_pages
from wagtail_neural_feed.feeds import DEFAULT_FEED_SLUG, get_feed_config, registered_feeds
from wagtail_neural_feed.tracking import list_token

#: Slugs of the feeds the demo keeps in Wagtail settings (created by blog/feeds.py):
#: the home page's "Recommended for you" (the whole site, by the reader's interests),
FOR_YOU = "for-you"
#: "Popular now" (the same for everyone, by recent interactions), and one per section.
POPULAR = "popular"


def section_slug(section: Page) -> str:
    return f"section-{section.slug}"


#: Fallbacks for the feeds the demo keeps in Wagtail settings (blog/feeds.py), should an
#: admin delete one. "Popular now": the same for everyone, ranked by recent interactions.
POPULAR_FEED = FeedConfig(
    slug="popular",
    title="Popular now",
    similarity_weight=0.0,
    freshness_weight=0.15,
    popularity_weight=1.0,
    exclude_read=False,
    cold_start=("popular", "fresh"),
)

HOME_LIMIT = 6
SECTION_LIMIT = 4
SIMILAR_LIMIT = 4


@dataclass
class PageList:
    """One rendered list: its pages in rank order and the signed token describing it."""

    title: str
    feed: str
    pages: list[Page]
    context_page_id: int | None = None
    list_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        self.pages = with_sections(self.pages)

    @property
    def token(self) -> str:
        return list_token(
            self.list_id, self.feed, [page.pk for page in self.pages], self.context_page_id
        )


def with_sections(pages: Sequence[Page]) -> list[Page]:
    """Give each article ``section_title`` and ``section_slug`` from one query, for its card."""
    pages = list(pages)
    parents = {page.path[: -Page.steplen] for page in pages}
    sections = {
        path: (title, slug)
        for path, title, slug in Page.objects.filter(path__in=parents).values_list(
            "path", "title", "slug"
        )
    }
    for page in pages:
        page.section_title, page.section_slug = sections.get(page.path[: -Page.steplen], ("", ""))
    return pages


def feed_or(slug: str, fallback: FeedConfig) -> FeedConfig:
    """The feed kept under ``slug`` in Wagtail settings, else the demo's fallback."""
    return registered_feeds().get(slug) or fallback


def section_feed(section: Page) -> FeedConfig:
    """A feed limited to one section that reuses the reader's site-wide profile."""
    return FeedConfig(
        slug=f"section-{section.slug}",
        title=f"For you in {section.title}",
        root_page_id=section.pk,
        parent=DEFAULT_FEED_SLUG,
        cold_start=("popular", "fresh"),
    )


def home_lists(request: HttpRequest) -> dict[str, PageList]:
    """The home page lists: personal recommendations and what is popular now.

    Popular pages are left out of the personal list so the two never repeat each other.
    """
    popular_feed = feed_or(POPULAR, POPULAR_FEED)
    personal_feed = feed_or(FOR_YOU, get_feed_config(DEFAULT_FEED_SLUG))
    popular = recommend(None, feed=popular_feed, limit=HOME_LIMIT)
    personal = recommend(request, feed=personal_feed, limit=HOME_LIMIT, exclude=popular)
    return {
        "recommended": PageList("Recommended for you", personal_feed.slug, personal),
        "popular": PageList(popular_feed.title or "Popular now", popular_feed.slug, popular),
    }


def section_lists(request: HttpRequest, section: Page) -> dict[str, PageList]:
    config = feed_or(section_slug(section), section_feed(section))
    pages = recommend(request, feed=config, limit=SECTION_LIMIT)
    return {"for_you": PageList(config.title, config.slug, pages)}


def article_lists(request: HttpRequest, article: Page) -> dict[str, PageList]:
    pages = similar_pages(article, limit=SIMILAR_LIMIT)
    return {"similar": PageList("More like this", "similar", pages, context_page_id=article.pk)}
