"""Report how far background work is behind; exit non-zero past a threshold (for monitoring)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from ...status import status
from .. import positive_int


class Command(BaseCommand):
    help = (
        "Pending and failed embeddings, pending profiles, the oldest job's age and the last "
        "sweep. Exits 1 when a job waits longer than --max-age or the sweep is older than "
        "--max-sweep-age."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--max-age",
            type=positive_int,
            default=900,
            help="Seconds a pending embedding or profile update may wait (default 900).",
        )
        parser.add_argument(
            "--max-sweep-age",
            type=positive_int,
            default=None,
            help="Seconds since the last sweep before it counts as missing (default: no check).",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, **options) -> None:
        report = status()
        if options["json"]:
            self.stdout.write(json.dumps(report))
        else:
            for key, value in report.items():
                shown = f"{value:.0f}s" if key.endswith("_age") and value is not None else value
                self.stdout.write(f"{key.replace('_', ' ')}: {shown if shown is not None else '-'}")
        problems = []
        for key in ("oldest_pending_embedding_age", "oldest_pending_profile_age"):
            if (report[key] or 0) > options["max_age"]:
                problems.append(
                    f"{key.replace('_', ' ')} {report[key]:.0f}s > {options['max_age']}s"
                )
        sweep_limit = options["max_sweep_age"]
        if sweep_limit and (
            report["last_sweep_age"] is None or report["last_sweep_age"] > sweep_limit
        ):
            problems.append(f"no sweep in the last {sweep_limit}s (see the beat schedule or cron)")
        if problems:
            raise CommandError("Background work is behind: " + "; ".join(problems) + ".")

    def _problems(self, report: dict, max_age: int, sweep_limit: int | None) -> list[str]:
        problems = []
        for key in ("oldest_pending_embedding_age", "oldest_pending_profile_age"):
            if (report[key] or 0) > max_age:
                problems.append(f"{key.replace('_', ' ')} {report[key]:.0f}s > {max_age}s")
        swept = report["last_sweep_age"]
        if sweep_limit and (swept is None or swept > sweep_limit):
            problems.append(f"no sweep in the last {sweep_limit}s (see the beat schedule or cron)")
        return problems
