"""The fast replay over several processes: contiguous chunks of time, the same numbers.

Each worker is a forked copy of the loaded replay (catalogue, history and
state shared copy-on-write) that ranks one contiguous chunk of the held-out
events. Before its chunk it moves the popularity counters forward exactly as
one process does (one batch per earlier held-out event), and chunks start on
a batch boundary, so every matrix product and every list is the one a single
process computes. The parent adds the lists to the report in time order (the
same float sums in the same order, so the metrics are equal to the last
digit) and runs the SQL check, which needs the replay's transaction, while
the workers rank.

Workers never touch the database (the parent's connection is shared with
them by the fork): a query from one raises, and the run stops with an error.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue as queues
import time
import traceback
from collections.abc import Callable
from itertools import pairwise
from math import ceil

from django.db import connections

from ..exceptions import EvaluationError
from .report import Report

logger = logging.getLogger(__name__)

#: Seconds between looks at a worker that has sent nothing (is it still alive?).
POLL_SECONDS = 1.0


def default_workers() -> int:
    """One worker per CPU the process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def cpu_seconds() -> float:
    """Processor time of this process and of its finished (joined) worker processes."""
    times = os.times()
    return time.process_time() + times.children_user + times.children_system


def chunk_bounds(events: int, workers: int, batch: int) -> list[tuple[int, int]]:
    """``workers`` (or fewer: at least a batch each) contiguous ranges of event
    positions that start on a multiple of ``batch``."""
    batches = ceil(events / batch) if events > 0 else 0
    workers = max(1, min(workers, batches))
    cuts = [min(events, round(i * batches / workers) * batch) for i in range(workers + 1)]
    return list(pairwise(cuts))


class ImpressionLog:
    """Stands in for the report in a worker: the impression scores, in order."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []

    def add_impression(self, ranker: str, scores, labels) -> None:
        self.rows.append((ranker, scores, labels))

    def take(self) -> list[tuple]:
        rows, self.rows = self.rows, []
        return rows


def usable_workers(workers: int) -> int:
    """``workers``, or 1 where processes cannot be forked (Windows), with a warning."""
    if workers > 1 and "fork" not in multiprocessing.get_all_start_methods():
        logger.warning("Evaluation workers need fork (Linux, macOS): ranking in one process.")
        return 1
    return workers


def run_chunks(
    fast, events: list, bounds, batch: int, report: Report, reference: Callable | None
) -> None:
    """Rank ``events`` chunk by chunk (``batch`` events at a time) in worker processes;
    record them here in order."""
    context = multiprocessing.get_context("fork")
    last = len(bounds) - 1
    channels = [context.Queue() for _ in bounds]
    processes = [
        context.Process(
            target=_work,
            args=(fast, events, start, stop, batch, index == last, len(bounds), channel),
            daemon=True,
        )
        for index, ((start, stop), channel) in enumerate(zip(bounds, channels, strict=True))
    ]
    for process in processes:
        process.start()
    logger.debug("Evaluation: %s workers for %s held-out events.", len(processes), len(events))
    try:
        done = 0
        for process, channel in zip(processes, channels, strict=True):
            while True:
                kind, payload = _receive(channel, process)
                if kind == "error":
                    raise EvaluationError(f"An evaluation worker failed:\n{payload}")
                first, lists, spreads, impressions = payload
                for row in impressions:
                    report.add_impression(*row)
                if kind == "done":
                    break
                batch = events[first : first + len(lists)]
                done = fast.record(batch, lists, spreads, done, report, reference)
            process.join()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()


def _receive(channel, process) -> tuple[str, object]:
    while True:
        try:
            return channel.get(timeout=POLL_SECONDS)
        except queues.Empty:
            if not process.is_alive():
                try:
                    return channel.get(timeout=POLL_SECONDS)
                except queues.Empty:
                    raise EvaluationError(
                        f"An evaluation worker stopped (exit code {process.exitcode})."
                    ) from None


def _work(fast, events, start: int, stop: int, size: int, last: bool, workers: int, channel):
    """In the worker: catch up to ``start``, rank ``events[start:stop]`` ``size`` at a time."""
    try:
        _forbid_queries()
        _share_blas_threads(workers)
        log = ImpressionLog()
        fast.skip_to(events, start)
        for first in range(start, stop, size):
            batch = events[first : min(first + size, stop)]
            lists, spreads = fast.rank_batch(batch, log)
            channel.put(("batch", (first, lists, spreads, log.take())))
        if last and fast.impressions is not None:
            fast.impressions.score_until(None, log)
        channel.put(("done", (stop, [], [], log.take())))
    except BaseException:
        channel.put(("error", traceback.format_exc()))
    finally:
        channel.close()
        channel.join_thread()


def _forbid_queries() -> None:
    """The database connection belongs to the parent: a query here would corrupt it."""

    def refuse(execute, sql, params, many, context):
        raise EvaluationError("An evaluation worker may not query the database.")

    for connection in connections.all(initialized_only=True):
        connection.execute_wrappers.append(refuse)


def _share_blas_threads(workers: int) -> None:
    """Each worker's BLAS gets its share of the CPUs (not all of them each)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it BLAS keeps its own thread count
        return
    threadpool_limits(limits=max(1, default_workers() // workers))
