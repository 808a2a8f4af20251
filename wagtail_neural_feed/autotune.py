"""Self-tuning: re-tune feeds on their recent history and keep only measured improvements.

Opt-in (``AUTOTUNE["ENABLED"]``) and run on a schedule: the Celery task
``wagtail_neural_feed.autotune`` from beat, or ``manage.py neural_feed_autotune``
from cron. For each feed it runs the same search as
``neural_feed_evaluate --tune`` on the last ``SINCE_DAYS`` of interactions and
applies the best setting to an admin feed only when its NDCG gain on the test
split (events that played no part in choosing it) exceeds ``MARGIN`` and at
least ``TUNE_MIN_EVENTS`` held-out events stand behind it. A setting an admin
has reverted is not applied again. Feeds declared in code are never changed:
the job reports the ``Feed`` class to paste. Every decision is logged and
stored (a :class:`~wagtail_neural_feed.models.TuningChange`, shown on the
dashboard with a revert button for applied ones).
"""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from .admin.tuning import apply_tuning, record_decision, same_values
from .conf import DEFAULTS, neural_feed_settings
from .evaluation.history import SPLITS
from .evaluation.records import store_evaluation, tuned_values, tuning_payload
from .evaluation.tuning import TuneResult, feed_class_source, tune
from .exceptions import EvaluationError, NeuralFeedConfigurationError, TuningError, UnknownFeed
from .feeds import code_feeds, get_feed_config
from .models import AdminFeed, EvaluationRun, TuningChange

logger = logging.getLogger(__name__)

#: PostgreSQL advisory lock held while a self-tuning run is under way (one at a time).
LOCK_KEY = zlib.crc32(b"wagtail_neural_feed.autotune")

Outcome, Source = TuningChange.Outcome, TuningChange.Source


@dataclass
class Decision:
    feed: str
    outcome: str
    reason: str
    gain: float | None = None
    change_id: int | None = None


def autotune_problems(options: Any = None) -> list[str]:
    """What is wrong with the ``AUTOTUNE`` setting (empty when it is fine)."""
    options = neural_feed_settings.AUTOTUNE if options is None else options
    if not isinstance(options, dict):
        return [f"AUTOTUNE must be a dict, not {type(options).__name__}"]
    problems = [
        f"AUTOTUNE has no option {key!r} (known: {', '.join(DEFAULTS['AUTOTUNE'])})"
        for key in options
        if key not in DEFAULTS["AUTOTUNE"]
    ]

    def number(key: str, low: float, *, above: bool = False, whole: bool = False) -> None:
        value = options.get(key, DEFAULTS["AUTOTUNE"][key])
        kind = int if whole else int | float
        if (
            isinstance(value, bool)
            or not isinstance(value, kind)
            or not math.isfinite(value)
            or (value <= low if above else value < low)
        ):
            sign = ">" if above else ">="
            problems.append(f"AUTOTUNE[{key!r}] must be a number {sign} {low}, not {value!r}")

    if not isinstance(options.get("ENABLED", False), bool):
        problems.append("AUTOTUNE['ENABLED'] must be True or False")
    feeds = options.get("FEEDS", [])
    if not isinstance(feeds, list | tuple) or not all(isinstance(s, str) for s in feeds):
        problems.append("AUTOTUNE['FEEDS'] must be a list of feed slugs")
    number("MARGIN", 0.0)
    number("SINCE_DAYS", 0.0, above=True)
    number("SEED", 0, whole=True)
    if options.get("TRIALS", 1) is not None:
        number("TRIALS", 1, whole=True)
    if options.get("MAX_EVENTS") is not None:
        number("MAX_EVENTS", 1, whole=True)
    if options.get("SPLIT", "time") not in SPLITS:
        problems.append(f"AUTOTUNE['SPLIT'] must be one of {', '.join(SPLITS)}")
    if options.get("CONTEXT", "none") not in ("none", "last"):
        problems.append("AUTOTUNE['CONTEXT'] must be 'none' or 'last'")
    return problems


def autotune_feeds() -> list[str]:
    """The slugs to tune: ``FEEDS``, or every admin feed when it is empty."""
    listed = list(neural_feed_settings.AUTOTUNE["FEEDS"])
    return listed or list(AdminFeed.objects.order_by("slug").values_list("slug", flat=True))


