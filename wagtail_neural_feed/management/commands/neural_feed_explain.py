"""Print the PostgreSQL plan of a feed's ranking statement.

Shows whether the HNSW index (``neural_feed_embedding_hnsw``) is used and
where the time goes, for a given feed, reader and context page.
"""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from wagtail.models import Page

from ...api import explain, recommend
from ...exceptions import NeuralFeedError
from ...indexing import is_recommendable
from ...models import Reader
from ...models.fields import PAGE_HNSW_INDEX as HNSW_INDEX
from ...scope_indexes import PREFIX as SCOPE_PREFIX
from .. import positive_int


class Command(BaseCommand):
    help = "Print the query plan of a feed's ranking statement (EXPLAIN ANALYZE)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--feed", default=None, help="Feed slug (default: the default feed).")
        who = parser.add_mutually_exclusive_group()
        who.add_argument("--reader", type=int, help="Reader id.")
        who.add_argument("--user", help="Username of a signed-in reader.")
        parser.add_argument("--page", type=int, help="Id of the context page being read.")
        parser.add_argument("--limit", type=positive_int, default=10)
        parser.add_argument(
            "--no-analyze", action="store_true", help="Plan only; do not run the statement."
        )

    def handle(self, *args, **options) -> None:
        reader = self._reader(options)
        context = None
        if options["page"] is not None:
            context = Page.objects.filter(pk=options["page"]).specific().first()
            if context is None:
                raise CommandError(f"No page with id {options['page']}.")
            if not context.live:
                raise CommandError(
                    f"Page {context.pk} is not live; only published pages are recommended "
                    "or used as context."
                )
            if not is_recommendable(context):
                raise CommandError(
                    f"Page {context.pk} ({type(context).__name__}) is not recommendable "
                    "(no RecommendablePageMixin), so it has no embedding to rank against."
                )
        try:
            plan = explain(
                reader,
                feed=options["feed"],
                limit=options["limit"],
                context_page=context,
                analyze=not options["no_analyze"],
            )
            pages = recommend(
                reader, feed=options["feed"], limit=options["limit"], context_page=context
            )
        except NeuralFeedError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(plan)
        self.stdout.write("")
        scoped = re.search(rf"{SCOPE_PREFIX}_e_\w+", plan)
        if HNSW_INDEX in plan:
            self.stdout.write(self.style.SUCCESS(f"The HNSW index {HNSW_INDEX} is used."))
        elif scoped:
            self.stdout.write(self.style.SUCCESS(f"The scope index {scoped[0]} is used."))
        else:
            self.stdout.write(
                self.style.WARNING(
                    f"The HNSW index {HNSW_INDEX} is not used (a small site scored exactly, "
                    "no profile or context vector, or the planner preferred another plan; "
                    "run ANALYZE if the table is new)."
                )
            )
        if pages and pages[0].recommendation.completeness:
            self.stdout.write(
                f"Complete by: {pages[0].recommendation.completeness} "
                "(how the ranking showed no page left out could have made the list)."
            )
        self.stdout.write(f"\n{len(pages)} pages:")
        for page in pages:
            r = page.recommendation
            self.stdout.write(
                f"{r.rank:>3}. [{page.pk}] {page.title}  score={r.score:.4f} "
                f"(similarity={r.similarity:.4f}, freshness={r.freshness:.4f}, "
                f"popularity={r.popularity:.4f})"
            )

    def _reader(self, options):
        if options["reader"] is not None:
            reader = Reader.objects.filter(pk=options["reader"]).first()
            if reader is None:
                raise CommandError(f"No reader with id {options['reader']}.")
            return reader
        if options["user"]:
            user = (
                get_user_model()
                ._default_manager.filter(**{get_user_model().USERNAME_FIELD: options["user"]})
                .first()
            )
            if user is None:
                raise CommandError(f"No user {options['user']!r}.")
            return user
        return None
