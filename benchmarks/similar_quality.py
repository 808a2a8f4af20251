"""More like this quality: same-category precision@10 of ``similar_pages`` per variant.

    python -m benchmarks.similar_quality [--per-section 100] [--apt-lists DIR] [--rebuild]

Builds (once; ``--rebuild`` to redo) two labelled corpora as Wagtail pages,
each under a site of its own, in a database of its own (``nf_similar``),
embedded by the package's own indexing with the real all-MiniLM-L6-v2
(offline): Debian package descriptions labelled by archive section, and the
example site's articles labelled by section (see ``benchmarks/corpora.py``).
Then every page of each corpus asks ``similar_pages(page, limit=10)`` once
per variant, the variants interleaved page by page, and the table gives the
share of the 10 pages in the page's own category, the p50 latency of the call
and the statements it ran (round trip 1, the ranking statement, the page fetch).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from benchmarks.common import print_table, setup_django

LIMIT = 10


def _variants():
    from wagtail_neural_feed.api import SIMILAR_FEED

    plain = replace(SIMILAR_FEED, slug="plain", expansion_neighbours=0, lexical_weight=0.0)
    return {
        "plain (one vector per page)": plain,
        "(b) shared words, weight 0.3": replace(plain, slug="lex", lexical_weight=0.3),
        "(c) expansion, 3 neighbours x2": replace(
            plain, slug="exp3", expansion_neighbours=3, expansion_weight=2.0
        ),
        "(c) expansion, 5 neighbours x1": replace(
            plain, slug="exp5", expansion_neighbours=5, expansion_weight=1.0
        ),
        "(b) + (c): shipped default": SIMILAR_FEED,
    }


# --- the world ------------------------------------------------------------------


def _build_corpus(name: str, documents, root, *, default_site: bool) -> None:
    from wagtail.models import Site

    from tests.bulk import bulk_pages
    from tests.factories import HomePageFactory, SectionPageFactory
    from tests.testapp.models import NewsPage

    home = HomePageFactory(parent=root, title=f"Similar {name}", slug=f"similar-{name}")
    Site.objects.create(
        hostname=f"{name}.similar.test", root_page=home, is_default_site=default_site
    )
    section = SectionPageFactory(parent=home, title="Pages", slug="pages")
    now = _now()
    rng = random.Random(len(documents))
    # Published over three years: freshness (weight 0.05) only breaks near-ties.
    offsets = [timedelta(hours=rng.randrange(3 * 365 * 24)) for _ in documents]
    ids = bulk_pages(section, len(documents), published_at=lambda i: now - offsets[i])
    pages = NewsPage.objects.in_bulk(ids)
    for index, (page_id, document) in enumerate(zip(ids, documents, strict=True)):
        page = pages[page_id]
        page.title = page.draft_title = document.title[:255]
        page.slug = f"{index}-{document.category}"
        page.search_description = document.summary
        page.summary = document.body
    NewsPage.objects.bulk_update(
        pages.values(), ["title", "draft_title", "slug", "search_description", "summary"]
    )


def _now():
    from django.utils import timezone

    return timezone.now()


def build(corpora: dict, rebuild: bool) -> None:
    from django.db import connection
    from wagtail.models import Page, Site

    from tests.bulk import remove_tree
    from wagtail_neural_feed import indexing
    from wagtail_neural_feed.hot import refresh_hot_tier
    from wagtail_neural_feed.models import PageEmbedding

    wanted = {f"similar-{name}": len(docs) for name, docs in corpora.items()}
    homes = {page.slug: page for page in Page.objects.filter(depth=2)}
    complete = set(homes) == set(wanted) and all(
        PageEmbedding.objects.ready().filter(path__startswith=homes[slug].path).count() == count
        for slug, count in wanted.items()
    )
    if complete and not rebuild:
        return
    for page in homes.values():
        Site.objects.filter(root_page=page).delete()
        remove_tree(page)
    root = Page.get_first_root_node()
    Page.objects.filter(pk=root.pk).update(numchild=Page.objects.filter(depth=2).count())
    root.refresh_from_db()
    for index, (name, documents) in enumerate(corpora.items()):
        _build_corpus(name, documents, root, default_site=index == 0)
        root.refresh_from_db()
    started = time.perf_counter()
    indexing.ensure_rows()
    pending = indexing.pending_page_ids()
    done = indexing.embed_many(pending, batch_size=64)
    print(f"embedded {done} pages in {time.perf_counter() - started:.0f} s")
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {PageEmbedding._meta.db_table}")
    refresh_hot_tier()


# --- the measurement ------------------------------------------------------------


def measure(name: str, variants: dict, queries: int | None, seed: int) -> list[list]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from wagtail.models import Page

    from tests.testapp.models import NewsPage
    from wagtail_neural_feed import similar_pages

    home = Page.objects.get(depth=2, slug=f"similar-{name}")
    pages = list(NewsPage.objects.filter(path__startswith=home.path).order_by("pk"))
    category = {page.pk: page.slug.split("-", 1)[1] for page in pages}
    rng = random.Random(seed)
    rng.shuffle(pages)
    pages = pages[:queries] if queries else pages
    hits = {label: [] for label in variants}
    times = {label: [] for label in variants}
    statements = {label: set() for label in variants}
    labels = list(variants)
    # Warm up: prepare each variant's statements on this connection.
    for label in labels:
        similar_pages(pages[0], limit=LIMIT, feed=variants[label])
    for number, page in enumerate(pages):
        order = labels[number % len(labels) :] + labels[: number % len(labels)]
        for label in order:
            if number < 20:
                with CaptureQueriesContext(connection) as captured:
                    result = similar_pages(page, limit=LIMIT, feed=variants[label])
                statements[label].add(len(captured))
            else:
                started = time.perf_counter()
                result = similar_pages(page, limit=LIMIT, feed=variants[label])
                times[label].append(time.perf_counter() - started)
            same = sum(category.get(other.pk) == category[page.pk] for other in result)
            hits[label].append(same / LIMIT)
    plain = statistics.fmean(hits[labels[0]])
    rows = []
    for label in labels:
        precision = statistics.fmean(hits[label])
        rows.append(
            [
                label,
                f"{precision:.4f}",
                f"{100 * (precision - plain):+.2f}",
                f"{1000 * statistics.median(times[label]):.2f}" if times[label] else "-",
                "/".join(str(n) for n in sorted(statements[label])),
            ]
        )
    return rows


def title_weighted(name: str, weight: float):
    """Variant (a): rewrite the corpus's stored vectors as
    ``normalise((1 - weight) * text + weight * title)``; returns a function
    that restores them. The statement is the plain one; only vectors change."""
    import numpy as np
    from django.db import connection
    from wagtail.models import Page

    from tests.helpers import vector_literal
    from wagtail_neural_feed.encoders import get_encoder
    from wagtail_neural_feed.hot import refresh_hot_tier
    from wagtail_neural_feed.models import PageEmbedding

    home = Page.objects.get(depth=2, slug=f"similar-{name}")
    rows = list(
        PageEmbedding.objects.filter(path__startswith=home.path)
        .order_by("pk")
        .values_list("pk", "embedding", "page__title")
    )
    text = np.stack([np.asarray(row[1], dtype=np.float32) for row in rows])
    titles = get_encoder().embed_documents([row[2] for row in rows])
    blended = (1 - weight) * text + weight * titles
    blended /= np.linalg.norm(blended, axis=1, keepdims=True)

    def write(vectors) -> None:
        table = PageEmbedding._meta.db_table
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET embedding = %s::vector WHERE page_id = %s",
                [(vector_literal(v), row[0]) for v, row in zip(vectors, rows, strict=True)],
            )
            cursor.execute(f"VACUUM ANALYZE {table}")
        refresh_hot_tier()  # the tier keeps copies of fresh pages' vectors

    write(blended)
    return lambda: write(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-section", type=int, default=100)
    parser.add_argument("--apt-lists", type=Path, default=None)
    parser.add_argument("--queries", type=int, default=None, help="pages asked per corpus")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("NEURAL_FEED_BENCH_DB", "nf_similar")
    setup_django()
    from benchmarks import corpora

    documents = {
        "example": corpora.example_documents(),
        "debian": corpora.debian_documents(args.apt_lists, per_section=args.per_section),
    }
    build(documents, args.rebuild)
    variants = _variants()
    for name, docs in documents.items():
        categories = len({doc.category for doc in docs})
        rows = measure(name, variants, args.queries, args.seed)
        plain = {"plain (one vector per page)": variants["plain (one vector per page)"]}
        for weight in (0.3, 0.5):
            restore = title_weighted(name, weight)
            try:
                (row,) = measure(name, plain, args.queries, args.seed)
            finally:
                restore()
            row[0] = f"(a) title vector weight {weight} (separate pass)"
            row[2] = f"{100 * (float(row[1]) - float(rows[0][1])):+.2f}"
            rows.append(row)
        print_table(
            f"{name}: {len(docs)} pages in {categories} categories, same-category precision@10",
            ["variant", "precision@10", "vs plain (points)", "p50 ms", "statements"],
            rows,
        )


if __name__ == "__main__":
    main()
