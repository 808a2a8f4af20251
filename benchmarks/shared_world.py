"""A shared index for the ranking benchmark: many sites' pages in one embedding table.

``python -m benchmarks.ranking --shared-sites 20 --sizes 100000`` builds 20
sites of 5 000 pages each (two sections, as the one-site world) in one
database, and measures the first site's lists. Every site draws its pages
from the same 100 topics (clusters), so a reader's nearest pages are spread
over all 20 sites and the site filter keeps one in twenty of them: the case
where a search of the whole index has to read far past its neighbours.
"""

from __future__ import annotations

import time
from datetime import timedelta

import numpy as np

DIM = 384
CLUSTERS = 100
READS_PER_READER = 20


def slug_for(size: int, sites: int, site: int) -> str:
    return f"shared-{sites}x{size}-{site}"


def world_is_complete(size: int, sites: int, readers: int) -> bool:
    from wagtail.models import Page

    from wagtail_neural_feed.models import PageEmbedding, ReaderProfile

    homes = Page.objects.filter(slug__startswith=f"shared-{sites}x{size}-")
    if homes.count() != sites:
        return False
    profiles = ReaderProfile.objects.filter(
        reader__user__username__startswith=f"{slug_for(size, sites, 0)}-"
    ).count()
    return PageEmbedding.objects.count() >= size and profiles >= readers


def build_shared_world(size: int, *, sites: int, readers: int, rebuild: bool) -> dict:
    """``sites`` sites of ``size // sites`` pages sharing one index; readers on site 0."""
    from django.db import connection
    from django.utils import timezone
    from wagtail.models import Page, Site

    from benchmarks.ranking import add_popularity, add_readers, load_embeddings
    from tests.bulk import bulk_pages, clustered_vectors
    from tests.factories import HomePageFactory, SectionPageFactory
    from wagtail_neural_feed.hot import refresh_hot_tier
    from wagtail_neural_feed.models import Reader

    per_site = size // sites
    first = slug_for(size, sites, 0)
    if rebuild or not world_is_complete(size, sites, readers):
        if Page.objects.filter(slug__startswith=f"shared-{sites}x{size}-").exists():
            raise SystemExit(f"drop the database {connection.settings_dict['NAME']} to rebuild")
        # One set of topics for all sites: the site filter is what selects.
        vectors, labels, centres = clustered_vectors(size, clusters=CLUSTERS, seed=size)
        rng = np.random.default_rng(size + 1)
        print(f"building {sites} sites of {per_site} pages ...", flush=True)
        started = time.perf_counter()
        now = timezone.now()
        page_ids: list[int] = []
        for site in range(sites):
            slug = slug_for(size, sites, site)
            home = HomePageFactory(parent=Page.get_first_root_node(), title=slug, slug=slug)
            Site.objects.create(hostname=f"{slug}.example", root_page=home)
            section_a = SectionPageFactory(parent=home, title="A", slug="a")
            section_b = SectionPageFactory(parent=home, title="B", slug="b")
            half = per_site // 2
            page_ids += bulk_pages(
                section_a, half, published_at=lambda i: now - timedelta(hours=2 * i)
            )
            page_ids += bulk_pages(
                section_b, per_site - half, published_at=lambda i: now - timedelta(hours=2 * i + 1)
            )
        load_embeddings(page_ids, vectors[: len(page_ids)])
        add_popularity(page_ids, rng=rng, now=now)
        add_readers(
            first,
            readers,
            centres=centres,
            labels=labels[:per_site],
            page_ids=page_ids,
            rng=rng,
            now=now,
        )
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        print(f"built in {time.perf_counter() - started:.0f} s", flush=True)
    refresh_hot_tier()
    home = Page.objects.get(slug=first)
    return {
        "home": home,
        "section_a": home.get_children().get(slug="a"),
        "site": Site.objects.get(root_page=home),
        "readers": list(
            Reader.objects.filter(user__username__startswith=f"{first}-")
            .select_related("user")
            .order_by("pk")[:readers]
        ),
    }
