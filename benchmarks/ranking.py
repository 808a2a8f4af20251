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

Each size lives in a database of its own (``<NEURAL_FEED_BENCH_DB>_<size>``,
default ``nf_bench_10000`` / ``nf_bench_100000``) and is measured in a child
process: a 10k-page world sharing an HNSW index with a 100k one would make
its section filter ten times more selective and its index ten times larger.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

from benchmarks.common import print_table, setup_django

DIM = 384
CLUSTERS = 100
READS_PER_READER = 20
LIMIT = 10
FRESH_HALF_LIFE_DAYS = 14.0
BASE_DB = os.environ.get("NEURAL_FEED_BENCH_DB", "nf_bench")
LN2 = math.log(2)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# --- the world ------------------------------------------------------------------


def world_is_complete(size: int, readers: int) -> bool:
    """A finished build: every page embedded, readers with profiles, items for the rival."""
    from wagtail.models import Page

    from benchmarks.dnf_app.models import Item
    from wagtail_neural_feed.models import PageEmbedding, ReaderProfile

    home = Page.objects.filter(slug=f"bench-{size}").first()
    if home is None:
        return False
    embedded = PageEmbedding.objects.filter(path__startswith=home.path).count()
    profiles = ReaderProfile.objects.filter(
        reader__user__username__startswith=f"bench-{size}-"
    ).count()
    return embedded == size and profiles >= readers and Item.objects.count() == size


