"""Ranking latency, round trips and quality at 10k and 100k pages, vs django-neural-feed.

    python -m benchmarks.ranking                      # 10k and 100k pages
    python -m benchmarks.ranking --sizes 10000 --queries 100

For each size it builds (once; reused by later runs, ``--rebuild`` to redo)
synthetic clustered 384-d unit vectors as Wagtail pages in two sections,
readers with profiles and read pages, and popularity counters. Then it
measures ``recommend(reader, feed=..., limit=10)`` with filters on (site,
locale, page type, section, already-read), counts SQL round trips, compares
each list with an exhaustive exact ranking of the same formula (numpy over
every eligible page), times a bare HNSW top-10 as the floor, and runs
django-neural-feed 1.1.0's ``get_feed`` on the same vectors, readers and filters.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from datetime import timedelta

import numpy as np

from benchmarks.common import print_table, setup_django

DIM = 384
CLUSTERS = 100
READERS = 50
READS_PER_READER = 20
LIMIT = 10
FRESH_HALF_LIFE_DAYS = 14.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def build_world(size: int, *, rebuild: bool) -> dict:
    """Pages, embeddings, readers and popularity for ``size`` pages (reused if present)."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.utils import timezone
    from wagtail.models import Page, Site

    from tests.bulk import bulk_pages, clustered_vectors, remove_tree
    from tests.factories import HomePageFactory, SectionPageFactory
    from wagtail_neural_feed.models import Interaction, PagePopularity, Reader, ReaderProfile

    slug = f"bench-{size}"
    existing = Page.objects.filter(slug=slug).first()
    if existing is not None and rebuild:
        Reader.objects.filter(user__username__startswith=f"{slug}-").delete()
        User.objects.filter(username__startswith=f"{slug}-").delete()
        remove_tree(existing)
        existing = None
    vectors, labels, centres = clustered_vectors(size, clusters=CLUSTERS, seed=size)
    rng = np.random.default_rng(size + 1)
    if existing is None:
        print(f"building {size} pages ...", flush=True)
        started = time.perf_counter()
        home = HomePageFactory(parent=Page.get_first_root_node(), title=slug, slug=slug)
        Site.objects.create(hostname=f"{slug}.example", root_page=home)
        section_a = SectionPageFactory(parent=home, title="A", slug="a")
        section_b = SectionPageFactory(parent=home, title="B", slug="b")
        now = timezone.now()
        half = size // 2
        ids_a = bulk_pages(section_a, half, published_at=lambda i: now - timedelta(hours=2 * i))
        ids_b = bulk_pages(
            section_b, size - half, published_at=lambda i: now - timedelta(hours=2 * i + 1)
        )
        page_ids = ids_a + ids_b
        load_embeddings(page_ids, vectors)
        popular = rng.choice(len(page_ids), size=max(1, size // 50), replace=False)
        PagePopularity.objects.bulk_create(
            PagePopularity(page_id=page_ids[i], score=float(rng.gamma(1.0, 20.0)), computed_at=now)
            for i in popular
        )
        for r in range(READERS):
            user = User.objects.create(username=f"{slug}-{r}")
            reader = Reader.objects.create(user=user)
            profile = centres[r % CLUSTERS] + rng.normal(size=DIM) * (0.3 / math.sqrt(DIM))
            profile /= np.linalg.norm(profile)
            ReaderProfile.objects.create(
                reader=reader,
                feed="default",
                vector=profile,
                sum_vector=profile,
                interaction_count=READS_PER_READER,
            )
            # Read pages near the profile, so exclusion matters.
            near = np.flatnonzero(labels == r % CLUSTERS)[:READS_PER_READER]
            Interaction.objects.bulk_create(
                Interaction(
                    reader=reader, page_id=page_ids[i], kind="view", weight=1.0, created_at=now
                )
                for i in near
            )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(f"built in {time.perf_counter() - started:.0f} s", flush=True)
    home = Page.objects.get(slug=slug)
    section_a = home.get_children().get(slug="a")
    page_ids = list(
        Page.objects.filter(path__startswith=home.path, depth=home.depth + 2)
        .order_by("path")
        .values_list("pk", flat=True)
    )
    from benchmarks.dnf_app.models import Item

    if not Item.objects.filter(title__startswith=f"bench-{size}-").exists():
        print("loading the same items for django-neural-feed ...", flush=True)
        build_dnf(size, vectors, page_ids, section_a_count=section_a.numchild)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE dnf_app_item")
    readers = list(
        Reader.objects.filter(user__username__startswith=f"{slug}-")
        .select_related("user")
        .order_by("pk")
    )
    return {
        "home": home,
        "section_a": section_a,
        "site": Site.objects.get(root_page=home),
        "readers": readers,
        "page_ids": page_ids,
    }


def load_embeddings(page_ids: list[int], vectors: np.ndarray) -> None:
    """Bulk-load embeddings with the HNSW index dropped, then build it once."""
    from django.db import connection

    from tests.bulk import bulk_embeddings

    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS neural_feed_embedding_hnsw")
    bulk_embeddings(page_ids, vectors)
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '2GB'")
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS neural_feed_embedding_hnsw "
            "ON wagtail_neural_feed_pageembedding USING hnsw (embedding vector_cosine_ops) "
            "WITH (m = 16, ef_construction = 64)"
        )


def build_dnf(size: int, vectors: np.ndarray, page_ids: list[int], *, section_a_count: int):
    """The same items for django-neural-feed: same vectors, dates, popularity, section."""
    from django.db import connection

    from benchmarks.dnf_app.models import Item
    from wagtail_neural_feed.models import PageEmbedding, PagePopularity

    Item.objects.filter(title__startswith=f"bench-{size}-").delete()
    dates = dict(
        PageEmbedding.objects.filter(page_id__in=page_ids).values_list(
            "page_id", "first_published_at"
        )
    )
    popularity = dict(
        PagePopularity.objects.filter(page_id__in=page_ids).values_list("page_id", "score")
    )
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS dnf_app_item_hnsw_idx")
    batch = []
    for i, (page_id, vector) in enumerate(zip(page_ids, vectors, strict=True)):
        batch.append(
            Item(
                id=page_id,
                title=f"bench-{size}-{i}",
                section=1 if i < section_a_count else 2,
                published_at=dates[page_id],
                engagement=popularity.get(page_id, 0.0),
                embedding=vector,
            )
        )
        if len(batch) == 5000:
            Item.objects.bulk_create(batch)
            batch = []
    Item.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '2GB'")
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS dnf_app_item_hnsw_idx ON dnf_app_item "
            "USING hnsw (embedding vector_ip_ops) WITH (m = 16, ef_construction = 64)"
        )


