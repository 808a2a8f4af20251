"""Stored evaluations and tuning decisions, for the dashboard and for undoing a change.

``neural_feed_evaluate`` and the self-tuning job write an ``EvaluationRun``
after their replay (which itself is rolled back). Every setting applied to an
admin feed, and every self-tuning decision not to change one, is a
``TuningChange``: what the feed was, what it became, the gain on the test
split that justified it, and whether someone reverted it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .admin_feeds import AdminFeed


class EvaluationRun(models.Model):
    """One replay of the history: every ranker's metrics, and the tuning result if tuned."""

    class Kind(models.TextChoices):
        EVALUATE = "evaluate", _("Evaluation")
        TUNE = "tune", _("Tuning")
        AUTOTUNE = "autotune", _("Self-tuning")

    feed = models.SlugField(_("feed"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"))
    split = models.CharField(_("split"), max_length=32)
    k = models.PositiveSmallIntegerField(_("list length scored"))
    #: Held-out events scored (validation and test together when tuning).
    events = models.PositiveIntegerField(_("held-out events"))
    #: Interactions in the history replayed.
    interactions = models.PositiveIntegerField(_("interactions"), default=0)
    #: {ranker: {"events", "hit_rate@k", "ndcg@k", "mrr@k", "coverage", "diversity"}}.
    metrics = models.JSONField(_("metrics"), default=dict, blank=True)
    #: The tuning report (settings before and after, NDCG on each half, gain).
    tuning = models.JSONField(_("tuning"), null=True, blank=True)
    #: The command's options (since, max events, context, trials, ...).
    options = models.JSONField(_("options"), default=dict, blank=True)
    events_per_second = models.FloatField(_("held-out events per second"), default=0.0)

    class Meta:
        verbose_name = _("evaluation run")
        verbose_name_plural = _("evaluation runs")
        ordering = ["-finished_at", "-pk"]
        indexes = [
            models.Index(fields=["feed", "kind", "-finished_at"], name="neural_feed_eval_latest")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.feed} at {self.finished_at:%Y-%m-%d %H:%M}"


class TuningChange(models.Model):
    """A tuned setting applied to a feed, or a self-tuning run's reason for not applying one."""

    class Source(models.TextChoices):
        MANUAL = "manual", _("neural_feed_evaluate --tune --apply")
        AUTO = "auto", _("self-tuning")

    class Outcome(models.TextChoices):
        APPLIED = "applied", _("applied")
        KEPT = "kept", _("kept the current setting")
        REPORTED = "reported", _("reported (a feed declared in code)")
        SKIPPED = "skipped", _("skipped (too little data)")

    feed = models.SlugField(_("feed"), max_length=100)
    admin_feed = models.ForeignKey(
        AdminFeed, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    reason = models.TextField(_("reason"), blank=True)
    #: The tuned fields before and after (after = the setting tuning found best).
    before = models.JSONField(_("before"), default=dict, blank=True)
    after = models.JSONField(_("after"), default=dict, blank=True)
    #: NDCG@k on the test split of the current and the best setting, and their difference.
    test_ndcg_before = models.FloatField(null=True, blank=True)
    test_ndcg_after = models.FloatField(null=True, blank=True)
    gain = models.FloatField(_("gain"), null=True, blank=True)
    validation_events = models.PositiveIntegerField(default=0)
    test_events = models.PositiveIntegerField(default=0)
    evaluation = models.ForeignKey(
        EvaluationRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("decided at"), auto_now_add=True)
    reverted_at = models.DateTimeField(_("reverted at"), null=True, blank=True)
    reverted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("tuning change")
        verbose_name_plural = _("tuning changes")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["feed", "-created_at"], name="neural_feed_tuning_feed")]

    def __str__(self) -> str:
        return f"{self.feed}: {self.outcome} ({self.source})"

    @property
    def events(self) -> int:
        return self.validation_events + self.test_events

    @property
    def changed_fields(self) -> list[tuple[str, object, object]]:
        """(label, before, after) for each tuned value that differs ("Freshness weight")."""
        return [
            (_label(name), self.before.get(name), value)
            for name, value in self.after.items()
            if self.before.get(name) != value
        ]

    @property
    def revertible(self) -> bool:
        return (
            self.outcome == self.Outcome.APPLIED
            and self.reverted_at is None
            and self.admin_feed_id is not None
        )


def _label(name: str) -> str:
    """An admin feed field's label, or the name itself."""
    try:
        return str(AdminFeed._meta.get_field(name).verbose_name).capitalize()
    except Exception:
        return name
