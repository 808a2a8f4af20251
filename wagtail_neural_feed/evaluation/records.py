"""Evaluation and tuning results as plain dicts (the ``--json`` output), and storing them.

The replay itself is rolled back; these rows are written after it, so the
dashboard can show the latest evaluation of each feed and what tuning did.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from ..feeds import FeedConfig
from ..models import EvaluationRun
from .replay import ReplayResult
from .tuning import TUNED_FIELDS, TuneResult, best_fixed_baseline, fixed_baselines_on_test

#: The ranker that is the feed as configured, in an evaluation's metrics.
FEED_RANKER = "feed"
#: Rankers that are not baselines to beat (random is a floor, not a contender).
NOT_BASELINES = frozenset({FEED_RANKER, "random"})


def tuned_values(config: FeedConfig) -> dict[str, float]:
    """The fields tuning searches, as stored before / after a change."""
    return {field: getattr(config, field) for field in TUNED_FIELDS}


def evaluation_payload(result: ReplayResult, feed: str, k: int) -> dict[str, Any]:
    """An evaluation as the ``--json`` file has it."""
    summary = result.summary
    return {
        "feed": feed,
        "k": k,
        "events": summary.events,
        "held_out": summary.held_out,
        "cutoff": summary.cutoff,
        "catalogue": result.catalogue_size,
        "events_per_second": result.events_per_second,
        "engine": result.engine,
        "rankers": result.report.as_dict(result.catalogue_size),
        "impressions": (
            result.report.impressions_dict() if result.report.impression_lists else None
        ),
    }


def tuning_payload(result: TuneResult) -> dict[str, Any]:
    """A tuning run as the ``--json`` file has it."""
    best_fixed = best_fixed_baseline(result)
    return {
        "feed": result.current.slug,
        "k": result.replay.report.k,
        "events": result.replay.summary.events,
        "trials": result.trials,
        "validation_events": result.validation_events,
        "test_events": result.test_events,
        "validation_ndcg": {"current": result.validation[0], "best": result.validation[1]},
        "test_ndcg": {"current": result.test[0], "best": result.test[1]},
        "gain": result.gain,
        "current": tuned_values(result.current),
        "best": tuned_values(result.best),
        "fixed_baselines_test_ndcg": fixed_baselines_on_test(result),
        "best_fixed_baseline": best_fixed[0] if best_fixed else None,
        "beats_best_fixed": result.test[1] > best_fixed[1] if best_fixed else None,
        "events_per_second": result.replay.events_per_second,
    }


def store_evaluation(
    payload: dict[str, Any],
    *,
    kind: str,
    split: str,
    started_at: datetime,
    options: dict[str, Any] | None = None,
) -> EvaluationRun:
    """Save an evaluation (``evaluation_payload``) or tuning (``tuning_payload``) run."""
    tuned = kind != EvaluationRun.Kind.EVALUATE
    events = payload["validation_events"] + payload["test_events"] if tuned else payload["held_out"]
    return EvaluationRun.objects.create(
        feed=payload["feed"],
        kind=kind,
        started_at=started_at,
        finished_at=timezone.now(),
        split=split,
        k=payload["k"],
        events=events,
        interactions=payload.get("events", 0),
        metrics={} if tuned else payload["rankers"],
        tuning=payload if tuned else None,
        options=_jsonable(options or {}),
        events_per_second=payload.get("events_per_second") or 0.0,
    )


def headline(run: EvaluationRun) -> dict[str, Any]:
    """The feed's NDCG@k and hit rate@k against the best baseline (by NDCG@k)."""
    ndcg, hit = f"ndcg@{run.k}", f"hit_rate@{run.k}"
    feed = run.metrics.get(FEED_RANKER) or {}
    baselines = {
        name: values
        for name, values in run.metrics.items()
        # Settings ranked with --weights / --grid ("sim=1,fresh=...") are candidates, not baselines.
        if name not in NOT_BASELINES and "=" not in name
    }
    best_name = max(baselines, key=lambda name: baselines[name].get(ndcg) or 0.0, default=None)
    best = baselines.get(best_name) or {}
    return {
        "ndcg": feed.get(ndcg),
        "hit_rate": feed.get(hit),
        "baseline": best_name,
        "baseline_ndcg": best.get(ndcg),
        "baseline_hit_rate": best.get(hit),
        "beats_baseline": (feed.get(ndcg) or 0.0) > (best.get(ndcg) or 0.0),
    }


def latest_evaluations() -> dict[str, EvaluationRun]:
    """The latest plain evaluation (with baselines) of each feed, by slug."""
    runs = EvaluationRun.objects.filter(kind=EvaluationRun.Kind.EVALUATE).order_by(
        "feed", "-finished_at", "-pk"
    )
    return {run.feed: run for run in runs.distinct("feed")}


def _jsonable(options: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in options.items()
    }
