"""Admin feeds and site settings in the feed registry, fresh in every process.

:func:`wagtail_neural_feed.feeds.registered_feeds` resolves every feed once
per process and keeps the result. Feeds saved in the Wagtail admin must
still take effect on the next list in *every* process without a restart, and
without a query per list. So a saved feed (or site setting) writes a new
random version stamp into Django's cache once its transaction commits, and
each list compares the stamp with the one its process resolved: one cache
read per list, no query; a process re-reads the admin feeds (one query) only
after a change. The cache must be shared between processes (Redis,
Memcached, the database cache) for other processes to notice; a per-process
cache such as ``LocMemCache`` only serves a single-process server, and the
dummy cache makes every list re-read the feeds.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace

from django.apps import apps
from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.db import DatabaseError, transaction
from django.db.models.signals import post_delete, post_save, pre_delete
from wagtail.models import Site

from .compat import get_page_model
from .conf import neural_feed_settings
from .exceptions import NeuralFeedConfigurationError
from .feeds import FeedConfig, registered_feeds, reset_feed_registry, use_admin_feeds
from .models import AdminFeed, RecommendationSettings
from .pagetypes import is_recommendable

logger = logging.getLogger(__name__)

VERSION_KEY = "wagtail_neural_feed:feeds_version"

#: The version stamp this process last resolved feeds and settings for.
_seen_version: str | None = None
_site_settings: dict[int, SiteSettings] | None = None
_cache_failed_at = 0.0
#: The admin feed rows read for ``_seen_version`` (None = not read yet): a
#: registry reset for another reason (settings, register_feed) re-resolves
#: them without a query.
_admin_rows: list[AdminFeed] | None = None
#: Pages that are some admin feed's section (a deleted one changes that feed);
#: None until this process has read the admin feeds.
_section_ids: frozenset[int] | None = None


#: Inside :func:`one_version_read`: empty until the block has read the stamp.
_block_read: ContextVar[list[str] | None] = ContextVar("neural_feed_version_read", default=None)


@dataclass(frozen=True)
class SiteSettings:
    """A site's recommendation settings, as the request path needs them."""

    default_feed: str = ""
    tracking_enabled: bool = True


def _shared_version() -> str:
    """The version stamp in the shared cache; ``"absent"`` until a feed is first saved
    (or after the cache lost it: a process holding a stamp then re-reads once).

    Reading never writes. A cache that keeps nothing (the dummy cache, an
    outage) gives a stamp that changes every second: feeds are then re-read at
    most once a second.
    """
    global _cache_failed_at
    try:
        cache = caches[neural_feed_settings.FEED_VERSION_CACHE]
        if not isinstance(cache, DummyCache):
            return cache.get(VERSION_KEY) or "absent"
    except Exception:
        if time.monotonic() - _cache_failed_at > 60:
            logger.warning("Feed version cache unreachable; admin feeds re-read every second")
            _cache_failed_at = time.monotonic()
    return f"uncached-{int(time.monotonic())}"


def refresh_if_changed() -> None:
    """Drop this process's resolved feeds and settings if another process changed them.

    One cache read; called once per list by ``registered_feeds()``, and only
    once per :func:`one_version_read` block. The stamp is taken as seen
    before the reset, whose listeners may ask for feeds again.
    """
    global _seen_version
    block = _block_read.get()
    if block:  # this block (request) has compared the stamp already
        return
    version = _shared_version()
    if block is not None:
        block.append(version)
    if version != _seen_version:
        _seen_version = version
        _drop_local()


@contextmanager
def one_version_read() -> Iterator[None]:
    """Compare the shared version stamp at most once inside the block.

    A JSON API request asks for feeds and site settings several times (its
    site, its feed, the site's default feed), and each ask read the stamp
    again: a cache round trip each on Redis. A request acting on the version
    it first saw is what it got anyway when no change landed mid-request.
    Nested blocks share the outer one's read.
    """
    token = _block_read.set([]) if _block_read.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _block_read.reset(token)


def assume_no_admin_data() -> None:
    """Start from "no admin feeds, no site settings" without asking the database.

    For test suites, whose every test starts from an empty database (and rolls
    back what it saved): lists then cost the same queries as before admin
    feeds existed. A save in the test resets this as usual.
    """
    global _seen_version, _site_settings, _admin_rows, _section_ids
    _drop_local()
    _seen_version = _shared_version()
    _site_settings, _admin_rows, _section_ids = {}, [], frozenset()


def _drop_local() -> None:
    global _site_settings, _admin_rows
    _site_settings = _admin_rows = None
    reset_feed_registry()


def feeds_changed() -> None:
    """Forget the resolved feeds here now, and in every process once the change commits.

    The stamp is written after the commit: a process that read it earlier
    would otherwise re-read the feeds before the change is visible to it.
    """
    global _seen_version
    _drop_local()
    _seen_version = None
    block = _block_read.get()
    if block:  # the next ask in this block compares the stamp again
        block.clear()
    transaction.on_commit(_bump_version, robust=True)


