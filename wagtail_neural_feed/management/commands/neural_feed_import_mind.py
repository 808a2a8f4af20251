"""Import MIND-format news and behaviours files as pages, readers and reads.

The public MIND data (Microsoft News Dataset) is not shipped: its licence
forbids redistribution. See docs/evaluation.md for where to get it.
"""

from __future__ import annotations

from django.apps import apps
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from wagtail.models import Page, Site

from ...evaluation.mind import import_mind, text_field_for
from ...pagetypes import is_recommendable


class Command(BaseCommand):
    help = "Create pages, readers and views from MIND-format news.tsv and behaviors.tsv."

    def add_arguments(self, parser) -> None:
        parser.add_argument("news", help="news.tsv")
        parser.add_argument("behaviors", help="behaviors.tsv")
        parser.add_argument(
            "--parent-page",
            type=int,
            default=None,
            help="Id of the page to import under (default: the default site's root page).",
        )
        parser.add_argument(
            "--page-type",
            required=True,
            metavar="APP.MODEL",
            help="Recommendable page type to create for each article.",
        )
        parser.add_argument(
            "--section-type",
            default="wagtailcore.Page",
            metavar="APP.MODEL",
            help="Page type of the category sections (default wagtailcore.Page).",
        )
        parser.add_argument(
            "--text-field",
            default=None,
            help="Field for the abstract (default: the first of summary, intro, abstract, body).",
        )
        parser.add_argument(
            "--no-embed", action="store_true", help="Do not run neural_feed_embed afterwards."
        )

    def handle(self, *args, **options) -> None:
        page_model = _page_model(options["page_type"])
        if not is_recommendable(page_model):
            raise CommandError(f"{options['page_type']} is not a recommendable page type.")
        if options["text_field"] and text_field_for(page_model, options["text_field"]) is None:
            raise CommandError(
                f"{options['page_type']} has no text field {options['text_field']!r}."
            )
        section_model = _page_model(options["section_type"])
        parent = self._parent(options["parent_page"])
        try:
            result = import_mind(
                options["news"],
                options["behaviors"],
                parent=parent,
                page_model=page_model,
                section_model=section_model,
                text_field=options["text_field"],
            )
        except (OSError, ValueError) as error:
            raise CommandError(f"Cannot import: {error}") from error
        self.stdout.write(
            f"Imported {result.pages} new pages in {result.sections} new sections, "
            f"{result.readers} new readers, {result.interactions} new views, "
            f"{result.impressions} new impressions ({result.shown} shown items)."
        )
        if not options["no_embed"]:
            call_command("neural_feed_embed", stdout=self.stdout)

    def _parent(self, page_id: int | None) -> Page:
        if page_id is not None:
            parent = Page.objects.filter(pk=page_id).first()
            if parent is None:
                raise CommandError(f"No page with id {page_id}.")
            return parent
        site = Site.objects.filter(is_default_site=True).select_related("root_page").first()
        if site is None:
            raise CommandError("No default site: pass --parent-page.")
        return site.root_page


def _page_model(label: str) -> type[Page]:
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError) as error:
        raise CommandError(f"Unknown model {label!r}.") from error
    if not issubclass(model, Page):
        raise CommandError(f"{label} is not a page type.")
    return model
