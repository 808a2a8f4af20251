"""Hand background jobs to Celery, a background thread, or run them inline.

``enqueue()`` waits for the current transaction to commit, then sends the job
(ids only). With Celery, the request thread only puts the job on an
in-process outbox; a publisher thread sends it to the broker with every
socket operation bounded (``broker.py``), so a dead, slow or silent broker
never holds up a request or a publish. When the broker fails, the job runs in
this process's background thread instead and the broker is not tried again
for ``BROKER_RETRY_AFTER`` seconds. Anything lost anyway (a process killed
before its outbox was sent, a worker killed mid-job) is still recorded in the
database and redone by the sweep.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from django.db import close_old_connections, transaction

from . import broker
from .conf import neural_feed_settings
from .exceptions import NeuralFeedConfigurationError
from .jobs import MERGEABLE_JOBS, job_function

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "celery", "thread", "inline")
#: Seconds a finishing process waits for its outbox to reach the broker.
EXIT_FLUSH_SECONDS = 2.0


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
    """Whether a Celery app with a broker is found (from any thread)."""
    return broker.celery_app() is not None


def send(name: str, *args: Any, **kwargs: Any) -> str:
    """Send job ``name`` now, without waiting on a broker. Returns the backend that took it."""
    backend = backend_name()
    if backend == "celery":
        if broker.broker_available():
            publisher().submit(name, args, kwargs)
            return "celery"
        backend = "thread"
    if backend == "thread":
        background_worker().submit(name, args, kwargs)
        return "thread"
    run_job(name, args, kwargs)
    return "inline"


def publish_or_run(name: str, args: tuple, kwargs: dict | None = None) -> None:
    """The publisher thread's work: to the broker, else to the background thread."""
    if not broker.publish(name, args, kwargs or {}):
        background_worker().submit(name, args, kwargs or {})


def run_job(name: str, args: tuple = (), kwargs: dict | None = None) -> Any:
    """Run a job in this thread, logging (not raising) its failure."""
    try:
        return job_function(name)(*args, **(kwargs or {}))
    except Exception:
        logger.exception("Neural feed job %s%r failed", name, args)
        return None


class BackgroundWorker:
    """One daemon thread that handles submitted jobs in order (``handler`` runs each)."""

    def __init__(self, name: str = "neural-feed-worker", handler: Callable = run_job) -> None:
        self.name = name
        self._handler = handler
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._unstarted: dict[str, list] = {}  # mergeable job -> its queued ids

    def submit(self, name: str, args: tuple, kwargs: dict) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            if name in MERGEABLE_JOBS:
                waiting = self._unstarted.get(name)
                if waiting is not None:  # one job, not one per call: extend it
                    waiting.extend(args[0])
                    return
                ids = list(args[0])
                self._unstarted[name] = ids
                args = (ids, *args[1:])
            self._queue.put((name, args, kwargs))

    def _run(self) -> None:
        while True:
            name, args, kwargs = self._queue.get()
            with self._lock:  # started: later calls queue a new job
                if args and self._unstarted.get(name) is args[0]:
                    del self._unstarted[name]
            try:
                close_old_connections()
                self._handler(name, args, kwargs)
            except Exception:  # the thread must outlive any job
                logger.exception("Neural feed %s could not handle %s", self.name, name)
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
_publisher = BackgroundWorker("neural-feed-publisher", publish_or_run)


def background_worker() -> BackgroundWorker:
    """The thread that runs jobs in this process (the "thread" backend and the fallback)."""
    return _worker


def publisher() -> BackgroundWorker:
    """The thread that sends jobs to the Celery broker."""
    return _publisher


def wait_for_jobs(timeout: float = 30.0) -> bool:
    """Wait until this process has sent every queued job and run its own; True if done."""
    deadline = time.monotonic() + timeout
    return _publisher.wait(timeout) and _worker.wait(max(0.0, deadline - time.monotonic()))


@atexit.register
def _flush_outbox() -> None:
    # A command that publishes and exits should still hand its jobs over; what
    # does not make it in time is pending in the database, for the sweep.
    _publisher.wait(EXIT_FLUSH_SECONDS)
