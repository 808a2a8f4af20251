"""What the dashboard shows of evaluations and tuning: the latest evaluation of each feed
against its best baseline, and the recent tuning decisions (with what can be reverted)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..conf import neural_feed_settings
from ..evaluation.records import headline, latest_evaluations, tuned_values
from ..exceptions import NeuralFeedError
from ..feeds import registered_feeds
from ..models import EvaluationRun, TuningChange
from .tuning import same_values

RECENT_CHANGES = 20


@dataclass
class FeedEvaluation:
    slug: str
    title: str
    run: EvaluationRun | None
    headline: dict[str, Any] = field(default_factory=dict)


def evaluation_rows() -> list[FeedEvaluation]:
    """Every registered feed (and any evaluated since removed), with its latest evaluation."""
    feeds = registered_feeds()
    runs = latest_evaluations()
    rows = []
    for slug in sorted(set(feeds) | set(runs)):
        run = runs.get(slug)
        config = feeds.get(slug)
        rows.append(
            FeedEvaluation(
                slug=slug,
                title=(config.title if config else "") or slug,
                run=run,
                headline=headline(run) if run else {},
            )
        )
    return rows


def recent_tuning() -> list[TuningChange]:
    """The latest tuning decisions, newest first, each with ``can_revert_now``: applied, not
    reverted, and its feed still has the values it set (else a revert would be refused)."""
    changes = list(
        TuningChange.objects.select_related("reverted_by", "admin_feed").order_by(
            "-created_at", "-pk"
        )[:RECENT_CHANGES]
    )
    for change in changes:
        change.can_revert_now = change.revertible and _still_in_place(change)
    return changes


def _still_in_place(change: TuningChange) -> bool:
    try:
        current = tuned_values(change.admin_feed.to_config())
    except NeuralFeedError:
        return False
    return same_values(current, change.after)


def autotune_status() -> dict[str, Any]:
    """The self-tuning setting as the dashboard explains it."""
    options = neural_feed_settings.AUTOTUNE
    return {
        "enabled": bool(options.get("ENABLED")),
        "margin": options.get("MARGIN"),
        "since_days": options.get("SINCE_DAYS"),
        "feeds": list(options.get("FEEDS") or []),
        "min_events": neural_feed_settings.TUNE_MIN_EVENTS,
    }
