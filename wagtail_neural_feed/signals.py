"""Wagtail/Django signal handlers: thin, and never able to break publishing."""

from __future__ import annotations

import logging
from functools import wraps

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from wagtail.models import Page, PageViewRestriction
from wagtail.signals import page_published, page_unpublished, post_page_move

from . import indexing

logger = logging.getLogger(__name__)


def _never_raise(handler):
    """Run ``handler`` in a savepoint; log and swallow any error so the editor's action stands."""

    @wraps(handler)
    def wrapper(*args, **kwargs):
        if kwargs.get("raw"):
            return
        try:
            with transaction.atomic():
                handler(*args, **kwargs)
        except Exception:
            logger.exception("wagtail-neural-feed: %s failed", handler.__name__)

    return wrapper


@_never_raise
def on_page_published(sender, instance, **kwargs) -> None:
    if indexing.is_recommendable(sender):
        indexing.sync_page(instance)


@_never_raise
def on_page_unpublished(sender, instance, **kwargs) -> None:
    if indexing.is_recommendable(sender):
        indexing.mark_unpublished(instance)


@_never_raise
def on_page_moved(sender, instance, **kwargs) -> None:
    indexing.refresh_subtree(instance.path)


@_never_raise
def on_view_restriction_changed(sender, instance, **kwargs) -> None:
    path = Page.objects.filter(pk=instance.page_id).values_list("path", flat=True).first()
    if path:  # gone when the restriction was deleted along with its page
        indexing.refresh_subtree(path)


def register_signal_handlers() -> None:
    page_published.connect(on_page_published, dispatch_uid="neural_feed_page_published")
    page_unpublished.connect(on_page_unpublished, dispatch_uid="neural_feed_page_unpublished")
    post_page_move.connect(on_page_moved, dispatch_uid="neural_feed_page_moved")
    for signal in (post_save, post_delete):
        signal.connect(
            on_view_restriction_changed,
            sender=PageViewRestriction,
            dispatch_uid=f"neural_feed_restriction_{signal is post_save}",
        )
