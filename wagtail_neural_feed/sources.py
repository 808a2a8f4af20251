"""A site's own "likes" as a feed's interaction source.

A feed may point at an existing relation instead of our interactions, as
django-neural-feed does::

    interaction_source = {"mode": "m2m", "model": "blog.BlogPage", "field": "likes"}
    interaction_source = {"mode": "model", "model": "blog.Like",
                          "user_field": "user", "page_field": "page"}

Every change to that relation (adds, removals, ``clear()``, saves and deletes
of the through model) recomputes the user's profile for that feed after
commit: the mean of the liked pages' embeddings. The receivers are connected
only for the models feeds name (:func:`connect_source_receivers`), so saving
any other model costs nothing.
"""

from __future__ import annotations

import logging

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from .compat import get_page_model
from .dispatch import enqueue
from .exceptions import NeuralFeedConfigurationError, NeuralFeedError
from .feeds import FeedConfig, code_feeds, on_registry_reset
from .statements import read_alias

logger = logging.getLogger(__name__)


def source_feeds() -> list[FeedConfig]:
    """Feeds fed by a site's own model rather than our interactions (only code feeds
    can name one: the admin's feed form has no interaction source)."""
    return [c for c in code_feeds().values() if isinstance(c.interaction_source, dict)]


def source_sender(config: FeedConfig):
    """The model whose signals report changes to ``config``'s source relation."""
    source = config.interaction_source
    model = apps.get_model(source["model"])
    if source.get("mode") == "m2m":
        return model._meta.get_field(source["field"]).remote_field.through
    return model


def source_columns(source: dict) -> tuple[str, str, str]:
    """(table, user column, page column) of a site's own interaction model, quoted."""
    quote = connections[read_alias()].ops.quote_name
    try:
        model = apps.get_model(source["model"])
        if source.get("mode") == "m2m":
            m2m = model._meta.get_field(source["field"])
            through = m2m.remote_field.through
            page_side_is_source = issubclass(model, get_page_model())
            source_col, target_col = m2m.m2m_column_name(), m2m.m2m_reverse_name()
            user_col, page_col = (
                (target_col, source_col) if page_side_is_source else (source_col, target_col)
            )
            return quote(through._meta.db_table), quote(user_col), quote(page_col)
        if source.get("mode") == "model":
            user_col = model._meta.get_field(source.get("user_field", "user")).column
            page_col = model._meta.get_field(source.get("page_field", "page")).column
            return quote(model._meta.db_table), quote(user_col), quote(page_col)
    except (KeyError, LookupError, AttributeError) as exc:
        raise NeuralFeedConfigurationError(f"Invalid interaction_source {source!r}: {exc}") from exc
    raise NeuralFeedConfigurationError(
        f"interaction_source mode must be 'm2m' or 'model', not {source.get('mode')!r}"
    )


def feeds_for_sender(sender) -> list[FeedConfig]:
    matches = []
    for config in source_feeds():
        try:
            if source_sender(config) is sender:
                matches.append(config)
        except (LookupError, KeyError, AttributeError):
            continue  # reported by the E006 system check
    return matches


def _column_values(config: FeedConfig, wanted: str, match: str, value: int) -> list[int]:
    """One column of the source relation where another equals ``value``."""
    table, user_column, page_column = source_columns(config.interaction_source)
    columns = {"user": user_column, "page": page_column}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns[wanted]} FROM {table} WHERE {columns[match]} = %s", [value]
        )
        return [row[0] for row in cursor.fetchall()]


def liked_page_ids(config: FeedConfig, user_id: int) -> list[int]:
    return _column_values(config, "page", "user", user_id)


def _schedule(user_ids, feeds: list[FeedConfig]) -> None:
    for user_id in {u for u in user_ids if u is not None}:
        for config in feeds:
            enqueue("recompute_source_profile", user_id, config.slug)


def _m2m_changed(sender, instance, action, pk_set, **kwargs) -> None:
    feeds = feeds_for_sender(sender)
    if not feeds:
        return
    if isinstance(instance, get_user_model()):
        if action.startswith("post_"):
            _schedule([instance.pk], feeds)
        return
    # The page side changed: the users are in pk_set, or (for clear) read beforehand.
    if action in ("post_add", "post_remove"):
        _schedule(pk_set or (), feeds)
    elif action == "pre_clear":
        instance._neural_feed_cleared_users = {
            user_id
            for config in feeds
            for user_id in _column_values(config, "user", "page", instance.pk)
        }
    elif action == "post_clear":
        _schedule(getattr(instance, "_neural_feed_cleared_users", ()), feeds)


def _through_model_changed(sender, instance, **kwargs) -> None:
    if kwargs.get("raw"):
        return
    feeds = [c for c in feeds_for_sender(sender) if c.interaction_source.get("mode") == "model"]
    for config in feeds:
        field = config.interaction_source.get("user_field", "user")
        user_id = getattr(instance, f"{field}_id", None)
        transaction.on_commit(lambda u=user_id, c=config: _schedule([u], [c]))


#: Models whose signals we follow now: sender -> the signals connected to it.
_connected: dict[type, tuple] = {}


@on_registry_reset
def connect_source_receivers() -> None:
    """Follow exactly the relations feeds name; called at start-up and when feeds change."""
    if not apps.ready:
        return  # AppConfig.ready() connects them
    try:
        feeds = source_feeds()
    except NeuralFeedError:
        feeds = []  # a broken FEEDS setting is reported by the E006 system check
    wanted: dict[type, tuple] = {}
    for config in feeds:
        try:
            sender = source_sender(config)
        except (LookupError, KeyError, AttributeError):
            continue  # reported by the E006 system check
        if config.interaction_source.get("mode") == "m2m":
            wanted[sender] = ((m2m_changed, _m2m_changed),)
        else:
            wanted[sender] = (
                (post_save, _through_model_changed),
                (post_delete, _through_model_changed),
            )
    for sender, receivers in list(_connected.items()):
        if wanted.get(sender) != receivers:
            for signal, receiver in receivers:
                signal.disconnect(receiver, sender=sender)
            del _connected[sender]
    for sender, receivers in wanted.items():
        if sender not in _connected:
            for signal, receiver in receivers:
                signal.connect(receiver, sender=sender, weak=False)
            _connected[sender] = receivers
