"""Every signal this app listens to, connected in one place.

Handlers are thin: they update a row or queue a job with ids only, and never
break the editor's action (errors are logged). ``disable_neural_feed_updates()``
turns them off for bulk work.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps

from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from wagtail.models import Page, PageViewRestriction
from wagtail.signals import page_published, page_unpublished, post_page_move

from . import indexing
from .admin_feeds import connect_admin_feed_receivers
from .pagetypes import is_recommendable
from .sites import connect_site_receivers
from .sources import connect_source_receivers
from .tracking import merge_on_login

logger = logging.getLogger(__name__)

_updates_enabled: ContextVar[bool] = ContextVar("neural_feed_updates_enabled", default=True)


@contextmanager
def disable_neural_feed_updates() -> Iterator[None]:
    """Skip embedding and index upkeep for pages published, moved or restricted inside.

    For bulk imports: run ``manage.py neural_feed_embed`` afterwards, which
    creates missing rows, refreshes every row's filter columns (live, path,
    view restriction, ...) and embeds new and changed pages. Applies to the
    current thread (or async task) only.
    """
    token = _updates_enabled.set(False)
    try:
        yield
    finally:
        _updates_enabled.reset(token)


def updates_enabled() -> bool:
    """False inside :func:`disable_neural_feed_updates` (in this thread or task)."""
    return _updates_enabled.get()


def _page_handler(handler):
    """Skip raw saves and disabled updates; run in a savepoint, log and swallow any
    error so the editor's action stands."""

    @wraps(handler)
    def wrapper(*args, **kwargs):
        if kwargs.get("raw") or not updates_enabled():
            return
        try:
            with transaction.atomic():
                handler(*args, **kwargs)
        except Exception:
            logger.exception("wagtail-neural-feed: %s failed", handler.__name__)

    return wrapper


@_page_handler
def on_page_published(sender, instance, **kwargs) -> None:
    if is_recommendable(sender):
        indexing.sync_page(instance)


@_page_handler
def on_page_unpublished(sender, instance, **kwargs) -> None:
    if is_recommendable(sender):
        indexing.mark_unpublished(instance)


@_page_handler
def on_page_moved(sender, instance, **kwargs) -> None:
    indexing.refresh_columns(instance.path)


@_page_handler
def on_view_restriction_changed(sender, instance, **kwargs) -> None:
    path = Page.objects.filter(pk=instance.page_id).values_list("path", flat=True).first()
    if path:  # gone when the restriction was deleted along with its page
        indexing.refresh_columns(path)


def register_signal_handlers() -> None:
    """Connect every receiver (called from ``AppConfig.ready()``)."""
    page_published.connect(on_page_published, dispatch_uid="neural_feed_page_published")
    page_unpublished.connect(on_page_unpublished, dispatch_uid="neural_feed_page_unpublished")
    post_page_move.connect(on_page_moved, dispatch_uid="neural_feed_page_moved")
    for signal in (post_save, post_delete):
        signal.connect(
            on_view_restriction_changed,
            sender=PageViewRestriction,
            dispatch_uid=f"neural_feed_restriction_{signal is post_save}",
        )
    user_logged_in.connect(merge_on_login, dispatch_uid="neural_feed_merge_visitor")
    # A site's own "likes" models, as feeds name them (reconnected when feeds change).
    connect_source_receivers()
    # Admin feeds and site settings: saves reach every process's feed registry.
    connect_admin_feed_receivers()
    # Sites resolved once per process (sites.py): a saved site reaches every process.
    connect_site_receivers()
