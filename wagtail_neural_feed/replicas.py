"""Which database a list is ranked on: the replica, or the primary when the replica
is behind this reader's own writes or cannot be reached.

With ``READ_DATABASE`` naming a streaming replica, every list is ranked there
(the profile, the candidates, the page fetch), except:

* **read your writes**: a reader's interactions and profile are written on
  the primary. Each write leaves a marker in the cache, keyed by the reader,
  holding the primary's WAL position after the write. While the replica has
  not replayed that far, that reader's lists are ranked on the primary, so a
  like is never missing from the reader's next list (its page excluded, its
  profile used). The marker lasts ``READ_YOUR_WRITES_SECONDS``; 0 turns this
  off and accepts lists as stale as the replica.
* **a failed replica**: a list whose replica query fails with a connection or
  server error is ranked again on the primary, with a warning; when the
  connection is broken, lists go to the primary for ``REPLICA_RETRY_AFTER``
  seconds before the replica is tried again.

Other readers' lists, anonymous lists and "more like this" lists stay on the
replica and are as fresh as it is (see docs/scaling.md). Without a separate
``READ_DATABASE`` nothing here costs a query.
"""

from __future__ import annotations

import contextlib
import logging
import time
import weakref
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from functools import partial
from typing import TypeVar

from django.core.cache import caches
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections, transaction

from .conf import neural_feed_settings
from .models import Reader

logger = logging.getLogger(__name__)

T = TypeVar("T")

MARKER_PREFIX = "neural_feed:wrote"

#: The alias lists read from in this context, when a routing decision was made.
_chosen: ContextVar[str | None] = ContextVar("neural_feed_read_alias", default=None)
#: monotonic time until which the replica is not tried (it failed).
_down_until = 0.0
#: The furthest WAL position each open replica connection has been seen to
#: replay (per connection: behind a balancer, two connections may reach two
#: servers; a connection stays with one, whose position only grows).
_replayed: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def configured_alias() -> str:
    """``READ_DATABASE``, or the default database."""
    return neural_feed_settings.READ_DATABASE or DEFAULT_DB_ALIAS


def has_replica() -> bool:
    return configured_alias() != DEFAULT_DB_ALIAS


def current_alias() -> str:
    """The alias ranking reads from now (what ``statements.read_alias`` returns)."""
    chosen = _chosen.get()
    if chosen is not None:
        return chosen
    if has_replica() and time.monotonic() < _down_until:
        return DEFAULT_DB_ALIAS
    return configured_alias()


@contextlib.contextmanager
def reading_from(alias: str) -> Iterator[None]:
    """Rank on ``alias`` inside the block (e.g. ``"default"`` for a rolled-back what-if)."""
    token = _chosen.set(alias)
    try:
        yield
    finally:
        _chosen.reset(token)


# --- read your writes -------------------------------------------------------------


def marker_keys(*, reader_id=None, user_id=None, visitor_id=None) -> list[str]:
    """Cache keys of a reader's write markers, by every id a list may know them by."""
    keys = []
    if user_id is not None:
        keys.append(f"{MARKER_PREFIX}:u{user_id}")
    if visitor_id is not None:
        keys.append(f"{MARKER_PREFIX}:v{visitor_id}")
    if reader_id is not None:
        keys.append(f"{MARKER_PREFIX}:r{reader_id}")
    return keys


def _window() -> float:
    return float(neural_feed_settings.READ_YOUR_WRITES_SECONDS or 0)


def _cache():
    return caches[neural_feed_settings.LIST_CACHE_ALIAS]


def note_write(reader_id: int | None) -> None:
    """Remember, once the current transaction commits, that this reader wrote.

    Called where interactions and profiles are stored. Costs one query on the
    primary after commit, and only when a replica is configured.
    """
    if reader_id is None or not has_replica() or _window() <= 0:
        return
    transaction.on_commit(partial(_mark, reader_id), robust=True)


def _mark(reader_id: int) -> None:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(
            f"SELECT pg_current_wal_insert_lsn()::text, user_id, visitor_id::text"
            f" FROM {connections[DEFAULT_DB_ALIAS].ops.quote_name(Reader._meta.db_table)}"
            f" WHERE id = %s",
            [reader_id],
        )
        row = cursor.fetchone()
    if row is None:
        return
    lsn, user_id, visitor_id = row
    keys = marker_keys(reader_id=reader_id, user_id=user_id, visitor_id=visitor_id)
    _cache().set_many(dict.fromkeys(keys, lsn), timeout=_window())


def parse_lsn(text: str) -> int:
    """``"16/B374D848"`` as a number that orders like the WAL position."""
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def _replica_behind(alias: str, keys: list[str]) -> bool:
    """Whether the replica has not yet replayed this reader's last write."""
    if not keys or _window() <= 0:
        return False
    markers = _cache().get_many(keys).values()
    if not markers:
        return False
    needed = max(parse_lsn(marker) for marker in markers)
    connection = connections[alias]
    connection.ensure_connection()
    if needed <= _replayed.get(connection.connection, -1):
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_last_wal_replay_lsn()::text")
        (replayed,) = cursor.fetchone()
    if replayed is None:  # not a standby (e.g. a second alias of the primary)
        return False
    _replayed[connection.connection] = parse_lsn(replayed)
    return needed > _replayed[connection.connection]


# --- routing a list ------------------------------------------------------------------


def rank_on_read_database(keys: list[str], rank: Callable[[], T]) -> T:
    """Run ``rank`` (a list's queries) on the replica, or on the primary when the
    replica is behind this reader (``keys``: :func:`marker_keys`) or failing."""
    if _chosen.get() is not None or not has_replica():
        return rank()
    alias = current_alias()
    if alias == DEFAULT_DB_ALIAS:  # the replica failed a moment ago
        with reading_from(DEFAULT_DB_ALIAS):
            return rank()
    try:
        behind = _replica_behind(alias, keys)
        if not behind:
            with reading_from(alias):
                return rank()
    except (OperationalError, InterfaceError) as exc:
        _replica_failed(alias, exc)
    with reading_from(DEFAULT_DB_ALIAS):
        return rank()


def _replica_failed(alias: str, exc: Exception) -> None:
    """Log the failure; a broken connection keeps lists off the replica for a while."""
    global _down_until
    connection = connections[alias]
    broken = connection.connection is None or not connection.is_usable()
    if broken:
        retry_after = float(neural_feed_settings.REPLICA_RETRY_AFTER)
        _down_until = time.monotonic() + retry_after
        with contextlib.suppress(Exception):
            connection.close()
        logger.warning(
            "The read database %r failed (%s); lists are ranked on the primary "
            "for the next %.0f s.",
            alias,
            str(exc).strip() or type(exc).__name__,
            retry_after,
        )
    else:  # e.g. a query cancelled by a recovery conflict: this list only
        logger.warning(
            "A list's query failed on the read database %r (%s); ranked it on the primary.",
            alias,
            str(exc).strip() or type(exc).__name__,
        )


def reset() -> None:
    """Forget failures and replay positions seen (tests, or after a failover)."""
    global _down_until
    _down_until = 0.0
    _replayed.clear()
