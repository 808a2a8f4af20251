"""What Celery beat does in production, for the demo without a worker: a daemon thread
that refreshes popularity every minute and runs the sweep every five."""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections

from wagtail_neural_feed.popularity import refresh_popularity
from wagtail_neural_feed.sweep import sweep

logger = logging.getLogger(__name__)

POPULARITY_EVERY = 60.0
SWEEPS_EVERY = 5  # popularity refreshes


def _loop(stop: threading.Event) -> None:
    rounds = 0
    while not stop.wait(POPULARITY_EVERY):
        rounds += 1
        try:
            sweep() if rounds % SWEEPS_EVERY == 0 else refresh_popularity()
        except Exception:
            logger.exception("Demo upkeep failed; trying again next round")
        finally:
            close_old_connections()


def start_upkeep() -> threading.Event:
    """Start the thread; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(target=_loop, args=(stop,), name="demo-upkeep", daemon=True).start()
    return stop