def build_world(size: int, *, readers: int, rebuild: bool) -> dict:
    """Pages, embeddings, readers and popularity for ``size`` pages (reused if complete)."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.utils import timezone
    from wagtail.models import Page, Site

    from benchmarks.dnf_app.models import Item
    from tests.bulk import bulk_pages, clustered_vectors, remove_tree
    from tests.factories import HomePageFactory, SectionPageFactory
    from wagtail_neural_feed.hot import refresh_hot_tier
    from wagtail_neural_feed.models import Reader

    slug = f"bench-{size}"
    if rebuild or not world_is_complete(size, readers):
        existing = Page.objects.filter(slug=slug).first()
        if existing is not None:
            print(f"removing the old (or incomplete) {size}-page world ...", flush=True)
            Reader.objects.filter(user__username__startswith=f"{slug}-").delete()
            User.objects.filter(username__startswith=f"{slug}-").delete()
            Site.objects.filter(root_page=existing).delete()
            remove_tree(existing)
            Item.objects.all().delete()
        vectors, labels, centres = clustered_vectors(size, clusters=CLUSTERS, seed=size)
        rng = np.random.default_rng(size + 1)
        print(f"building {size} pages ...", flush=True)
        started = time.perf_counter()
        home = HomePageFactory(parent=Page.get_first_root_node(), title=slug, slug=slug)
        Site.objects.create(hostname=f"{slug}.example", root_page=home)
        section_a = SectionPageFactory(parent=home, title="A", slug="a")
        section_b = SectionPageFactory(parent=home, title="B", slug="b")
        now = timezone.now()
        half = size // 2
        # Section A gets even hours, B odd ones: both span the same dates.
        ids_a = bulk_pages(section_a, half, published_at=lambda i: now - timedelta(hours=2 * i))
        ids_b = bulk_pages(
            section_b, size - half, published_at=lambda i: now - timedelta(hours=2 * i + 1)
        )
        page_ids = ids_a + ids_b
        load_embeddings(page_ids, vectors)
        add_popularity(page_ids, rng=rng, now=now)
        add_readers(
            slug, readers, centres=centres, labels=labels, page_ids=page_ids, rng=rng, now=now
        )
        print("loading the same items for django-neural-feed ...", flush=True)
        build_dnf(vectors, page_ids, section_a_count=half)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        print(f"built in {time.perf_counter() - started:.0f} s", flush=True)
    # What the periodic popularity refresh does on a site: the hot tier.
    refresh_hot_tier()
    home = Page.objects.get(slug=slug)
    section_a = home.get_children().get(slug="a")
    bench_readers = list(
        Reader.objects.filter(user__username__startswith=f"{slug}-")
        .select_related("user")
        .order_by("pk")[:readers]
    )
    return {
        "home": home,
        "section_a": section_a,
        "site": Site.objects.get(root_page=home),
        "readers": bench_readers,
    }


def add_popularity(page_ids, *, rng, now, batch_size: int | None = None) -> None:
    """Stored popularity counters for 2 % of the pages (gamma-distributed)."""
    from wagtail_neural_feed.models import PagePopularity

    popular = rng.choice(len(page_ids), size=max(1, len(page_ids) // 50), replace=False)
    PagePopularity.objects.bulk_create(
        (
            PagePopularity(
                page_id=int(page_ids[i]), score=float(rng.gamma(1.0, 20.0)), computed_at=now
            )
            for i in popular
        ),
        batch_size=batch_size,
    )


def add_readers(slug: str, count: int, *, centres, labels, page_ids, rng, now) -> None:
    """Readers with one clear interest each: a noisy cluster centre as their
    profile, and the first pages of that cluster already read (so "exclude
    already read" has work). Usernames are ``{slug}-{n}``."""
    from django.contrib.auth.models import User

    from wagtail_neural_feed.models import Interaction, Reader, ReaderProfile

    dim = centres.shape[1]
    for r in range(count):
        reader = Reader.objects.create(user=User.objects.create(username=f"{slug}-{r}"))
        profile = centres[r % CLUSTERS] + rng.normal(size=dim) * (0.3 / math.sqrt(dim))
        profile /= np.linalg.norm(profile)
        ReaderProfile.objects.create(
            reader=reader,
            feed="default",
            vector=profile,
            sum_vector=profile,
            interaction_count=READS_PER_READER,
        )
        near = np.flatnonzero(labels == r % CLUSTERS)[:READS_PER_READER]
        Interaction.objects.bulk_create(
            Interaction(
                reader=reader, page_id=int(page_ids[i]), kind="view", weight=1.0, created_at=now
            )
            for i in near
        )


def load_embeddings(page_ids: list[int], vectors: np.ndarray) -> None:
    """Bulk-load embeddings with the HNSW index dropped, then build it once.

    Inserting 100k rows into a live HNSW index costs far more than one build;
    the DDL is the model's (``neural_feed_embedding_hnsw``, migration 0002).
    """
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
        cursor.execute("RESET maintenance_work_mem")


def build_dnf(vectors: np.ndarray, page_ids: list[int], *, section_a_count: int) -> None:
    """The same items for django-neural-feed: same ids, vectors, dates, popularity, section."""
    from django.db import connection

    from benchmarks.dnf_app.models import Item
    from wagtail_neural_feed.models import PageEmbedding, PagePopularity

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
                title=f"item-{i}",
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
        # Its own index, as its NeuralHnswMixin declares it (inner product).
        cursor.execute("SET maintenance_work_mem = '2GB'")
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS dnf_app_item_hnsw_idx ON dnf_app_item "
            "USING hnsw (embedding vector_ip_ops) WITH (m = 16, ef_construction = 64)"
        )
        cursor.execute("RESET maintenance_work_mem")


# --- the exact ranking ------------------------------------------------------------


def load_exact(world: dict, now) -> None:
    """Every eligible page's vector, age and popularity, for the exhaustive ranking.

    Eligible = the benchmark feed's filters: section A (inside the site, one
    locale, all NewsPage, all live and public); reads are removed per reader.
    """
    from wagtail_neural_feed.conf import neural_feed_settings
    from wagtail_neural_feed.models import PageEmbedding, PagePopularity

    rows = list(
        PageEmbedding.objects.filter(
            path__startswith=world["section_a"].path, status="ready", live=True
        ).values_list("page_id", "embedding", "first_published_at")
    )
    ids = np.array([r[0] for r in rows])
    vectors = np.stack([np.asarray(r[1], dtype=np.float32) for r in rows])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ages = np.array([max(0.0, (now - r[2]).total_seconds()) for r in rows])
    # The ranking decays stored counters since their refresh, then normalises
    # by log1p of the largest stored counter: the same here.
    pop_seconds = float(neural_feed_settings.POPULARITY_HALF_LIFE_DAYS) * 86400
    stored = {
        pk: score * math.exp(max(-700.0, -LN2 * max(0.0, (now - at).total_seconds()) / pop_seconds))
        for pk, score, at in PagePopularity.objects.values_list("page_id", "score", "computed_at")
    }
    pops = np.array([stored.get(int(pk), 0.0) for pk in ids])
    top = PagePopularity.objects.order_by("-score").values_list("score", flat=True).first() or 0.0
    pop_norm = math.log1p(top) if top > 0 else 0.0
    world["exact"] = {"vectors": vectors, "ids": ids, "ages": ages, "pops": pops, "norm": pop_norm}


