"""A site's own "likes" as a feed's interaction source.

A feed may point at an existing relation instead of our interactions, as
django-neural-feed does::

    interaction_source = {"mode": "m2m", "model": "blog.BlogPage", "field": "likes"}
    interaction_source = {"mode": "model", "model": "blog.Like",
                          "user_field": "user", "page_field": "page"}

Every change to that relation (adds, removals, ``clear()``, saves and deletes
of the through model) recomputes the user's profile for that feed after
commit: the mean of the liked pages' embeddings.
"""

from __future__ import annotations

import logging

import numpy as np
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from .dispatch import enqueue
from .feeds import FeedConfig, get_feed_config, registered_feeds
from .models import EmbeddingStatus, PageEmbedding, Reader, ReaderProfile

logger = logging.getLogger(__name__)


def source_feeds() -> list[FeedConfig]:
    return [c for c in registered_feeds().values() if isinstance(c.interaction_source, dict)]


def _source_sender(config: FeedConfig):
    source = config.interaction_source
    model = apps.get_model(source["model"])
    if source.get("mode") == "m2m":
        return model._meta.get_field(source["field"]).remote_field.through
    return model


def feeds_for_sender(sender) -> list[FeedConfig]:
    matches = []
    for config in source_feeds():
        try:
            if _source_sender(config) is sender:
                matches.append(config)
        except (LookupError, KeyError, AttributeError):
            continue  # reported by the E006 system check
    return matches


def liked_page_ids(config: FeedConfig, user_id: int) -> list[int]:
    from .ranking import source_columns

    table, user_column, page_column = source_columns(config.interaction_source)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {page_column} FROM {table} WHERE {user_column} = %s", [user_id])
        return [row[0] for row in cursor.fetchall()]


def recompute_source_profile(user_id: int, feed_slug: str) -> ReaderProfile:
    """The user's profile for a feed fed by the site's own model: the mean liked page."""
    from .profiles import feed_accepts

    config = get_feed_config(feed_slug)
    page_ids = liked_page_ids(config, user_id)
    rows = list(
        PageEmbedding.objects.filter(
            page_id__in=page_ids, status=EmbeddingStatus.READY, embedding__isnull=False
        ).values("page_id", "embedding", "content_type_id", "path")
    )
    vectors = [
        np.asarray(r["embedding"], dtype=np.float64) for r in rows if feed_accepts(config, r)
    ]
    reader, _ = Reader.objects.get_or_create(user_id=user_id)
    total = np.sum(vectors, axis=0) if vectors else None
    norm = float(np.linalg.norm(total)) if total is not None else 0.0
    profile, _ = ReaderProfile.objects.update_or_create(
        reader=reader,
        feed=config.slug,
        defaults={
            "sum_vector": total.astype(np.float32) if total is not None else None,
            "vector": (total / norm).astype(np.float32) if norm > 0 else None,
            "interaction_count": len(vectors),
            "stale": len(rows) < len(set(page_ids)),  # some embeddings not ready yet
        },
    )
    return profile


def recompute_reader(reader_id: int) -> None:
    """Recompute a signed-in reader's profiles for every source-fed feed (the sweep)."""
    user_id = Reader.objects.filter(pk=reader_id).values_list("user_id", flat=True).first()
    if user_id is None:
        return
    for config in source_feeds():
        recompute_source_profile(user_id, config.slug)


def _schedule(user_ids, feeds: list[FeedConfig]) -> None:
    for user_id in {u for u in user_ids if u is not None}:
        for config in feeds:
            enqueue("recompute_source_profile", user_id, config.slug)


@receiver(m2m_changed, dispatch_uid="wagtail_neural_feed_source_m2m")
def _m2m_changed(sender, instance, action, pk_set, **kwargs) -> None:
    feeds = feeds_for_sender(sender)
    if not feeds:
        return
    user_model = get_user_model()
    if isinstance(instance, user_model):
        if action.startswith("post_"):
            _schedule([instance.pk], feeds)
        return
    # The page side changed: the users are in pk_set, or (for clear) read beforehand.
    if action in ("post_add", "post_remove"):
        _schedule(pk_set or (), feeds)
    elif action == "pre_clear":
        instance._neural_feed_cleared_users = {
            user_id for config in feeds for user_id in _users_of_page(config, instance.pk)
        }
    elif action == "post_clear":
        _schedule(getattr(instance, "_neural_feed_cleared_users", ()), feeds)


def _users_of_page(config: FeedConfig, page_id: int) -> list[int]:
    from .ranking import source_columns

    table, user_column, page_column = source_columns(config.interaction_source)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {user_column} FROM {table} WHERE {page_column} = %s", [page_id])
        return [row[0] for row in cursor.fetchall()]


@receiver(post_save, dispatch_uid="wagtail_neural_feed_source_save")
@receiver(post_delete, dispatch_uid="wagtail_neural_feed_source_delete")
def _through_model_changed(sender, instance, **kwargs) -> None:
    if sender is PageEmbedding or sender is ReaderProfile:
        return
    feeds = [c for c in feeds_for_sender(sender) if c.interaction_source.get("mode") == "model"]
    for config in feeds:
        field = config.interaction_source.get("user_field", "user")
        user_id = getattr(instance, f"{field}_id", None)
        transaction.on_commit(lambda u=user_id, c=config: _schedule([u], [c]))