def _bump_version() -> None:
    try:
        caches[neural_feed_settings.FEED_VERSION_CACHE].set(
            VERSION_KEY, uuid.uuid4().hex, timeout=None
        )
    except Exception:
        logger.exception("Could not publish the feed version; other processes may keep old feeds")


def _read_failed() -> None:
    """The admin feeds could not be read (no table yet, no database): retry next list."""
    global _seen_version
    _seen_version = None


def admin_feed_configs(taken: Collection[str]) -> dict[str, FeedConfig]:
    """Every valid admin feed by slug, except slugs in ``taken`` (feeds declared in code win).

    A feed that no longer resolves (a page type removed from the code, a
    deleted parent feed) is repaired or skipped with a log message rather than
    breaking every list.
    """
    global _section_ids, _admin_rows
    feeds = _admin_rows
    if feeds is None:
        try:
            with transaction.atomic():
                feeds = list(AdminFeed.objects.order_by("pk"))
        except DatabaseError:
            logger.debug("Admin feeds not readable (not migrated yet?)", exc_info=True)
            _read_failed()
            return {}
        _admin_rows = feeds
    configs: dict[str, FeedConfig] = {}
    for feed in feeds:
        if feed.slug in taken:
            logger.warning("Admin feed %r is hidden by the code feed of that slug", feed.slug)
            continue
        try:
            config = feed.to_config()
        except NeuralFeedConfigurationError as exc:
            logger.error("Admin feed %r skipped: %s", feed.slug, exc)
            continue
        known = []
        for label in config.page_types:
            try:
                known_type = is_recommendable(apps.get_model(label))
            except (LookupError, ValueError):
                known_type = False
            if known_type:
                known.append(label)
            else:
                logger.warning("Admin feed %r: page type %r ignored", feed.slug, label)
        configs[feed.slug] = replace(config, page_types=tuple(known))
    _section_ids = frozenset(feed.section_id for feed in feeds if feed.section_id)
    slugs = set(configs) | set(taken)
    for slug, config in configs.items():
        if config.parent and config.parent not in slugs:
            configs[slug] = replace(config, parent=None)
    return configs


def site_settings(site_id: int | None) -> SiteSettings:
    """The recommendation settings of a site (defaults when it has none saved).

    All sites' settings are read in one query after each change and kept per
    process, so the beacon and blocks pay no query for them.
    """
    global _site_settings
    refresh_if_changed()
    settings = _site_settings
    if settings is None:
        settings = _load_site_settings()
        _site_settings = settings
    return settings.get(site_id, SiteSettings()) if site_id is not None else SiteSettings()


def site_allows_tracking(request) -> bool:
    """Whether the request's site records reading (its "Record reading" setting).

    The request's site is only looked up when some site has turned tracking
    off, so the usual case costs one cache read and no query.
    """
    site_settings(None)
    if all(s.tracking_enabled for s in (_site_settings or {}).values()):
        return True
    site = Site.find_for_request(request)
    return site_settings(site.pk if site is not None else None).tracking_enabled


def _load_site_settings() -> dict[int, SiteSettings]:
    try:
        with transaction.atomic():
            rows = list(
                RecommendationSettings.objects.values_list(
                    "site_id", "default_feed", "tracking_enabled"
                )
            )
    except DatabaseError:
        logger.debug("Recommendation settings not readable", exc_info=True)
        _read_failed()
        return {}
    return {site_id: SiteSettings(feed, enabled) for site_id, feed, enabled in rows}


def _on_change(sender, **kwargs) -> None:
    if kwargs.get("raw"):
        return
    feeds_changed()


def _on_page_delete(sender, instance, **kwargs) -> None:
    """A deleted section empties its feeds' ``section`` without a save signal: notice it.

    ``pre_delete``, before the foreign key is emptied; decided from the admin
    feeds this process has read (read once if it has not), so deleting a page
    costs no query.
    """
    if not isinstance(instance, get_page_model()):
        return
    if _section_ids is None:
        registered_feeds()
    if instance.pk in (_section_ids or ()):
        feeds_changed()


def connect_admin_feed_receivers() -> None:
    """Merge admin feeds into the registry; reset it when an admin feed, a site's
    settings or a feed's section change."""
    use_admin_feeds(admin_feed_configs, refresh_if_changed)

    pre_delete.connect(_on_page_delete, dispatch_uid="neural_feed_admin_section_deleted")
    for model in (AdminFeed, RecommendationSettings):
        for signal in (post_save, post_delete):
            signal.connect(
                _on_change,
                sender=model,
                dispatch_uid=f"neural_feed_admin_{model.__name__}_{signal is post_save}",
            )