def exact_top(world: dict, feed, reader, *, limit: int = LIMIT) -> list[int]:
    """Exhaustive ranking with the same formula, in numpy, over every eligible page."""
    from wagtail_neural_feed.models import Interaction, ReaderProfile

    exact = world["exact"]
    profile = np.asarray(ReaderProfile.objects.get(reader=reader, feed="default").vector)
    profile = profile / np.linalg.norm(profile)
    sim = exact["vectors"] @ profile
    fresh = np.exp(-LN2 * exact["ages"] / (feed.freshness_half_life_days * 86400))
    norm = exact["norm"]
    pop = np.minimum(1.0, np.log1p(np.maximum(exact["pops"], 0)) / norm) if norm else 0.0
    score = (
        feed.similarity_weight * sim + feed.freshness_weight * fresh + feed.popularity_weight * pop
    )
    read = set(Interaction.objects.filter(reader=reader).values_list("page_id", flat=True))
    top: list[int] = []
    for i in np.argsort(-score):
        if int(exact["ids"][i]) not in read:
            top.append(int(exact["ids"][i]))
            if len(top) == limit:
                break
    return top


# --- measurements -----------------------------------------------------------------


def reader_request(world: dict, reader):
    """A request as Wagtail serves it: site resolved, user signed in."""
    from django.test import RequestFactory

    request = RequestFactory().get("/", HTTP_HOST=world["site"].hostname)
    request.user = reader.user
    request.session = {}
    request._wagtail_site = world["site"]
    return request


def bench_feed(world: dict, candidates: int | None, weights: str | None = None):
    """The feed under test: page type, section and (always on) site and locale filters;
    ``weights`` ("sim=1,fresh=1,half_life=0.5,pop=1") replaces its weights."""
    from wagtail_neural_feed import FeedConfig
    from wagtail_neural_feed.evaluation.tuning import parse_weights

    feed = FeedConfig(
        slug="bench",
        page_types=("testapp.NewsPage",),
        root_page_id=world["section_a"].pk,
        similarity_weight=1.0,
        freshness_weight=0.2,
        popularity_weight=0.1,
        freshness_half_life_days=FRESH_HALF_LIFE_DAYS,
        exclude_read=True,
        candidates=candidates,
    )
    return parse_weights(weights, feed) if weights else feed


def is_ranking_statement(sql: str) -> bool:
    """Both ranking round trips are CTE statements; page fetches are ORM SELECTs."""
    return sql.lstrip().upper().startswith("WITH")


def measure_ours(
    world: dict, queries: int, candidates: int | None, weights: str | None = None
) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from wagtail_neural_feed import recommend

    feed = bench_feed(world, candidates, weights)
    readers = world["readers"]
    requests = {reader.pk: reader_request(world, reader) for reader in readers}
    now = timezone.now()
    load_exact(world, now)
    # Warm up as a long-lived connection is: every reader twice (the backend maps
    # the shared buffers it touches, statements get prepared and their plan cached).
    for reader in readers * 2:
        recommend(requests[reader.pk], feed=feed, limit=LIMIT, now=now)
    # Latency as a site sees it: no query capture (Django's debug cursor and
    # the query log cost ~0.5 ms a list). Round trips and SQL time are counted
    # in a second pass over the same readers.
    latencies = []
    for q in range(queries):
        reader = readers[q % len(readers)]
        started = time.perf_counter()
        recommend(requests[reader.pk], feed=feed, limit=LIMIT, now=now)
        latencies.append((time.perf_counter() - started) * 1000)
    ranking_trips, fetch_trips, short = [], [], 0
    ranking_sql: list[float] = []
    completeness: dict[str, int] = {}
    lists: dict[int, list[int]] = {}
    for q in range(queries):
        reader = readers[q % len(readers)]
        with CaptureQueriesContext(connection) as captured:
            pages = recommend(requests[reader.pk], feed=feed, limit=LIMIT, now=now)
        ranking = sum(is_ranking_statement(query["sql"]) for query in captured)
        ranking_sql.append(
            1000 * sum(float(q["time"]) for q in captured if is_ranking_statement(q["sql"]))
        )
        ranking_trips.append(ranking)
        fetch_trips.append(len(captured) - ranking)
        short += len(pages) < LIMIT
        how = pages[0].recommendation.completeness if pages else "empty"
        completeness[how] = completeness.get(how, 0) + 1
        lists.setdefault(reader.pk, [page.pk for page in pages])
    exact = {reader.pk: exact_top(world, feed, reader) for reader in readers}
    overlaps = [len(set(lists[pk]) & set(exact[pk])) / LIMIT for pk in lists]
    world["exact_lists"] = exact
    return {
        "p50": statistics.median(latencies),
        "p95": percentile(latencies, 95),
        "ranking_sql_p50": statistics.median(ranking_sql),
        "ranking_trips": max(ranking_trips),
        "fetch_trips": max(fetch_trips),
        "overlap": statistics.mean(overlaps),
        "min_overlap": min(overlaps),
        "short": short,
        "completeness": completeness,
    }


