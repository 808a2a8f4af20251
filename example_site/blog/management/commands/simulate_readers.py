"""``manage.py simulate_readers --readers 150 --days 30 --seed 1``: a month of simulated reading."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from blog.progress import ProgressBar
from blog.simulation import simulate


class Command(BaseCommand):
    help = (
        "Create simulated readers with interests and play a month of views, reading time, "
        "likes, dislikes and list impressions with clicks; then rebuild their profiles and "
        "page popularity. Deterministic per --seed; rerunning a seed replaces its readers."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--readers", type=int, default=150)
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, readers: int, days: int, seed: int, **options) -> None:
        result = simulate(
            readers=readers,
            days=days,
            seed=seed,
            progress=ProgressBar(sys.stdout, "Reader profiles"),
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Simulated {result.readers} readers, {result.interactions} interactions and "
                f"{result.impressions} list impressions over {days} days."
            )
        )
