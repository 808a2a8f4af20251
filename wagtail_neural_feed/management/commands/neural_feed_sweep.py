"""Redo what lost jobs left undone: pending/failed embeddings, stale or pending profiles,
popularity counters. Safe to run any time (cron), or let Celery beat run the same sweep."""

from django.core.management.base import BaseCommand

from ...sweep import sweep


class Command(BaseCommand):
    help = "Recompute stale profiles, embed pending pages and refresh popularity counters."

    def handle(self, *args, **options) -> None:
        result = sweep()
        self.stdout.write(", ".join(f"{key}: {value}" for key, value in result.items()))