def measure_hnsw_floor(world: dict, queries: int) -> float:
    """A bare ``ORDER BY embedding <=> q LIMIT 10`` (no filter, pgvector's default ef_search)."""
    from django.db import connection

    from tests.helpers import vector_literal
    from wagtail_neural_feed.models import ReaderProfile

    vectors = [
        vector_literal(np.asarray(p.vector))
        for p in ReaderProfile.objects.filter(reader__in=world["readers"])
    ]
    latencies = []
    with connection.cursor() as cursor:
        cursor.execute("SET hnsw.ef_search = 40")
        cursor.execute("SET hnsw.iterative_scan = off")
        for q in range(queries + 20):
            started = time.perf_counter()
            cursor.execute(
                "SELECT page_id FROM wagtail_neural_feed_pageembedding "
                "ORDER BY embedding <=> %s::vector LIMIT 10",
                [vectors[q % len(vectors)]],
            )
            cursor.fetchall()
            if q >= 20:
                latencies.append((time.perf_counter() - started) * 1000)
        cursor.execute("RESET hnsw.ef_search")
        cursor.execute("RESET hnsw.iterative_scan")
    return statistics.median(latencies)


def measure_dnf(world: dict, queries: int) -> dict:
    """django-neural-feed 1.1.0's get_feed with its HNSW mode on, same weights and filters.

    Its popularity and freshness are ORM expressions a site supplies; these
    are our formula's: ``exp(-ln2·age/14 d)`` and ``min(1, ln(1+decayed)/ln(1+max))``.
    """
    from django.db import connection
    from django.db.models import FloatField
    from django.db.models.expressions import RawSQL
    from django.utils import timezone
    from django_neural_feed.feeds import BaseNeuralFeed
    from django_neural_feed.models import UserFeedProfile

    from benchmarks.dnf_app.models import Item
    from wagtail_neural_feed.conf import neural_feed_settings
    from wagtail_neural_feed.models import Interaction, PagePopularity, ReaderProfile

    top = PagePopularity.objects.order_by("-score").values_list("score", "computed_at").first()
    pop_norm = math.log1p(top[0]) if top else 1.0
    # Every counter was stored at build time: one decay factor for all.
    pop_seconds = float(neural_feed_settings.POPULARITY_HALF_LIFE_DAYS) * 86400
    decay = math.exp(-LN2 * (timezone.now() - top[1]).total_seconds() / pop_seconds) if top else 1

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
            "least(1.0, ln(1 + engagement * %s) / %s)", (decay, pop_norm), output_field=FloatField()
        )
        # Its documented HNSW settings; ef_search as ours (100), its default pool.
        hnsw_config = {"enabled": True, "ef_search": 100, "search_pool": 500}

    # Readers' interests the way it keeps them: one UserFeedProfile vector per feed.
    for reader in world["readers"]:
        vector = ReaderProfile.objects.get(reader=reader, feed="default").vector
        UserFeedProfile.objects.update_or_create(
            user=reader.user, feed_id="bench", defaults={"embedding": vector}
        )
    reads = {
        reader.pk: list(Interaction.objects.filter(reader=reader).values_list("page_id", flat=True))
        for reader in world["readers"]
    }
    items = Item.objects.filter(section=1)  # section A, as our feed's root page

    def feed_for(reader) -> list[Item]:
        return list(
            BenchFeed.get_feed(
                reader.user, queryset=items, excluded_ids=reads[reader.pk], limit=LIMIT
            )
        )

    for reader in world["readers"][:20]:
        feed_for(reader)
    latencies, trips, lists = [], [], {}
    from django.test.utils import CaptureQueriesContext

    # Timed without query capture, counted with it, as ours.
    for q in range(queries):
        reader = world["readers"][q % len(world["readers"])]
        started = time.perf_counter()
        feed_for(reader)
        latencies.append((time.perf_counter() - started) * 1000)
    for q in range(queries):
        reader = world["readers"][q % len(world["readers"])]
        with CaptureQueriesContext(connection) as captured:
            result = feed_for(reader)
        trips.append(len(captured))
        lists.setdefault(reader.pk, [item.pk for item in result])
    exact = world["exact_lists"]
    overlaps = [len(set(lists[pk]) & set(exact[pk])) / LIMIT for pk in lists]
    return {
        "p50": statistics.median(latencies),
        "p95": percentile(latencies, 95),
        "trips": max(trips),
        "overlap": statistics.mean(overlaps),
    }


