"""Load the demo's articles (``content/articles.json``) into pages, once.

Pages are created live with publish dates spread over the last 90 days, each
with a generated image. Nothing is published through revisions: the demo
embeds everything in one batch afterwards (``indexing.ensure_rows`` +
``embed_many``), which is much faster than one background job per page.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from django.core.files.images import ImageFile
from django.db import transaction
from django.db.models.signals import post_save
from django.utils import timezone
from django.utils.html import escape
from django.utils.text import slugify
from wagtail.images import get_image_model
from wagtail.models import Page, ReferenceIndex, Site
from wagtail.search.backends import get_search_backend
from wagtail.search.index import get_indexed_models
from wagtail.search.signal_handlers import post_save_signal_handler
from wagtail.signal_handlers import disable_reference_index_auto_update

from .images import draw_image
from .models import ArticlePage, HomePage, SectionPage
from .sections import SECTIONS, Section

CONTENT_FILE = Path(__file__).resolve().parent / "content" / "articles.json"
SITE_TITLE = "Neural Feed Journal"
SITE_INTRO = (
    "Short reads on eight subjects. The more you read and like, "
    "the more the front page becomes yours."
)

Progress = Callable[[int, int], None]


def articles() -> list[dict]:
    """The articles of the data file, each with its ``slug``."""
    data = json.loads(CONTENT_FILE.read_text(encoding="utf-8"))
    for article in data:
        article.setdefault("slug", slugify(article["title"]))
    return data


def published_at(article: dict, *, now: datetime) -> datetime:
    """``days_ago`` days before ``now``, at an hour of the day seeded by the slug."""
    hour = int(hashlib.sha256(article["slug"].encode()).hexdigest()[:4], 16) % 12
    return now - timedelta(days=article["days_ago"], hours=hour)


def make_image(slug: str, section: Section, *, label: str = ""):
    """Store a generated picture as a Wagtail image."""
    image_model = get_image_model()
    image = image_model(title=label or slug.replace("-", " "))
    image.file = ImageFile(io.BytesIO(draw_image(slug, section, label=label)), name=f"{slug}.jpg")
    image.save()
    return image


def ensure_home() -> HomePage:
    """The home page, made the default site's root (replacing Wagtail's welcome page)."""
    home = HomePage.objects.first()
    if home is not None:
        return home
    root = Page.get_first_root_node()
    # Wagtail's initial migration leaves a plain "Welcome" page where ours belongs.
    for child in root.get_children().exact_type(Page):
        child.delete()
    home = root.add_child(instance=HomePage(title=SITE_TITLE, slug="home", intro=SITE_INTRO))
    Site.objects.update_or_create(
        is_default_site=True,
        defaults={"root_page": home, "hostname": "localhost", "site_name": SITE_TITLE},
    )
    return home


def ensure_sections(home: HomePage) -> dict[str, SectionPage]:
    existing = {page.slug: page for page in SectionPage.objects.child_of(home)}
    for section in SECTIONS:
        if section.slug in existing:
            continue
        page = SectionPage(
            title=section.name,
            slug=section.slug,
            intro=section.blurb,
            image=make_image(f"section-{section.slug}", section, label=section.name),
        )
        existing[section.slug] = home.add_child(instance=page)
    return existing


@contextmanager
def search_auto_update_off():
    """Stop indexing each saved object for search; :func:`load_content` indexes in bulk after."""
    models = get_indexed_models()
    for model in models:
        post_save.disconnect(post_save_signal_handler, sender=model)
    try:
        yield
    finally:
        for model in models:
            if getattr(model, "search_auto_update", True):
                post_save.connect(post_save_signal_handler, sender=model)


def load_content(*, progress: Progress | None = None, now: datetime | None = None) -> int:
    """Create the home page, the sections and every missing article; returns articles created.

    Idempotent: run it again and it adds only what is missing.
    """
    now = now or timezone.now()
    with transaction.atomic():
        home = ensure_home()
        sections = ensure_sections(home)
    present = set(ArticlePage.objects.values_list("slug", flat=True))
    todo = [item for item in articles() if item["slug"] not in present]
    # Oldest first, so each section's tree order follows publication order.
    todo.sort(key=lambda item: -item["days_ago"])
    by_slug = {section.slug: section for section in SECTIONS}
    created = []
    # Half the cost of a page save is its search and reference index updates, one
    # object at a time: switch them off and index everything in bulk at the end.
    with search_auto_update_off(), disable_reference_index_auto_update():
        for done, item in enumerate(todo, start=1):
            section = by_slug[item["section"]]
            with transaction.atomic():
                created.append(_create_article(item, sections[section.slug], section, now=now))
            if progress:
                progress(done, len(todo))
    _index(created)
    return len(todo)


def _index(pages: list[ArticlePage]) -> None:
    backend = get_search_backend()
    backend.add_bulk(ArticlePage, pages)
    backend.add_bulk(get_image_model(), [page.image for page in pages if page.image])
    for page in pages:
        ReferenceIndex.create_or_update_for_object(page)


def _create_article(item: dict, parent: SectionPage, section: Section, *, now: datetime):
    when = published_at(item, now=now)
    page = ArticlePage(
        title=item["title"],
        slug=item["slug"],
        intro=item["intro"],
        body=[("paragraph", f"<p>{escape(paragraph)}</p>") for paragraph in item["body"]],
        image=make_image(item["slug"], section),
        live=True,
        first_published_at=when,
        last_published_at=when,
    )
    page.tags.add(*item["tags"])
    return parent.add_child(instance=page)
