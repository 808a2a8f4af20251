"""Self-tuning from cron: re-tune feeds on recent history, apply only measured improvements.

Does nothing unless ``WAGTAIL_NEURAL_FEED["AUTOTUNE"]["ENABLED"]`` (or ``--force``,
for one run by hand). See docs/evaluation.md, "Self-tuning".
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ...autotune import autotune_problems, run_autotune
from ...conf import neural_feed_settings
from ...exceptions import NeuralFeedError


class Command(BaseCommand):
    help = (
        "Tune each feed in AUTOTUNE['FEEDS'] (default: every admin feed) on the recent history "
        "and apply a setting to an admin feed only when it beats the current one by the margin."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="Run even when AUTOTUNE['ENABLED'] is off."
        )

    def handle(self, *args, **options) -> None:
        problems = autotune_problems()
        if problems:
            raise CommandError("; ".join(problems))
        if not (neural_feed_settings.AUTOTUNE["ENABLED"] or options["force"]):
            self.stdout.write(
                "Self-tuning is off: set WAGTAIL_NEURAL_FEED['AUTOTUNE']['ENABLED'] = True "
                "(or pass --force for one run)."
            )
            return
        try:
            decisions = run_autotune(force=True)
        except NeuralFeedError as error:
            raise CommandError(str(error)) from error
        if not decisions:
            self.stdout.write("Nothing tuned (no admin feed, or another run is under way).")
        for decision in decisions:
            gain = "" if decision["gain"] is None else f" (gain {decision['gain']:+.4f})"
            reason = f": {decision['reason']}" if decision["reason"] else ""
            self.stdout.write(f"{decision['feed']}: {decision['outcome']}{gain}{reason}")