def measure_size(size: int, args: argparse.Namespace) -> dict:
    """Build (or reuse) one size's world and measure everything on it."""
    if args.shared_sites:
        from benchmarks.shared_world import build_shared_world

        world = build_shared_world(
            size, sites=args.shared_sites, readers=args.readers, rebuild=args.rebuild
        )
        world["scope_indexes"] = scope_indexes(args.scope_indexes)
    else:
        world = build_world(size, readers=args.readers, rebuild=args.rebuild)
    ours = measure_ours(world, args.queries, args.candidates, args.weights)
    floor = measure_hnsw_floor(world, args.queries)
    # django-neural-feed's items carry a section, not a site: one-site worlds only.
    skip = args.skip_comparison or args.shared_sites
    theirs = None if skip else measure_dnf(world, args.queries)
    from django.db import connection

    from wagtail_neural_feed.conf import neural_feed_settings

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('server_version'), extversion FROM pg_extension "
            "WHERE extname = 'vector'"
        )
        postgres, pgvector = cursor.fetchone()
    return {
        "size": size,
        "ours": ours,
        "floor": floor,
        "theirs": theirs,
        "ef_search": neural_feed_settings.HNSW_EF_SEARCH,
        "window": neural_feed_settings.CANDIDATE_WINDOW,
        "versions": f"PostgreSQL {postgres}, pgvector {pgvector}",
        "scope_indexes": world.get("scope_indexes"),
    }


# --- output -------------------------------------------------------------------------


def print_results(results: list[dict], args: argparse.Namespace) -> None:
    rows = []
    for result in results:
        ours, theirs = result["ours"], result["theirs"]
        pages = f"{result['size']:,}"
        if args.shared_sites:
            pages = f"{result['size'] // args.shared_sites:,} of {result['size']:,}"
        rows.append(
            [
                pages,
                f"{ours['p50']:.2f}",
                f"{ours['p95']:.2f}",
                f"{ours['ranking_sql_p50']:.2f}",
                f"{ours['ranking_trips']} + {ours['fetch_trips']}",
                f"{ours['overlap']:.3f} (min {ours['min_overlap']:.1f})",
                ours["short"],
                ", ".join(f"{how} {n}" for how, n in sorted(ours["completeness"].items())),
                f"{result['floor']:.2f}",
                f"{theirs['p50']:.2f}" if theirs else "-",
                f"{theirs['p95']:.2f}" if theirs else "-",
                theirs["trips"] if theirs else "-",
                f"{theirs['overlap']:.3f}" if theirs else "-",
                f"{theirs['p50'] / ours['p50']:.1f}x" if theirs else "-",
            ]
        )
    first = results[0]
    shape = ""
    if args.shared_sites:
        indexes = first["scope_indexes"]
        shape = (
            f"{args.shared_sites} sites sharing one index, the measured site's pages of all; "
            f"scope indexes: {indexes['mode']} ({indexes['count']}, "
            f"{indexes['megabytes']:.0f} MB, this run {indexes['seconds']:.1f} s); "
        )
    print_table(
        f"{shape}recommend(limit=10), filters on (site, locale, page type, section = 50 %, "
        f"already read); {args.queries} queries over {args.readers} readers; "
        f"ef_search={first['ef_search']}, candidates={args.candidates or 'default'}, "
        f"window={first['window']}; "
        f"{first['versions']}",
        [
            "pages",
            "p50 ms",
            "p95 ms",
            "of which ranking SQL p50 ms",
            "round trips (ranking + page fetch)",
            "overlap@10 vs exact",
            "short lists",
            "lists complete by",
            "HNSW top-10 alone p50 ms",
            "django-neural-feed p50 ms",
            "its p95 ms",
            "its round trips",
            "its overlap@10",
            "its p50 / ours",
        ],
        rows,
    )


