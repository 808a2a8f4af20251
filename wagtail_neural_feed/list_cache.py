"""Short-lived caching of rendered recommendation lists, per reader.

A personal list is cached under the reader's identity (user id or visitor
cookie) plus a per-reader *version*; writing a reader's profile bumps the
version, so the next render misses and ranks again with the new profile.
Readers without an identity share one entry per feed, context, site and
language. ``LIST_CACHE_SECONDS = 0`` turns all of this off.

This module imports no ranking code: :mod:`.profiles` and :mod:`.sources`
call :func:`bump_reader_version` whenever they store a profile.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from functools import partial
from typing import Any

from django.core.cache import BaseCache, caches
from django.db import transaction

from . import replicas
from .conf import neural_feed_settings
from .models import Reader

logger = logging.getLogger(__name__)

KEY_PREFIX = "neural_feed:list"
VERSION_PREFIX = "neural_feed:reader_version"
#: The identity of readers the server cannot tell apart (no user, no cookie).
ANONYMOUS = "anonymous"


def cache_seconds() -> int:
    return int(neural_feed_settings.LIST_CACHE_SECONDS or 0)


def list_cache() -> BaseCache:
    return caches[neural_feed_settings.LIST_CACHE_ALIAS]


def _version_key(identity: str) -> str:
    return f"{VERSION_PREFIX}:{identity}"


def list_key(identity: str, parts: Sequence[Any]) -> tuple[str, str]:
    """The cache key for one list, and the key of the version it depends on."""
    digest = hashlib.blake2b(repr((identity, *parts)).encode(), digest_size=16).hexdigest()
    return f"{KEY_PREFIX}:{digest}", _version_key(identity)


def get_list(identity: str, parts: Sequence[Any]) -> tuple[Any, tuple[str, str] | None]:
    """``(cached value or None, where to store it)``; ``(None, None)`` when caching is off.

    ``identity`` is ``"u<user id>"``, ``"v<visitor id>"`` or :data:`ANONYMOUS`.
    A list is stored with the reader's version it was ranked under, so the
    list and the current version come back in one cache round trip
    (``get_many``); a list from an older version is a miss.
    """
    if cache_seconds() <= 0:
        return None, None
    cache = list_cache()
    key, version_key = list_key(identity, parts)
    if identity == ANONYMOUS:
        found, version = cache.get(key), "0"
    else:
        values = cache.get_many([key, version_key])
        found, version = values.get(key), values.get(version_key, "0")
    if isinstance(found, tuple) and len(found) == 2 and found[0] == version:
        return found[1], (key, version)
    return None, (key, version)


def set_list(where: tuple[str, str] | None, value: Any) -> None:
    """Store a list where :func:`get_list` said, under the version it was ranked for."""
    if where is not None:
        key, version = where
        list_cache().set(key, (version, value), cache_seconds())


def bump_reader_version(reader_id: int) -> None:
    """Drop the reader's cached lists, once the current transaction commits.

    Called wherever a profile is stored. Does nothing when caching is off.
    Also tells the replica routing that this reader wrote (read your writes).
    """
    replicas.note_write(reader_id)
    if cache_seconds() <= 0 or reader_id is None:
        return
    transaction.on_commit(partial(_bump, reader_id), robust=True)


def _bump(reader_id: int) -> None:
    row = Reader.objects.filter(pk=reader_id).values_list("user_id", "visitor_id").first()
    if row is None:
        return
    user_id, visitor = row
    identity = f"u{user_id}" if user_id else f"v{visitor}"
    # A version key outlives every list stored under an older version, so a
    # version that expires can never bring an old entry back.
    timeout = max(3600, 2 * cache_seconds())
    list_cache().set(_version_key(identity), uuid.uuid4().hex, timeout)
