"""Feeds: named recommendation configurations.

Developers declare feeds in code (``class NewsFeed(Feed)`` with class
attributes); site admins will create them in the Wagtail admin. Both resolve
into one immutable :class:`FeedConfig`, the only thing the ranker and the
profile builder see.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from django.utils.module_loading import import_string

from .conf import neural_feed_settings, on_reload
from .exceptions import NeuralFeedConfigurationError, UnknownFeed

DEFAULT_FEED_SLUG = "default"
DIVERSITY_MODES = ("none", "mmr", "section_cap")
COLD_START_SOURCES = ("context", "popular", "fresh", "co_read")


@dataclass(frozen=True)
class FeedConfig:
    """Everything that decides what a feed returns. Immutable and hashable."""

    slug: str
    title: str = ""
    #: Page model labels ("app.ModelName"); empty = every recommendable type.
    page_types: tuple[str, ...] = ()
    #: Only pages below this page (a section); None = the reader's whole site.
    root_page_id: int | None = None
    #: The default weights were chosen on three kinds of reading data (docs/evaluation.md,
    #: "Choosing the defaults"): robust across them, not the best on any one.
    similarity_weight: float = 1.0
    freshness_weight: float = 1.0
    popularity_weight: float = 1.0
    #: "Readers of this also read": the co-read score of a page with the
    #: context page, or with the reader's last few pages (see docs/ranking.md).
    co_read_weight: float = 0.0
    freshness_half_life_days: float = 0.5
    #: Decay of the stored popularity counters between refreshes; None = the
    #: ``POPULARITY_HALF_LIFE_DAYS`` setting (what the counters are kept at).
    popularity_half_life_days: float | None = None
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
    #: Nearest-neighbour candidates fetched per list, before re-scoring
    #: (None = max(40, 4 * limit)).
    candidates: int | None = None
    #: "More like this" beyond one vector (``ranking/rerank.py``): re-score the
    #: nearest candidates by similarity to the query plus ``expansion_weight``
    #: times the mean of its ``expansion_neighbours`` nearest pages (0 = off),
    #: and add ``lexical_weight`` times the share of words shared with the
    #: context page. Used only when the list has a context page.
    expansion_neighbours: int = 0
    expansion_weight: float = 1.0
    lexical_weight: float = 0.0
    extra: tuple[tuple[str, Any], ...] = field(default=())

    def __post_init__(self) -> None:
        problems = []
        weights = ("similarity_weight", "freshness_weight", "popularity_weight", "co_read_weight")
        for name in (*weights, "expansion_weight", "lexical_weight"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                problems.append(f"{name} must be a finite number >= 0, not {value!r}")
        for name in ("freshness_half_life_days", "popularity_half_life_days"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int | float) or not value > 0):
                problems.append(f"{name} must be a number of days > 0, not {value!r}")
        if self.diversity not in DIVERSITY_MODES:
            problems.append(f"diversity must be one of {', '.join(DIVERSITY_MODES)}")
        if not 0 <= self.mmr_lambda <= 1:
            problems.append("mmr_lambda must be between 0 and 1")
        if not 0 <= self.context_weight <= 1:
            problems.append("context_weight must be between 0 and 1")
        if self.section_cap < 1:
            problems.append("section_cap must be at least 1")
        unknown = set(self.cold_start) - set(COLD_START_SOURCES)
        if unknown:
            problems.append(
                f"cold_start entries must be among {', '.join(COLD_START_SOURCES)}; "
                f"got {', '.join(sorted(unknown))}"
            )
        if self.candidates is not None and self.candidates < 1:
            problems.append("candidates must be at least 1")
        if not isinstance(self.expansion_neighbours, int) or self.expansion_neighbours < 0:
            problems.append("expansion_neighbours must be an integer >= 0")
        if problems:
            raise NeuralFeedConfigurationError(f"Feed {self.slug!r}: " + "; ".join(problems) + ".")


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
#: Every feed resolved, by slug; built on first use, dropped by :func:`reset_feed_registry`.
_resolved: dict[str, FeedConfig] | None = None
#: The feeds declared in code, resolved: what system checks and site-likes sources read.
_code_resolved: dict[str, FeedConfig] | None = None
#: Re-entrant: resolving every feed resolves the code feeds under the same lock.
_resolved_lock = threading.RLock()
#: Called after the registry is reset (e.g. to follow the models feeds name).
_reset_listeners: list[Callable[[], None]] = []
#: Feeds made in the Wagtail admin: ``load(taken_slugs) -> {slug: FeedConfig}``, and
#: ``refresh()`` run once per list to notice saves in other processes. Installed
#: by :mod:`.admin_feeds` when the app is ready (see :func:`use_admin_feeds`).
_admin_load: Callable[[Collection[str]], dict[str, FeedConfig]] | None = None
_admin_refresh: Callable[[], None] | None = None


def register_feed(feed_class: type[Feed]) -> type[Feed]:
    """Class decorator: make ``feed_class`` available by its slug."""
    _registry[feed_class.slug] = feed_class
    reset_feed_registry()
    return feed_class


def use_admin_feeds(
    load: Callable[[Collection[str]], dict[str, FeedConfig]], refresh: Callable[[], None]
) -> None:
    """Merge the feeds ``load`` returns into the registry (code feeds keep their slugs);
    ``refresh`` runs on every :func:`registered_feeds` call and may reset the registry."""
    global _admin_load, _admin_refresh
    _admin_load, _admin_refresh = load, refresh
    reset_feed_registry()


def registered_feeds() -> dict[str, FeedConfig]:
    """Every feed by slug: the default feed, decorated feeds, ``FEEDS`` from settings
    and the feeds site admins made in the Wagtail admin (a code feed wins a slug).

    Resolved once per process and kept until the settings change, a feed is
    registered (:func:`reset_feed_registry`) or an admin feed is saved in any
    process (one cached version read per call, see :mod:`.admin_feeds`): every
    list and every profile update asks for it, and importing and validating
    each feed each time was the registry's whole cost. Treat the returned
    mapping as read-only.
    """
    if _admin_refresh is not None:
        _admin_refresh()
    resolved = _resolved
    if resolved is None:
        with _resolved_lock:
            resolved = _resolved if _resolved is not None else _resolve_all()
    return resolved


def code_feeds() -> dict[str, FeedConfig]:
    """Only the feeds declared in code: the default feed, decorated feeds and ``FEEDS``.

    Needs no database, so the system checks validate these (admin feeds are
    validated by their form when saved). Resolved once, like :func:`registered_feeds`.
    """
    code = _code_resolved
    if code is None:
        with _resolved_lock:
            code = _code_resolved if _code_resolved is not None else _resolve_code()
    return code


def _resolve_code() -> dict[str, FeedConfig]:
    global _code_resolved
    classes: dict[str, type[Feed]] = {DEFAULT_FEED_SLUG: DefaultFeed, **_registry}
    for path in neural_feed_settings.FEEDS:
        try:
            feed_class = import_string(path)
        except ImportError as exc:
            raise NeuralFeedConfigurationError(
                f"WAGTAIL_NEURAL_FEED['FEEDS'] entry {path!r} cannot be imported: {exc}"
            ) from exc
        classes[feed_class.slug] = feed_class
    _code_resolved = {slug: feed_class.resolve() for slug, feed_class in classes.items()}
    return _code_resolved


def _resolve_all() -> dict[str, FeedConfig]:
    global _resolved
    code = code_feeds()
    admin = _admin_load(code) if _admin_load is not None else {}
    _resolved = {**admin, **code}
    return _resolved


@on_reload
def reset_feed_registry() -> None:
    """Forget the resolved feeds; the next :func:`registered_feeds` call resolves them anew."""
    global _resolved, _code_resolved
    with _resolved_lock:
        _resolved = _code_resolved = None
    for listener in _reset_listeners:
        listener()


def on_registry_reset(listener: Callable[[], None]) -> Callable[[], None]:
    """Call ``listener`` whenever the registry is reset."""
    _reset_listeners.append(listener)
    return listener


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


def profile_feed_chain(config: FeedConfig) -> tuple[str, ...]:
    """Slugs whose profile may serve ``config``: itself, its parents in order, then
    the default feed (whose profile draws on all of a reader's interactions)."""
    chain = [config.slug]
    # The list's get_feed_config() has just checked the registry is current.
    feeds = (_resolved or registered_feeds()) if config.parent else {}
    parent = config.parent
    while parent and parent not in chain:
        chain.append(parent)
        parent_config = feeds.get(parent)
        parent = parent_config.parent if parent_config else None
    if DEFAULT_FEED_SLUG not in chain:
        chain.append(DEFAULT_FEED_SLUG)
    return tuple(chain)