def scope_indexes(mode: str) -> dict:
    """``auto``: what a site runs (``neural_feed_scope_indexes --auto``); ``none``: drop them."""
    from io import StringIO

    from django.core.management import call_command

    from wagtail_neural_feed.scope_indexes import existing_scope_indexes

    started = time.perf_counter()
    command = ["--auto"] if mode == "auto" else ["--drop-all"]
    call_command("neural_feed_scope_indexes", *command, stdout=StringIO())
    indexes = existing_scope_indexes()
    return {
        "mode": mode,
        "count": len(indexes),
        "seconds": time.perf_counter() - started,
        "megabytes": sum(size for *_, size in indexes) / 2**20,
    }


def database_for(size: int, args: argparse.Namespace) -> str:
    """Each world in a database of its own (``nf_bench_5000``, ``nf_bench_shared20_100000``)."""
    if args.shared_sites:
        return f"{BASE_DB}_shared{args.shared_sites}_{size}"
    return f"{BASE_DB}_{size}"


def apply_overrides(args: argparse.Namespace) -> None:
    """``--ef-search`` / ``--window`` on top of benchmarks.settings (keeps ENCODER etc.)."""
    from django.conf import settings

    from wagtail_neural_feed.conf import neural_feed_settings

    overrides = {}
    if args.ef_search:
        overrides["HNSW_EF_SEARCH"] = args.ef_search
    if args.window is not None:
        overrides["CANDIDATE_WINDOW"] = args.window
    settings.WAGTAIL_NEURAL_FEED = {**settings.WAGTAIL_NEURAL_FEED, **overrides}
    neural_feed_settings.reload()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--readers", type=int, default=50, help="readers built and queried")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the worlds")
    parser.add_argument("--candidates", type=int, default=None, help="FeedConfig.candidates")
    parser.add_argument("--ef-search", type=int, default=None, help="HNSW_EF_SEARCH")
    parser.add_argument("--window", type=int, default=None, help="CANDIDATE_WINDOW")
    parser.add_argument("--skip-comparison", action="store_true", help="skip django-neural-feed")
    parser.add_argument(
        "--shared-sites",
        type=int,
        default=0,
        help="build that many sites sharing one index (each size / N pages); measure the first",
    )
    parser.add_argument(
        "--scope-indexes",
        choices=["auto", "none"],
        default="auto",
        help="with --shared-sites: partial indexes per site (auto) or the shared index alone",
    )
    parser.add_argument(
        "--weights",
        default=None,
        help="The feed's weights instead of 0.2 / 0.1 / 14 d, e.g. "
        "sim=1,fresh=1,half_life=0.5,pop=1 (neural_feed_evaluate --weights form).",
    )
    parser.add_argument("--child-output", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child_output:  # one size, in its own database (set by the parent)
        setup_django()
        apply_overrides(args)
        (size,) = args.sizes
        Path(args.child_output).write_text(json.dumps(measure_size(size, args)))
        return

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            output = Path(tmp) / f"{size}.json"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.ranking",
                    *sys.argv[1:],  # a later --sizes wins
                    "--sizes",
                    str(size),
                    "--child-output",
                    str(output),
                ],
                env={**os.environ, "NEURAL_FEED_BENCH_DB": database_for(size, args)},
                check=True,
            )
            results.append(json.loads(output.read_text()))
    print_results(results, args)


if __name__ == "__main__":
    main()
