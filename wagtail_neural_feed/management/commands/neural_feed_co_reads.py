"""Recount the co-read store ("readers of this also read") from the whole history.

The profile job keeps it up to date as readers read; run this once after
upgrading (to count the history recorded before), or after changing
``CO_READ_WINDOW_DAYS`` / ``CO_READ_HALF_LIFE_DAYS``.
"""

from django.core.management.base import BaseCommand

from ...co_reads import rebuild_co_reads
from ...models import CoRead


class Command(BaseCommand):
    help = "Show the co-read store's size, or recount it from the interactions (--rebuild)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--rebuild",
            action="store_true",
            help="Delete the stored co-reads and count them again from every interaction.",
        )

    def handle(self, *args, **options) -> None:
        if options["rebuild"]:
            rows = rebuild_co_reads()
            self.stdout.write(f"Co-reads rebuilt: {rows} page pairs.")
            return
        rows = CoRead.objects.count()
        pages = CoRead.objects.values("page_id").distinct().count()
        self.stdout.write(f"{rows} co-read page pairs on {pages} pages.")
