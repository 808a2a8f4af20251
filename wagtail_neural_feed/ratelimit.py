"""Per-client rate limits for the interaction endpoint, on the shared cache.

A sliding-window counter: the count of the current fixed window plus the
previous window's count weighted by how much of it still overlaps the last
``window`` seconds. Unlike a fixed window, a burst at the end of one minute
followed by a burst at the start of the next is still one minute's worth.
Only ``cache.add`` and the atomic ``cache.incr``/``decr`` are used, so every
process sharing the cache (Redis, Memcached) shares the limit; refused
requests are not counted. An allowed request costs two cache round trips
(increment this window's counter, read the previous one).

Behind reverse proxies every request comes from the proxy's address, so the
client is read from ``X-Forwarded-For`` when ``TRUSTED_PROXY_COUNT`` says how
many proxies in front of Django append to it (opt-in: the header is
trivially forged when nothing trustworthy sets it).
"""

from __future__ import annotations

import contextlib
import ipaddress
import time

from django.core.cache import cache
from django.http import HttpRequest

from .conf import neural_feed_settings

KEY_PREFIX = "wagtail_neural_feed:rate"


def allow(key: str, limit: int, *, window: float = 60.0, now: float | None = None) -> bool:
    """Count one request for ``key``; False when it would exceed ``limit`` per ``window``."""
    now = time.time() if now is None else now
    slot = int(now // window)
    current = f"{KEY_PREFIX}:{key}:{slot}"
    count = _count(current, timeout=int(window * 2) + 1)  # the next window still reads it
    previous = cache.get(f"{KEY_PREFIX}:{key}:{slot - 1}") or 0
    overlap = 1.0 - (now - slot * window) / window
    if previous * overlap + count > limit:
        with contextlib.suppress(ValueError):  # evicted meanwhile: nothing to give back
            cache.decr(current)  # a refused request does not use up the allowance
        return False
    return True


def _count(key: str, *, timeout: int) -> int:
    """Add one to ``key``'s counter and return it: one cache round trip when the
    window's counter exists (every request but a window's first), three at most."""
    try:
        return cache.incr(key)
    except ValueError:  # the window's first request (or the counter was evicted)
        pass
    if cache.add(key, 1, timeout=timeout):
        return 1
    try:  # another process started the window meanwhile
        return cache.incr(key)
    except ValueError:  # evicted again at once: count this request alone
        cache.set(key, 1, timeout=timeout)
        return 1


def client_address(request: HttpRequest) -> str:
    """The client's IP: ``REMOTE_ADDR``, or the address the trusted proxies saw.

    With ``TRUSTED_PROXY_COUNT = n``, each of the ``n`` proxies appended the
    address it received from to ``X-Forwarded-For``, so the client is the
    ``n``-th entry from the right; anything further left is the client's own
    (forgeable) claim and is ignored.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    trusted = int(neural_feed_settings.TRUSTED_PROXY_COUNT or 0)
    if trusted <= 0:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [part.strip() for part in forwarded.split(",") if part.strip()]
    if not hops:
        return remote
    candidate = hops[-trusted] if len(hops) >= trusted else hops[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:  # a proxy that forwards garbage: fall back to the socket
        return remote
