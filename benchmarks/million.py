"""A million pages on one site: ranking latency and quality, and what building it costs.

    python -m benchmarks.million                  # build what is missing, then measure
    python -m benchmarks.million --phase pages    # only the page tree, readers, popularity
    python -m benchmarks.million --phase load     # only the vectors, through the bulk path
    python -m benchmarks.million --phase measure --runs 2

The world is the ranking benchmark's (``benchmarks/ranking.py``) at 1,000,000
pages: clustered 384-d unit vectors in 100 clusters, two sections, pages 2 h
apart, 2 % with a popularity counter, 50 readers with profiles and 20 read
pages each, the same feed and filters, and the same exhaustive exact ranking.

Pages are real ``wagtailcore_page`` + ``NewsPage`` rows inserted in bulk
(``tests/bulk.py``): the ranking fetches them, so they must exist; publishing
a million pages through Wagtail would take a day. The vectors are loaded the
way a large site would load precomputed ones: ``wagtail_neural_feed.bulk``
(``neural_feed_embed --from-npy``), with the HNSW index dropped and built once
afterwards. Both phases are timed and recorded in ``.bench-1m/build.json``.

It runs on an embedded server of its own (``.pgbench-1m/``,
``benchmarks/million_settings.py``: 5 GB of shared buffers). The rival
(django-neural-feed) is not loaded at this size: the ranking benchmark
compares at 10k and 100k.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np

from benchmarks.common import ROOT, print_table, setup_django

SIZE = 1_000_000
CLUSTERS = 100
READS_PER_READER = 20
SLUG = "million"
# Vectors, ids and build timings, next to (not inside) the server's data directory.
DATA = ROOT / (
    f".bench-1m-{os.environ['NEURAL_FEED_BENCH_DB']}"
    if os.environ.get("NEURAL_FEED_BENCH_DB")
    else ".bench-1m"
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def record(**values) -> dict:
    """Merge ``values`` into ``.bench-1m/build.json`` (build timings survive restarts)."""
    path = DATA / "build.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data.update(values)
    path.write_text(json.dumps(data, indent=2))
    return data


# --- phase 1: pages, readers, popularity --------------------------------------------


def build_pages(size: int, readers: int) -> None:
    """The page tree (two sections), readers with profiles and reads, popularity counters."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.utils import timezone
    from wagtail.models import Page, Site

    from tests.bulk import clustered_vectors
    from tests.factories import HomePageFactory, SectionPageFactory
    from wagtail_neural_feed.models import Interaction, PagePopularity, Reader, ReaderProfile

    if Page.objects.filter(slug=SLUG).exists():
        log("the page tree exists; remove .pgbench-1m and .bench-1m to rebuild")
        return
    DATA.mkdir(exist_ok=True)
    started = time.perf_counter()
    log(f"generating {size:,} clustered vectors ...")
    vectors, labels, centres = clustered_vectors(size, clusters=CLUSTERS, seed=size)
    rng = np.random.default_rng(size + 1)
    home = HomePageFactory(parent=Page.get_first_root_node(), title=SLUG, slug=SLUG)
    Site.objects.create(hostname=f"{SLUG}.example", root_page=home)
    section_a = SectionPageFactory(parent=home, title="A", slug="a")
    section_b = SectionPageFactory(parent=home, title="B", slug="b")
    now = timezone.now()
    half = size // 2
    log(f"inserting {size:,} page rows ...")
    pages_started = time.perf_counter()
    ids_a = sql_pages(section_a, half, now=now, hours_apart=2, offset_hours=0)
    log(f"section A: {len(ids_a):,} pages in {time.perf_counter() - pages_started:.0f} s")
    ids_b = sql_pages(section_b, size - half, now=now, hours_apart=2, offset_hours=1)
    page_ids = np.array(ids_a + ids_b, dtype=np.int64)
    pages_seconds = time.perf_counter() - pages_started
    log(f"{size:,} pages in {pages_seconds:.0f} s")
    np.save(DATA / "ids.npy", page_ids)
    np.save(DATA / "vectors.npy", vectors)
    popular = rng.choice(size, size=max(1, size // 50), replace=False)
    PagePopularity.objects.bulk_create(
        (
            PagePopularity(
                page_id=int(page_ids[i]), score=float(rng.gamma(1.0, 20.0)), computed_at=now
            )
            for i in popular
        ),
        batch_size=5000,
    )
    for r in range(readers):
        user = User.objects.create(username=f"{SLUG}-{r}")
        reader = Reader.objects.create(user=user)
        profile = centres[r % CLUSTERS] + rng.normal(size=centres.shape[1]) * (
            0.3 / math.sqrt(centres.shape[1])
        )
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
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    total = time.perf_counter() - started
    record(pages=size, pages_seconds=round(pages_seconds, 1), phase1_seconds=round(total, 1))
    log(f"phase 1 done in {total:.0f} s")


def sql_pages(parent, count: int, *, now, hours_apart: int, offset_hours: int) -> list[int]:
    """``tests.bulk.bulk_pages`` in one server-side statement: live ``NewsPage`` children.

    The same rows bulk_pages makes (treebeard paths, slugs, url paths, dates
    ``hours_apart`` apart), generated by PostgreSQL: building a million Page
    objects in Python took over an hour on the shared 2-core host.
    """
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from wagtail.models import Page

    from tests.testapp.models import NewsPage

    assert parent.numchild == 0, "sql_pages needs a parent without children"
    base = len(Page.alphabet)
    digits = " || ".join(
        f"substr(%(alphabet)s, ((i + 1) / {base**k}) %% {base} + 1, 1)"
        for k in reversed(range(Page.steplen))
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO wagtailcore_page (path, depth, numchild, title, draft_title, slug, live,
                has_unpublished_changes, url_path, seo_title, show_in_menus, search_description,
                expired, content_type_id, locked, first_published_at, last_published_at,
                translation_key, locale_id)
            SELECT %(path)s || {digits}, %(depth)s, 0, 'Synthetic page ' || i,
                'Synthetic page ' || i, %(slug)s || i, true, false,
                %(url)s || %(slug)s || i || '/', '', false, '', false, %(ct)s, false,
                %(now)s - make_interval(hours => %(apart)s * i + %(offset)s),
                %(now)s - make_interval(hours => %(apart)s * i + %(offset)s),
                gen_random_uuid(), %(locale)s
              FROM generate_series(0, %(count)s - 1) AS i
            """,
            {
                "alphabet": Page.alphabet,
                "path": parent.path,
                "depth": parent.depth + 1,
                "slug": f"synthetic-{parent.pk}-",
                "url": parent.url_path,
                "ct": ContentType.objects.get_for_model(NewsPage).pk,
                "now": now,
                "apart": hours_apart,
                "offset": offset_hours,
                "locale": parent.locale_id,
                "count": count,
            },
        )
        cursor.execute(
            "SELECT id FROM wagtailcore_page WHERE path LIKE %s AND depth = %s ORDER BY path",
            [parent.path + "%", parent.depth + 1],
        )
        ids = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            f'INSERT INTO "{NewsPage._meta.db_table}" (page_ptr_id, summary) '
            "SELECT unnest(%s::int[]), ''",
            [ids],
        )
    last = Page.objects.get(pk=ids[-1])
    assert last.path == Page._get_path(parent.path, parent.depth + 1, count), last.path
    Page.objects.filter(pk=parent.pk).update(numchild=count)
    parent.numchild = count
    return ids


# --- phase 2: the vectors, through the bulk path -------------------------------------


def load_phase() -> None:
    """``bulk.load_vectors`` on the saved vectors: COPY, upsert, one HNSW build; timed."""
    from wagtail_neural_feed import bulk
    from wagtail_neural_feed.models import PageEmbedding

    ids = np.load(DATA / "ids.npy")
    if PageEmbedding.objects.count() >= len(ids) and index_exists():
        log("the vectors are loaded and indexed")
        return
    vectors = np.load(DATA / "vectors.npy", mmap_mode="r")
    log(f"loading {len(ids):,} vectors through wagtail_neural_feed.bulk ...")
    shown = set()

    def progress(done: int, total: int) -> None:
        tenth = 10 * done // total
        if tenth not in shown:
            shown.add(tenth)
            log(f"  {done:,} / {total:,} rows")

    memory = f"{bulk.index_memory_bytes(len(ids), vectors.shape[1]) >> 20}MB"
    log(f"HNSW build with maintenance_work_mem = {memory} (the loader's estimate)")
    # The synthetic pages' text says nothing about their vectors: no text hashes
    # (hashing is measured separately, and costs reading every page).
    with MemorySampler() as memory_used:
        result = bulk.load_vectors(
            ids, vectors, model_name="synthetic", hash_text=False, progress=progress
        )
    log(f"rows in {result.load_seconds:.0f} s, index in {result.index_seconds:.0f} s")
    record(
        load_seconds=round(result.load_seconds, 1),
        index_seconds=round(result.index_seconds, 1),
        maintenance_work_mem=memory,
        skipped=len(result.skipped),
        load_memory=memory_used.peak,
        sizes=sizes(),
    )


class MemorySampler:
    """Peak memory of the server's processes while a phase runs (every 2 s, psutil).

    ``private`` is the sum of their unique set sizes (what each process alone
    holds: sort and build memory, caches), ``shared`` the largest shared-memory
    footprint any one of them mapped (shared buffers touched).
    """

    def __init__(self) -> None:
        import threading

        self.peak = {"private": 0, "shared": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            sample = server_memory()
            for key, value in sample.items():
                self.peak[key] = max(self.peak[key], value)
            self._stop.wait(2)


def server_memory() -> dict[str, int]:
    import psutil

    pid_file = Path(os.environ.get("NEURAL_FEED_PGDATA") or ROOT / ".pgbench-1m") / "postmaster.pid"
    if not pid_file.exists():
        return {"private": 0, "shared": 0}
    postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
    private = shared = 0
    for process in [postmaster, *postmaster.children()]:
        try:
            info = process.memory_full_info()
        except psutil.Error:
            continue
        private += info.uss
        shared = max(shared, info.shared)
    return {"private": private, "shared": shared}


def index_exists() -> bool:
    from django.db import connection

    from wagtail_neural_feed.models.fields import PAGE_HNSW_INDEX

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_class WHERE relname = %s", [PAGE_HNSW_INDEX])
        return cursor.fetchone() is not None


def sizes() -> dict[str, int]:
    """Bytes on disk: the embedding table (heap + TOAST), its HNSW index, all its indexes."""
    from django.db import connection

    from wagtail_neural_feed.models import PageEmbedding
    from wagtail_neural_feed.models.fields import PAGE_HNSW_INDEX

    table = PageEmbedding._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_table_size(%s), pg_relation_size(%s), pg_indexes_size(%s), "
            "pg_total_relation_size('wagtailcore_page')",
            [table, PAGE_HNSW_INDEX, table],
        )
        heap, hnsw, indexes, pages = cursor.fetchone()
    return {"table": heap, "hnsw": hnsw, "indexes": indexes, "page_table": pages}


# --- phase 3: measure ------------------------------------------------------------------


def the_world(readers: int) -> dict:
    from wagtail.models import Page, Site

    from wagtail_neural_feed.models import Reader

    home = Page.objects.get(slug=SLUG)
    return {
        "home": home,
        "section_a": home.get_children().get(slug="a"),
        "site": Site.objects.get(root_page=home),
        "readers": list(
            Reader.objects.filter(user__username__startswith=f"{SLUG}-")
            .select_related("user")
            .order_by("pk")[:readers]
        ),
    }


def load_exact_from_files(world: dict, now) -> None:
    """``ranking.load_exact`` from the saved vectors: reading 500k vectors back through
    the ORM would take minutes; the rest (ages, popularity) as it does."""
    from wagtail_neural_feed.conf import neural_feed_settings
    from wagtail_neural_feed.models import PageEmbedding, PagePopularity

    ids = np.load(DATA / "ids.npy")
    vectors = np.load(DATA / "vectors.npy", mmap_mode="r")
    published = dict(
        PageEmbedding.objects.filter(
            path__startswith=world["section_a"].path, status="ready", live=True
        ).values_list("page_id", "first_published_at")
    )
    eligible = np.flatnonzero(np.isin(ids, np.fromiter(published, dtype=np.int64)))
    ids = ids[eligible]
    vectors = np.ascontiguousarray(vectors[eligible], dtype=np.float32)
    ages = np.array([max(0.0, (now - published[int(pk)]).total_seconds()) for pk in ids])
    pop_seconds = float(neural_feed_settings.POPULARITY_HALF_LIFE_DAYS) * 86400
    ln2 = math.log(2)
    stored = {
        pk: score * math.exp(max(-700.0, -ln2 * max(0.0, (now - at).total_seconds()) / pop_seconds))
        for pk, score, at in PagePopularity.objects.values_list("page_id", "score", "computed_at")
    }
    pops = np.array([stored.get(int(pk), 0.0) for pk in ids])
    top = PagePopularity.objects.order_by("-score").values_list("score", flat=True).first() or 0.0
    norm = math.log1p(top) if top > 0 else 0.0
    world["exact"] = {"vectors": vectors, "ids": ids, "ages": ages, "pops": pops, "norm": norm}


def buffers_in_use() -> dict[str, int] | None:
    """Shared buffers holding each relation the ranking reads (pg_buffercache), in bytes."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_buffercache'")
        if cursor.fetchone() is None:
            return None
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_buffercache")
        cursor.execute(
            """SELECT c.relname, count(*) * current_setting('block_size')::int
                 FROM pg_buffercache b JOIN pg_class c
                   ON b.relfilenode = pg_relation_filenode(c.oid)
                  AND b.reldatabase = (SELECT oid FROM pg_database
                                       WHERE datname = current_database())
                GROUP BY c.relname ORDER BY 2 DESC"""
        )
        return dict(cursor.fetchall())


def measure(args: argparse.Namespace) -> list[dict]:
    from benchmarks import ranking

    world = the_world(args.readers)
    # The ranking benchmark's own measurement, with the exact ranking's input
    # read from the saved vectors.
    ranking.load_exact = load_exact_from_files
    results = []
    sampler = MemorySampler().__enter__()
    for run in range(args.runs):
        log(f"run {run + 1} of {args.runs}: {args.queries} lists, {len(world['readers'])} readers")
        started = time.perf_counter()
        ours = ranking.measure_ours(world, args.queries, None)
        floor = ranking.measure_hnsw_floor(world, args.queries)
        results.append({"ours": ours, "floor": floor, "load": os.getloadavg()[0]})
        log(f"run {run + 1}: p50 {ours['p50']:.2f} ms in {time.perf_counter() - started:.0f} s")
    sampler.__exit__()
    record(measure_memory=sampler.peak)
    return results


# --- output ------------------------------------------------------------------------------


def world_size() -> int:
    from wagtail_neural_feed.models import PageEmbedding

    return PageEmbedding.objects.count()


def megabytes(value: int) -> str:
    return f"{value / 2**20:,.0f} MB"


def print_results(results: list[dict], args: argparse.Namespace) -> None:
    from django.db import connection

    from wagtail_neural_feed.conf import neural_feed_settings

    rows = []
    for number, result in enumerate(results, 1):
        ours = result["ours"]
        rows.append(
            [
                number,
                f"{ours['p50']:.2f}",
                f"{ours['p95']:.2f}",
                f"{ours['ranking_sql_p50']:.2f}",
                f"{ours['ranking_trips']} + {ours['fetch_trips']}",
                f"{ours['overlap']:.3f} (min {ours['min_overlap']:.1f})",
                ours["short"],
                ", ".join(f"{how} {n}" for how, n in sorted(ours["completeness"].items())),
                f"{result['floor']:.2f}",
                f"{result['load']:.1f}",
            ]
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('server_version'), current_setting('shared_buffers'), "
            "(SELECT extversion FROM pg_extension WHERE extname = 'vector')"
        )
        postgres, shared_buffers, pgvector = cursor.fetchone()
    print_table(
        f"{world_size():,} pages: recommend(limit=10), filters on (site, locale, page type, "
        f"section = 50 %, already read); {args.queries} lists over {args.readers} readers; "
        f"ef_search={neural_feed_settings.HNSW_EF_SEARCH}; PostgreSQL {postgres}, "
        f"pgvector {pgvector}, shared_buffers {shared_buffers}",
        [
            "run",
            "p50 ms",
            "p95 ms",
            "of which ranking SQL p50 ms",
            "round trips (ranking + page fetch)",
            "overlap@10 vs exact",
            "short lists",
            "lists complete by",
            "HNSW top-10 alone p50 ms",
            "load average",
        ],
        rows,
    )
    build = json.loads((DATA / "build.json").read_text()) if (DATA / "build.json").exists() else {}
    size = build.get("sizes") or sizes()
    cached = buffers_in_use() or {}
    working = sum(cached.values())
    print_table(
        "building it (.bench-1m/build.json) and what the server held",
        ["step", "value"],
        [
            [
                "1M page rows inserted in bulk (tests/bulk.py)",
                f"{build.get('pages_seconds', '-')} s",
            ],
            [
                "vectors: binary COPY + upsert (bulk.load_vectors)",
                f"{build.get('load_seconds', '-')} s",
            ],
            ["HNSW index build (m=16, ef_construction=64)", f"{build.get('index_seconds', '-')} s"],
            ["maintenance_work_mem for the build", build.get("maintenance_work_mem", "-")],
            ["embedding table (heap + TOAST)", megabytes(size["table"])],
            ["its HNSW index", megabytes(size["hnsw"])],
            ["all its indexes", megabytes(size["indexes"])],
            ["wagtailcore_page with indexes", megabytes(size["page_table"])],
            ["shared buffers in use after the runs", megabytes(working) if cached else "-"],
            *(
                [
                    f"server memory peak, {phase}: private (sum) / shared (largest)",
                    f"{megabytes(build[key]['private'])} / {megabytes(build[key]['shared'])}",
                ]
                for phase, key in (
                    ("bulk load + index build", "load_memory"),
                    ("ranking runs", "measure_memory"),
                )
                if key in build
            ),
            *([f"  of which {name}", megabytes(value)] for name, value in list(cached.items())[:6]),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=["pages", "load", "measure", "all"], default="all")
    parser.add_argument("--size", type=int, default=SIZE)
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--runs", type=int, default=2, help="measurements in a row")
    args = parser.parse_args()
    setup_django("benchmarks.million_settings")
    if args.phase in ("pages", "all"):
        build_pages(args.size, args.readers)
    if args.phase in ("load", "all"):
        load_phase()
    if args.phase in ("measure", "all"):
        print_results(measure(args), args)


if __name__ == "__main__":
    main()
