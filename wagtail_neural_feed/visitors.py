"""Visitor probation: no ``Reader`` row for a visitor until they come back.

A browser's first beacon has no visitor cookie; scripts never keep one. So a
first (cookieless, or unknown-cookie) interaction is held in the shared cache
under the visitor id the response sets as a cookie, and nothing is written to
the database. When that visitor id comes back within
``VISITOR_PROBATION_SECONDS``, the reader row is created and the held
interactions are stored with their original times. A script sending 10,000
cookieless requests (or a fresh random cookie each time) therefore creates
no readers and adds nothing to popularity. ``0`` turns probation off (every
first request creates its reader, as before).

Use a cache shared by every process (Redis, Memcached): with a per-process
cache a visitor whose second request reaches another process waits one more
request.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone

from .conf import neural_feed_settings
from .models import Interaction

KEY_PREFIX = "wagtail_neural_feed:held"
#: Interactions kept per visitor on probation; a first visit rarely sends more.
MAX_HELD = 5

Held = tuple[int, str, "float | None", float, datetime]


def probation_seconds() -> int:
    return int(neural_feed_settings.VISITOR_PROBATION_SECONDS or 0)


def _key(visitor: uuid.UUID) -> str:
    return f"{KEY_PREFIX}:{visitor.hex}"


def on_probation(visitor: uuid.UUID) -> bool:
    """True when probation is on and this visitor id has not been seen before."""
    return probation_seconds() > 0 and cache.get(_key(visitor)) is None


def hold(visitor: uuid.UUID, page_id: int, kind: str, value: float | None, weight: float) -> None:
    """Keep one interaction of a visitor on probation (the first ``MAX_HELD`` count)."""
    held = cache.get(_key(visitor)) or []
    if len(held) < MAX_HELD:
        held.append((page_id, kind, value, weight, timezone.now()))
    cache.set(_key(visitor), held, timeout=probation_seconds())


def begin(visitor: uuid.UUID) -> None:
    """Start the visitor's probation without holding anything (e.g. a list impression,
    which is not an interaction): their next request is a return."""
    cache.add(_key(visitor), [], timeout=probation_seconds())


def release(visitor: uuid.UUID) -> list[Held]:
    """The visitor's held interactions, forgotten here (they are about to be stored)."""
    held = cache.get(_key(visitor)) or []
    cache.delete(_key(visitor))
    return held


def hold_interaction(
    request: HttpRequest, page_id: int, kind: str, value: float | None, weight: float
) -> Interaction:
    """Hold a checked interaction of the request's visitor on probation; returned unsaved.

    ``tracking.reader_for(request, create=True)`` returned None and put the
    visitor id on the request.
    """
    hold(request._neural_feed_probation, page_id, kind, value, weight)
    return Interaction(page_id=page_id, kind=kind, value=value, weight=weight)