def exact_top(world: dict, feed, reader, prepared_now) -> list[int]:
    """Exhaustive ranking with the same formula, in numpy, over every eligible page."""
    vectors, ids, ages, pops, pop_norm = world["exact"]
    from wagtail_neural_feed.models import Interaction, ReaderProfile

    profile = np.asarray(ReaderProfile.objects.get(reader=reader, feed="default").vector)
    profile = profile / np.linalg.norm(profile)
    sim = vectors @ profile
    fresh = np.exp(-math.log(2) * ages / (feed.freshness_half_life_days * 86400))
    pop = np.minimum(1.0, np.log1p(np.maximum(pops, 0)) / pop_norm) if pop_norm else 0
    score = (
        feed.similarity_weight * sim + feed.freshness_weight * fresh + feed.popularity_weight * pop
    )
    read = set(Interaction.objects.filter(reader=reader).values_list("page_id", flat=True))
    order = np.argsort(-score)
    top = []
    for i in order:
        if int(ids[i]) not in read:
            top.append(int(ids[i]))
            if len(top) == LIMIT:
                break
    return top


def load_exact(world: dict, now) -> None:
    from wagtail_neural_feed.models import PageEmbedding, PagePopularity

    rows = list(
        PageEmbedding.objects.filter(path__startswith=world["section_a"].path).values_list(
            "page_id", "embedding", "first_published_at"
        )
    )
    ids = np.array([r[0] for r in rows])
    vectors = np.stack([np.asarray(r[1], dtype=np.float32) for r in rows])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ages = np.array([max(0.0, (now - r[2]).total_seconds()) for r in rows])
    popularity = dict(PagePopularity.objects.values_list("page_id", "score"))
    pops = np.array([popularity.get(int(pk), 0.0) for pk in ids])
    all_max = max(popularity.values(), default=0.0)
    pop_norm = math.log1p(all_max) if all_max > 0 else 0.0
    world["exact"] = (vectors, ids, ages, pops, pop_norm)


