"""Delete interactions and impressions older than the retention period (RETENTION_DAYS)."""

from django.core.management.base import BaseCommand, CommandError

from ...impressions import purge_old_impressions
from ...tracking import purge_old_interactions


class Command(BaseCommand):
    help = "Delete interactions and impressions older than RETENTION_DAYS (or --days)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=None)

    def handle(self, *args, **options) -> None:
        if options["days"] is not None and options["days"] < 0:
            raise CommandError("--days must be 0 or more.")
        deleted = purge_old_interactions(options["days"])
        impressions = purge_old_impressions(options["days"])
        self.stdout.write(
            f"Deleted {deleted} interactions and {impressions} impressions; "
            "affected profiles will be recomputed."
        )
