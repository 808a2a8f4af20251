"""Feeds: named recommendation configurations.

Developers declare feeds in code (``class NewsFeed(Feed)`` with class
attributes); site admins will create them in the Wagtail admin. Both resolve
into one immutable :class:`FeedConfig`, the only thing the ranker and the
profile builder see.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from django.utils.module_loading import import_string

from .conf import neural_feed_settings
from .exceptions import NeuralFeedConfigurationError, UnknownFeed

DEFAULT_FEED_SLUG = "default"


@dataclass(frozen=True)
class FeedConfig:
    """Everything that decides what a feed returns. Immutable and hashable."""

    slug: str
    title: str = ""
    #: Page model labels ("app.ModelName"); empty = every recommendable type.
    page_types: tuple[str, ...] = ()
    #: Only pages below this page (a section); None = the reader's whole site.
    root_page_id: int | None = None
    similarity_weight: float = 1.0
    freshness_weight: float = 0.2
    popularity_weight: float = 0.1
    freshness_half_life_days: float = 14.0
    #: "none", "mmr" or "section_cap".
    diversity: str = "none"
    mmr_lambda: float = 0.7
    section_cap: int = 3
    exclude_read: bool = True
    #: Blend of the context page's embedding into the reader's profile (0..1).
    context_weight: float = 0.3
    #: Candidate sources for readers without a profile, in order.
    cold_start: tuple[str, ...] = ("context", "popular", "fresh")
    #: Slug of a feed whose profile is used when this feed has none for a reader.
    parent: str | None = None
    #: "interactions" (built-in), or a dict describing a site's own model, e.g.
    #: {"mode": "m2m", "model": "blog.BlogPage", "field": "likes"} or
    #: {"mode": "model", "model": "blog.Like", "user_field": "user", "page_field": "page"}.
    interaction_source: Any = "interactions"
    extra: tuple[tuple[str, Any], ...] = field(default=())


class Feed:
    """Declare a feed in code::

        @register_feed
        class NewsFeed(Feed):
            slug = "news"
            page_types = ["news.NewsPage"]
            freshness_weight = 0.5
    """

    slug: ClassVar[str] = DEFAULT_FEED_SLUG
    title: ClassVar[str] = ""

    @classmethod
    def resolve(cls) -> FeedConfig:
        """Collect the class attributes into a FeedConfig."""
        values: dict[str, Any] = {}
        for spec in fields(FeedConfig):
            if hasattr(cls, spec.name):
                value = getattr(cls, spec.name)
                if isinstance(value, list):
                    value = tuple(value)
                values[spec.name] = value
        if not values.get("title"):
            values["title"] = cls.__name__
        return FeedConfig(**values)


class DefaultFeed(Feed):
    slug = DEFAULT_FEED_SLUG
    title = "Recommended for you"


_registry: dict[str, type[Feed]] = {}


def register_feed(feed_class: type[Feed]) -> type[Feed]:
    """Class decorator: make ``feed_class`` available by its slug."""
    _registry[feed_class.slug] = feed_class
    return feed_class


def registered_feeds() -> dict[str, FeedConfig]:
    """Every feed by slug: the default feed, decorated feeds and ``FEEDS`` from settings."""
    classes: dict[str, type[Feed]] = {DEFAULT_FEED_SLUG: DefaultFeed, **_registry}
    for path in neural_feed_settings.FEEDS:
        try:
            feed_class = import_string(path)
        except ImportError as exc:
            raise NeuralFeedConfigurationError(
                f"WAGTAIL_NEURAL_FEED['FEEDS'] entry {path!r} cannot be imported: {exc}"
            ) from exc
        classes[feed_class.slug] = feed_class
    return {slug: feed_class.resolve() for slug, feed_class in classes.items()}


def get_feed_config(feed: str | FeedConfig | type[Feed] | None = None) -> FeedConfig:
    """Resolve a slug, Feed class or config (None = the default feed) into a FeedConfig."""
    if feed is None:
        feed = DEFAULT_FEED_SLUG
    if isinstance(feed, FeedConfig):
        return feed
    if isinstance(feed, type) and issubclass(feed, Feed):
        return feed.resolve()
    feeds = registered_feeds()
    try:
        return feeds[feed]
    except KeyError:
        raise UnknownFeed(
            f"No feed {feed!r}; registered feeds: {', '.join(sorted(feeds))}."
        ) from None