def reader_request(world: dict, reader):
    """A request as Wagtail serves it: site resolved, user signed in."""
    from django.test import RequestFactory

    request = RequestFactory().get("/", HTTP_HOST=world["site"].hostname)
    request.user = reader.user
    request.session = {}
    request._wagtail_site = world["site"]
    return request


def measure_ours(world: dict, queries: int, candidates: int | None = None) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from wagtail_neural_feed import FeedConfig, recommend

    feed = FeedConfig(
        slug="bench",
        page_types=("testapp.NewsPage",),
        root_page_id=world["section_a"].pk,
        similarity_weight=1.0,
        freshness_weight=0.2,
        popularity_weight=0.1,
        freshness_half_life_days=FRESH_HALF_LIFE_DAYS,
        candidates=candidates,
    )
    readers = world["readers"]
    requests = {reader.pk: reader_request(world, reader) for reader in readers}
    now = timezone.now()
    load_exact(world, now)
    for reader in readers[:10]:  # warm up caches and the connection
        recommend(requests[reader.pk], feed=feed, limit=LIMIT, now=now)
    latencies, overlaps, trips, short = [], [], [], 0
    for q in range(queries):
        reader = readers[q % len(readers)]
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            pages = recommend(requests[reader.pk], feed=feed, limit=LIMIT, now=now)
            latencies.append((time.perf_counter() - started) * 1000)
        trips.append(len(captured))
        short += len(pages) < LIMIT
        if q < len(readers):
            exact = exact_top(world, feed, reader, now)
            overlaps.append(len({p.pk for p in pages} & set(exact)) / LIMIT)
    return {
        "p50": statistics.median(latencies),
        "p95": percentile(latencies, 95),
        "trips": max(trips),
        "overlap": statistics.mean(overlaps),
        "short": short,
    }


def measure_hnsw_floor(world: dict, queries: int) -> float:
    from django.db import connection

    from wagtail_neural_feed.models import ReaderProfile
    from wagtail_neural_feed.ranking import vector_literal

    vectors = [
        vector_literal(np.asarray(p.vector))
        for p in ReaderProfile.objects.filter(reader__in=world["readers"])
    ]
    latencies = []
    with connection.cursor() as cursor:
        cursor.execute("SET hnsw.ef_search = 40")
        cursor.execute("SET hnsw.iterative_scan = off")
        for q in range(queries + 10):
            started = time.perf_counter()
            cursor.execute(
                "SELECT page_id FROM wagtail_neural_feed_pageembedding "
                "ORDER BY embedding <=> %s::vector LIMIT 10",
                [vectors[q % len(vectors)]],
            )
            cursor.fetchall()
            if q >= 10:
                latencies.append((time.perf_counter() - started) * 1000)
    return statistics.median(latencies)


