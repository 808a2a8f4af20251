"""Hand background jobs to Celery, a background thread, or run them inline.

``enqueue()`` waits for the current transaction to commit, then sends the job
(ids only). Celery is used when it is configured and its broker answers; when
the broker is down the job runs in this process's background thread instead,
and the broker is not tried again for ``BROKER_RETRY_AFTER`` seconds, so a
request never waits on a dead broker more than once. Anything lost anyway (a
process killed mid-job) is still recorded in the database and redone by the
sweep.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from functools import partial
from typing import Any

from django.db import close_old_connections, transaction

from .conf import neural_feed_settings
from .exceptions import NeuralFeedConfigurationError
from .jobs import celery_task_name, job_function

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "celery", "thread", "inline")

_broker_down_until = 0.0


def enqueue(name: str, *args: Any, using: str | None = None, **kwargs: Any) -> None:
    """Run job ``name`` with ``args`` once the current transaction commits."""
    transaction.on_commit(partial(send, name, *args, **kwargs), using=using, robust=True)


def backend_name() -> str:
    """The backend the next job will use: "celery", "thread" or "inline"."""
    configured = neural_feed_settings.DISPATCH
    if configured not in BACKENDS:
        raise NeuralFeedConfigurationError(
            f"WAGTAIL_NEURAL_FEED['DISPATCH'] must be one of {', '.join(BACKENDS)}; "
            f"got {configured!r}."
        )
    if configured == "auto":
        return "celery" if celery_configured() else "thread"
    return configured


def celery_configured() -> bool:
    try:
        from celery import current_app
    except ImportError:
        return False
    return bool(current_app.conf.broker_url)


def send(name: str, *args: Any, **kwargs: Any) -> str:
    """Send job ``name`` now. Returns the backend that took it."""
    backend = backend_name()
    if backend == "celery":
        if _send_to_celery(name, args, kwargs):
            return "celery"
        backend = "thread"
    if backend == "thread":
        background_worker().submit(name, args, kwargs)
        return "thread"
    run_job(name, args, kwargs)
    return "inline"


def _send_to_celery(name: str, args: tuple, kwargs: dict) -> bool:
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        return False
    from celery import current_app

    timeout = float(neural_feed_settings.BROKER_TIMEOUT)
    try:
        # Connect with a bounded wait and no retries: a dead or unreachable
        # broker costs a request at most BROKER_TIMEOUT, once per
        # BROKER_RETRY_AFTER seconds.
        with current_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
            current_app.send_task(
                celery_task_name(name),
                args=args,
                kwargs=kwargs,
                queue=neural_feed_settings.CELERY_QUEUE,
                retry=False,
                connection=connection,
            )
    except Exception:
        _broker_down_until = time.monotonic() + neural_feed_settings.BROKER_RETRY_AFTER
        logger.warning("Celery broker unavailable; running %s in a background thread", name)
        return False
    return True


def run_job(name: str, args: tuple = (), kwargs: dict | None = None) -> Any:
    """Run a job in this thread, logging (not raising) its failure."""
    try:
        return job_function(name)(*args, **(kwargs or {}))
    except Exception:
        logger.exception("Neural feed job %s%r failed", name, args)
        return None


class BackgroundWorker:
    """One daemon thread per process that runs jobs in order."""

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, name: str, args: tuple, kwargs: dict) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="neural-feed-worker", daemon=True
                )
                self._thread.start()
        self._queue.put((name, args, kwargs))

    def _run(self) -> None:
        while True:
            name, args, kwargs = self._queue.get()
            try:
                close_old_connections()
                run_job(name, args, kwargs)
            finally:
                close_old_connections()
                self._queue.task_done()

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until queued jobs are done (for tests and commands). True if drained."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True


_worker = BackgroundWorker()


def background_worker() -> BackgroundWorker:
    return _worker
