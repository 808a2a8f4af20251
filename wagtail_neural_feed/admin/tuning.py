"""Applying a tuned setting to an admin feed, and reverting it, through the feed's admin form.

The form an admin edits a feed with validates and saves here too, so a tuned
or reverted setting obeys the same rules as an edit (``FeedConfig``'s), its
save resets the feed registry and publishes a new version stamp once the
transaction commits (every process, and every cached list keyed by the feed's
config, picks it up), and the feed's history shows what changed, old → new.
Every applied change, and every self-tuning decision to keep a setting, is a
:class:`~wagtail_neural_feed.models.TuningChange`.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.log_actions import log

from ..evaluation.records import tuned_values
from ..evaluation.tuning import TuneResult
from ..exceptions import TuningError
from ..models import AdminFeed, EvaluationRun, TuningChange
from .feed_views import FeedEditLogFormatter, feed_changes
from .forms import AdminFeedForm

logger = logging.getLogger(__name__)

TUNE_ACTION = "wagtail_neural_feed.tune_feed"
REVERT_ACTION = "wagtail_neural_feed.revert_tuning"


class FeedTuneLogFormatter(FeedEditLogFormatter):
    """History reads "Changed Freshness weight: 0.2 → 1.0 (self-tuning, NDCG@10 +0.0120)"."""

    label = _("Tune recommendation feed")

    def format_message(self, log_entry: Any) -> str:
        note = (log_entry.data or {}).get("note")
        message = super().format_message(log_entry)
        return f"{message} ({note})" if note else message


class FeedRevertLogFormatter(FeedTuneLogFormatter):
    label = _("Revert a tuning change")


def save_feed_values(
    feed: AdminFeed,
    values: dict[str, Any],
    *,
    user: Any = None,
    action: str = TUNE_ACTION,
    note: str = "",
) -> list[dict[str, str]]:
    """Save ``values`` into ``feed`` through its admin form; the changes, old → new.

    Raises TuningError with the form's messages if the values are refused.
    """
    data = {bound.name: bound.value() for bound in AdminFeedForm(instance=feed)}
    form = AdminFeedForm(data={**data, **values}, instance=feed, for_user=user)
    if not form.is_valid():
        problems = "; ".join(
            f"{field}: {' '.join(errors)}" if field != "__all__" else " ".join(errors)
            for field, errors in form.errors.items()
        )
        raise TuningError(f"Feed {feed.slug!r} refused the setting: {problems}")
    changes = feed_changes(form)
    with transaction.atomic():
        instance = form.save()
        log(
            instance=instance,
            action=action,
            user=user,
            data={"changes": changes, "note": note},
            content_changed=bool(changes),
        )
    return changes


def same_values(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two sets of tuned values agree (floats compared with a tolerance)."""
    return a.keys() == b.keys() and all(
        math.isclose(float(a[key]), float(b[key]), rel_tol=1e-9, abs_tol=1e-12) for key in a
    )


def record_decision(
    slug: str,
    result: TuneResult | None,
    *,
    outcome: str,
    source: str,
    reason: str = "",
    admin_feed: AdminFeed | None = None,
    evaluation: EvaluationRun | None = None,
) -> TuningChange:
    """Store what was decided about a feed's tuned setting (and log it)."""
    values: dict[str, Any] = {}
    if result is not None:
        values = {
            "before": tuned_values(result.current),
            "after": tuned_values(result.best),
            "test_ndcg_before": result.test[0],
            "test_ndcg_after": result.test[1],
            "gain": result.gain,
            "validation_events": result.validation_events,
            "test_events": result.test_events,
        }
    change = TuningChange.objects.create(
        feed=slug,
        admin_feed=admin_feed,
        source=source,
        outcome=outcome,
        reason=reason,
        evaluation=evaluation,
        **values,
    )
    logger.info("Tuning %s (%s): %s. %s", slug, source, outcome, reason)
    return change


def apply_tuning(
    feed: AdminFeed,
    result: TuneResult,
    *,
    source: str,
    evaluation: EvaluationRun | None = None,
    user: Any = None,
) -> TuningChange:
    """Save ``result.best`` into the admin feed and record the change.

    Refused if the feed was edited while it was being tuned: the gain was
    measured against the setting it had then.
    """
    before, after = tuned_values(result.current), tuned_values(result.best)
    with transaction.atomic():
        feed = AdminFeed.objects.select_for_update().get(pk=feed.pk)
        if not same_values(tuned_values(feed.to_config()), before):
            raise TuningError(
                f"Feed {feed.slug!r} was edited while it was tuned; run the tuning again."
            )
        k = result.replay.report.k
        note = (
            f"{TuningChange.Source(source).label}, NDCG@{k} {result.gain:+.4f} "
            f"on {result.test_events} test events"
        )
        save_feed_values(feed, after, user=user, note=note)
        return record_decision(
            feed.slug,
            result,
            outcome=TuningChange.Outcome.APPLIED,
            source=source,
            reason=note,
            admin_feed=feed,
            evaluation=evaluation,
        )


def revert_change(change: TuningChange, *, user: Any = None) -> TuningChange:
    """Restore the setting a change replaced, and mark the change reverted.

    Refused when the change was not applied, is already reverted, its feed is
    gone, or the feed was edited since (reverting would undo that edit too).
    """
    with transaction.atomic():
        change = TuningChange.objects.select_for_update().get(pk=change.pk)
        if not change.revertible:
            raise TuningError("This change cannot be reverted (not applied, already reverted, "
                              "or its feed was deleted).")  # fmt: skip
        feed = AdminFeed.objects.select_for_update().get(pk=change.admin_feed_id)
        if not same_values(tuned_values(feed.to_config()), change.after):
            raise TuningError(
                f"Feed {feed.slug!r} was edited after this change; edit the feed instead."
            )
        save_feed_values(
            feed,
            change.before,
            user=user,
            action=REVERT_ACTION,
            note=f"reverted the {change.get_source_display()} change of "
            f"{change.created_at:%Y-%m-%d %H:%M}",
        )
        change.reverted_at = timezone.now()
        change.reverted_by = user if getattr(user, "pk", None) else None
        change.save(update_fields=["reverted_at", "reverted_by"])
    logger.info("Tuning change %s of feed %s reverted by %s", change.pk, change.feed, user)
    return change