def measure_dnf(world: dict, queries: int, size: int) -> dict:
    """django-neural-feed 1.1.0's get_feed with HNSW on, same weights and filters."""
    from django.db import connection
    from django.db.models import FloatField
    from django.db.models.expressions import RawSQL
    from django.test.utils import CaptureQueriesContext
    from django_neural_feed.feeds import BaseNeuralFeed
    from django_neural_feed.models import UserFeedProfile

    from benchmarks.dnf_app.models import Item
    from wagtail_neural_feed.models import Interaction, ReaderProfile

    pop_max = Item.objects.order_by("-engagement").values_list("engagement", flat=True).first()
    pop_norm = math.log1p(pop_max or 1.0)

    class BenchFeed(BaseNeuralFeed):
        feed_id = "bench"
        content_django_model = Item
        mode = "model"
        weight_similarity = 1.0
        weight_freshness = 0.2
        weight_popularity = 0.1
        freshness_expression = RawSQL(
            "exp(-ln(2) * extract(epoch from (now() - published_at)) / %s)",
            (FRESH_HALF_LIFE_DAYS * 86400,),
            output_field=FloatField(),
        )
        popularity_expression = RawSQL(
            "least(1.0, ln(1 + engagement) / %s)", (pop_norm,), output_field=FloatField()
        )
        hnsw_config = {"enabled": True, "ef_search": 100, "search_pool": 500}

    for reader in world["readers"]:
        vector = ReaderProfile.objects.get(reader=reader, feed="default").vector
        UserFeedProfile.objects.update_or_create(
            user=reader.user, feed_id="bench", defaults={"embedding": vector}
        )
    reads = {
        reader.pk: list(Interaction.objects.filter(reader=reader).values_list("page_id", flat=True))
        for reader in world["readers"]
    }
    items = Item.objects.filter(title__startswith=f"bench-{size}-", section=1)
    for reader in world["readers"][:5]:
        list(
            BenchFeed.get_feed(
                reader.user, queryset=items, excluded_ids=reads[reader.pk], limit=LIMIT
            )
        )
    latencies, trips = [], []
    for q in range(queries):
        reader = world["readers"][q % len(world["readers"])]
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            result = list(
                BenchFeed.get_feed(
                    reader.user, queryset=items, excluded_ids=reads[reader.pk], limit=LIMIT
                )
            )
            latencies.append((time.perf_counter() - started) * 1000)
        assert len(result) == LIMIT
        trips.append(len(captured))
    return {
        "p50": statistics.median(latencies),
        "p95": percentile(latencies, 95),
        "trips": max(trips),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--candidates", type=int, default=None, help="FeedConfig.candidates")
    parser.add_argument("--ef-search", type=int, default=None, help="HNSW_EF_SEARCH")
    parser.add_argument("--window", type=int, default=None, help="CANDIDATE_WINDOW")
    parser.add_argument("--skip-comparison", action="store_true", help="skip django-neural-feed")
    args = parser.parse_args()
    if len(args.sizes) > 1:
        # One database per size: a 10k-page world must not share its HNSW
        # index with a 100k one (its filters would become 10x more selective).
        import os
        import subprocess
        import sys

        passthrough = ["--queries", str(args.queries)]
        for flag, value in (
            ("--candidates", args.candidates),
            ("--ef-search", args.ef_search),
            ("--window", args.window),
        ):
            if value is not None:
                passthrough += [flag, str(value)]
        passthrough += ["--rebuild"] * args.rebuild + ["--skip-comparison"] * args.skip_comparison
        for size in args.sizes:
            env = {**os.environ, "NEURAL_FEED_BENCH_DB": f"nf_bench_{size}"}
            subprocess.run(
                [sys.executable, "-m", "benchmarks.ranking", "--sizes", str(size), *passthrough],
                env=env,
                check=True,
            )
        return
    setup_django()
    overrides = {}
    if args.ef_search:
        overrides["HNSW_EF_SEARCH"] = args.ef_search
    if args.window is not None:
        overrides["CANDIDATE_WINDOW"] = args.window
    if overrides:
        from django.conf import settings

        from wagtail_neural_feed.conf import neural_feed_settings

        settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, **overrides}
        neural_feed_settings.reload()

    rows = []
    for size in args.sizes:
        world = build_world(size, rebuild=args.rebuild)
        ours = measure_ours(world, args.queries, args.candidates)
        floor = measure_hnsw_floor(world, args.queries)
        theirs = (
            {"p50": float("nan"), "p95": float("nan"), "trips": "-"}
            if args.skip_comparison
            else measure_dnf(world, args.queries, size)
        )
        rows.append(
            [
                f"{size:,}",
                f"{ours['p50']:.2f}",
                f"{ours['p95']:.2f}",
                ours["trips"],
                f"{ours['overlap']:.3f}",
                ours["short"],
                f"{floor:.2f}",
                f"{theirs['p50']:.2f}",
                f"{theirs['p95']:.2f}",
                theirs["trips"],
                f"{theirs['p50'] / ours['p50']:.1f}x",
            ]
        )
        print_table(
            "recommend(limit=10), filters on (site, locale, page type, section = 50 %, read)",
            [
                "pages",
                "p50 ms",
                "p95 ms",
                "queries (2 ranking + page fetch)",
                "overlap@10 vs exact",
                "short lists",
                "HNSW top-10 floor p50 ms",
                "django-neural-feed p50 ms",
                "its p95 ms",
                "its queries",
                "its p50 / ours",
            ],
            rows,
        )


if __name__ == "__main__":
    main()
