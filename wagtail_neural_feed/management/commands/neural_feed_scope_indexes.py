"""List, create or drop the partial HNSW indexes of selective scopes (sites, locales).

    manage.py neural_feed_scope_indexes                 # scopes, their share, their indexes
    manage.py neural_feed_scope_indexes --auto          # index every scope below --max-share
    manage.py neural_feed_scope_indexes --create news.example.com fr
    manage.py neural_feed_scope_indexes --drop-all

See ``wagtail_neural_feed.scope_indexes`` and docs/ranking.md ("Many sites in one index").
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from ...scope_indexes import (
    ScopeOption,
    create_scope_indexes,
    drop_scope_indexes,
    existing_scope_indexes,
    scope_options,
)


def share(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = "Partial HNSW indexes for sites and locales that hold a small share of the pages."

    def add_arguments(self, parser) -> None:
        action = parser.add_mutually_exclusive_group()
        action.add_argument(
            "--auto",
            action="store_true",
            help="Index every site and locale holding at most --max-share of the pages.",
        )
        action.add_argument(
            "--create",
            nargs="+",
            metavar="SCOPE",
            help="Sites (hostname) or locales (language code) to index.",
        )
        action.add_argument("--drop", nargs="+", metavar="INDEX", help="Scope indexes to drop.")
        action.add_argument("--drop-all", action="store_true", help="Drop every scope index.")
        parser.add_argument("--max-share", type=share, default=0.5)
        parser.add_argument(
            "--concurrently",
            action="store_true",
            help="CREATE INDEX CONCURRENTLY (no write lock; slower, not in a transaction).",
        )

    def handle(self, *args, **options) -> None:
        if options["drop_all"] or options["drop"]:
            names = options["drop"] or [row[0] for row in existing_scope_indexes()]
            try:
                dropped = drop_scope_indexes(names)
            except ValueError as error:
                raise CommandError(str(error)) from None
            self.stdout.write(f"Dropped {len(dropped)} scope index(es).")
            return
        scopes = scope_options()
        total = sum(s.pages for s in scopes if s.label.startswith("site ")) or 1
        chosen: list[ScopeOption] = []
        if options["auto"]:
            chosen = [s for s in scopes if 0 < s.pages <= options["max_share"] * total]
        elif options["create"]:
            for wanted in options["create"]:
                matches = [s for s in scopes if s.label.split(" ", 1)[1].split(":")[0] == wanted]
                if not matches:
                    raise CommandError(f"No site or locale {wanted!r}.")
                chosen += matches
        for scope in chosen:
            started = time.perf_counter()
            names = create_scope_indexes(scope, concurrently=options["concurrently"])
            self.stdout.write(
                f"{scope.label}: {', '.join(names)} ({scope.pages} pages, "
                f"{time.perf_counter() - started:.1f} s)"
            )
        self.stdout.write(f"{'scope':<40} {'pages':>9} {'share':>6}")
        for scope in scopes:
            self.stdout.write(f"{scope.label:<40} {scope.pages:>9} {scope.pages / total:>6.1%}")
        for name, table, rows, size in existing_scope_indexes():
            self.stdout.write(f"{name} on {table}: {rows} rows, {size / 2**20:.1f} MB")
