"""The Celery side of dispatch: which app to use, and publishing with bounded waits.

``celery.current_app`` is per thread: in a thread the project never made its
app current in (a gthread or ASGI worker thread, our own publisher thread) it
is Celery's empty default app, which would silently send nowhere. So the app
is resolved explicitly: the ``CELERY_APP`` setting, else the app that was
current in the thread that loaded Django (remembered when this module is
imported, from ``AppConfig.ready()``), else this thread's current app or
Celery's default app, if either has a broker.

Publishing sets socket timeouts on the broker connection (a broker that
accepts the connection and never answers would otherwise block forever) and
opens a circuit breaker on failure, so the broker is not tried again for
``BROKER_RETRY_AFTER`` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.utils.module_loading import import_string

from .conf import neural_feed_settings, on_reload
from .exceptions import NeuralFeedConfigurationError
from .jobs import celery_task_name

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_startup_app: Any = None
_resolved: Any = None
_down_until = 0.0


def remember_current_app() -> None:
    """Remember the app current in the calling thread (called at import, and by tests)."""
    global _startup_app, _resolved
    try:
        from celery import _state
    except ImportError:
        return
    with _lock:
        _startup_app = getattr(_state._tls, "current_app", None) or _state.default_app
        _resolved = None


@on_reload
def forget_app() -> None:
    """Resolve the app again on next use (the settings changed)."""
    global _resolved
    _resolved = None


def celery_app() -> Any:
    """The project's Celery app, the same from every thread; None when there is none."""
    global _resolved
    if _resolved is not None:
        return _resolved
    try:
        from celery import Celery, _state
    except ImportError:
        return None
    configured = neural_feed_settings.CELERY_APP
    if configured:
        app = import_string(configured) if isinstance(configured, str) else configured
        if not isinstance(app, Celery):
            raise NeuralFeedConfigurationError(
                "WAGTAIL_NEURAL_FEED['CELERY_APP'] must be the dotted path of a Celery app "
                f"(e.g. 'mysite.celery.app'); got {type(app).__name__}."
            )
        if not _has_broker(app):
            return None
        _resolved = app
        return app
    app = _discover(_state)
    if app is not None:
        _resolved = app
    return app


def _discover(state: Any) -> Any:
    # No scan of every app ever created: a stale one (a test's, a script's)
    # would be picked silently. Several apps, or one made current elsewhere:
    # set CELERY_APP.
    for candidate in (_startup_app, getattr(state._tls, "current_app", None), state.default_app):
        if candidate is not None and _has_broker(candidate):
            return candidate
    return None


def _has_broker(app: Any) -> bool:
    try:
        return bool(app.conf.broker_url or app.conf.broker_write_url)
    except Exception:  # a half-configured app is not ours to use
        return False


def broker_available() -> bool:
    """False while the circuit breaker is open (the broker failed recently)."""
    return time.monotonic() >= _down_until


def reset_circuit() -> None:
    global _down_until
    _down_until = 0.0


def transport_timeouts(timeout: float) -> dict[str, float]:
    """Socket timeouts for the broker connection (each transport ignores the others' keys)."""
    return {
        # redis-py (kombu's redis transport)
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        # py-amqp (kombu's pyamqp transport)
        "read_timeout": timeout,
        "write_timeout": timeout,
    }


def publish(name: str, args: tuple, kwargs: dict) -> bool:
    """Send job ``name`` to the broker; False (and the breaker opens) when it failed."""
    global _down_until
    app = celery_app()
    if app is None or not broker_available():
        return False
    timeout = float(neural_feed_settings.BROKER_TIMEOUT)
    # The project's own transport options win (a site may want longer timeouts).
    options = {**transport_timeouts(timeout), **(app.conf.broker_transport_options or {})}
    try:
        # No retries and every socket operation bounded: a dead, unreachable
        # or silent broker costs at most a few BROKER_TIMEOUTs, once per
        # BROKER_RETRY_AFTER seconds.
        with app.connection_for_write(
            connect_timeout=timeout, transport_options=options
        ) as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
            app.send_task(
                celery_task_name(name),
                args=args,
                kwargs=kwargs,
                queue=neural_feed_settings.CELERY_QUEUE,
                retry=False,
                connection=connection,
            )
    except Exception as exc:
        _down_until = time.monotonic() + float(neural_feed_settings.BROKER_RETRY_AFTER)
        logger.warning("Celery broker unavailable (%s); running %s in a thread", exc, name)
        return False
    return True


remember_current_app()