def run_autotune(*, force: bool = False, now: datetime | None = None) -> list[dict[str, Any]]:
    """Tune every configured feed once; the decisions as dicts (for Celery's result).

    Does nothing unless ``AUTOTUNE["ENABLED"]`` (or ``force``), or while another
    run holds the lock.
    """
    options = neural_feed_settings.AUTOTUNE
    problems = autotune_problems(options)
    if problems:
        raise NeuralFeedConfigurationError("; ".join(problems))
    if not (options["ENABLED"] or force):
        logger.info("Self-tuning is off (WAGTAIL_NEURAL_FEED['AUTOTUNE']['ENABLED'])")
        return []
    now = now or timezone.now()
    with _single_run() as acquired:
        if not acquired:
            logger.warning("Self-tuning is already running elsewhere; this run does nothing")
            return []
        return [asdict(tune_feed(slug, options, now)) for slug in autotune_feeds()]


def tune_feed(slug: str, options: dict[str, Any], now: datetime) -> Decision:
    """Tune one feed on the recent history and apply, keep or report the result."""
    admin_feed = None if slug in code_feeds() else AdminFeed.objects.filter(slug=slug).first()
    split = options["SPLIT"]
    started = timezone.now()
    try:
        config = get_feed_config(slug)
        result = tune(
            config,
            trials=options["TRIALS"],
            seed=options["SEED"],
            split=split,
            since=now - timedelta(days=float(options["SINCE_DAYS"])),
            max_events=options["MAX_EVENTS"],
            context=options["CONTEXT"],
        )
    except (EvaluationError, UnknownFeed) as exc:
        change = record_decision(
            slug, None, outcome=Outcome.SKIPPED, source=Source.AUTO, reason=str(exc),
            admin_feed=admin_feed,
        )  # fmt: skip
        return Decision(slug, change.outcome, change.reason, change_id=change.pk)
    evaluation = store_evaluation(
        tuning_payload(result),
        kind=EvaluationRun.Kind.AUTOTUNE,
        split=split,
        started_at=started,
        options={key.lower(): value for key, value in options.items()},
    )
    outcome, reason = decide(result, float(options["MARGIN"]), admin_feed)
    if outcome == Outcome.APPLIED:
        try:
            change = apply_tuning(admin_feed, result, source=Source.AUTO, evaluation=evaluation)
        except TuningError as exc:
            outcome, reason = Outcome.KEPT, str(exc)
        else:
            logger.warning("Self-tuning changed feed %r: %s", slug, change.reason)
            return Decision(slug, change.outcome, change.reason, result.gain, change.pk)
    if outcome == Outcome.REPORTED:
        logger.warning("%s\n%s", reason, feed_class_source(result.best))
    change = record_decision(
        slug, result, outcome=outcome, source=Source.AUTO, reason=reason,
        admin_feed=admin_feed, evaluation=evaluation,
    )  # fmt: skip
    return Decision(slug, outcome, reason, result.gain, change.pk)


def decide(result: TuneResult, margin: float, admin_feed: AdminFeed | None) -> tuple[str, str]:
    """Apply only a different setting, on enough events, beating the margin on the test split."""
    k = result.replay.report.k
    events = result.validation_events + result.test_events
    minimum = int(neural_feed_settings.TUNE_MIN_EVENTS)
    best = tuned_values(result.best)
    if events < minimum:
        return Outcome.KEPT, f"Only {events} held-out events; at least {minimum} needed."
    if same_values(best, tuned_values(result.current)):
        return Outcome.KEPT, "The current setting is the best tried."
    if not result.gain > margin:
        return Outcome.KEPT, (
            f"NDCG@{k} gain {result.gain:+.4f} on {result.test_events} test events "
            f"does not exceed the margin {margin}."
        )
    if admin_feed is None:
        return Outcome.REPORTED, (
            f"Feed {result.current.slug!r} is declared in code: NDCG@{k} gain "
            f"{result.gain:+.4f} on {result.test_events} test events; paste the Feed class "
            "printed by 'neural_feed_evaluate --tune --apply' to use it."
        )
    reverted = TuningChange.objects.filter(
        feed=result.current.slug, outcome=Outcome.APPLIED, reverted_at__isnull=False
    )
    if any(same_values(change.after, best) for change in reverted):
        return Outcome.KEPT, "An admin reverted this setting before; not applied again."
    return Outcome.APPLIED, ""


@contextmanager
def _single_run() -> Iterator[bool]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
