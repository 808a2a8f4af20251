"""Time a recommendations block adds to rendering a page, cold and with a warm cache.

    python -m benchmarks.render                     # 100k-page world
    python -m benchmarks.render --size 10000 --renders 300

Builds (or reuses) the ranking benchmark's world of ``--size`` pages with
signed-in readers who have profiles and read pages (see benchmarks/ranking.py;
the same database, ``<NEURAL_FEED_BENCH_DB>_<size>``), adds two article pages
that differ only in one ``RecommendedPagesBlock`` (6 pages, cards, default
feed), and renders each page the way Wagtail serves it (``page.serve`` and
``response.render()``; request with the site resolved and the reader signed
in). Renders alternate between the two pages, readers rotate, and the table
gives the p50 / p90 of each and of the added time: with the list cache off
(every render ranks) and with it warm (every reader's list rendered once
before). Anonymous readers without a cookie share one cache entry. "CPU
p50 added" is this process's own CPU time for the block (not PostgreSQL's),
which a loaded host inflates far less than wall time.
To compare two commits render by render, see ``benchmarks/render_ab.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from benchmarks.common import print_table

BASE_DB = os.environ.get("NEURAL_FEED_BENCH_DB", "nf_bench")
BLOCK = {"count": 6, "layout": "cards", "show_summary": True, "show_image": True}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def make_hosts(world: dict):
    """The two pages under test (made once), without and with the block.

    They get no embedding: the world's "complete" check counts embeddings, and
    the list is the reader's (the context page only blends in when embedded).
    """
    from tests.testapp.models import ArticlePage

    home = world["home"]
    hosts = []
    for slug, related in (("render-plain", "[]"), ("render-block", json.dumps([BLOCK_VALUE]))):
        page = ArticlePage.objects.filter(slug=slug).first()
        if page is None:
            page = ArticlePage(title=slug, slug=slug, intro="<p>A page.</p>", related=related)
            home.add_child(instance=page)
        hosts.append(ArticlePage.objects.get(pk=page.pk))
    return hosts


BLOCK_VALUE = {"type": "recommended", "value": BLOCK}


def request_for(world: dict, user):
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    request = RequestFactory().get(
        "/", HTTP_HOST=world["site"].hostname, HTTP_USER_AGENT="Mozilla/5.0"
    )
    request.user = user or AnonymousUser()
    request.session = {}
    request._wagtail_site = world["site"]
    return request


def render_ms(page, request) -> tuple[float, int]:
    elapsed, _, shown = render_times(page, request)
    return elapsed, shown


def render_times(page, request) -> tuple[float, float, int]:
    """Wall and CPU milliseconds of serving and rendering the page, and links shown.

    On a loaded host wall time is mostly waiting for a core (a render longer
    than a scheduler slice waits behind every other runnable process); this
    thread's CPU time is what the process itself spent (not PostgreSQL's).
    """
    wall, cpu = time.perf_counter(), time.thread_time()
    response = page.serve(request)
    response.render()
    wall, cpu = (time.perf_counter() - wall) * 1000, (time.thread_time() - cpu) * 1000
    return wall, cpu, response.content.count(b"data-neural-feed-page=")


def measure(world: dict, hosts, *, renders: int, cache_seconds: int, anonymous: bool) -> dict:
    """Alternate plain and block renders over the readers; return times in ms."""
    from django.core.cache import cache
    from django.test import override_settings

    plain, with_block = hosts
    users = [None] if anonymous else [reader.user for reader in world["readers"]]
    settings_value = {**_nf_settings(), "LIST_CACHE_SECONDS": cache_seconds}
    with override_settings(WAGTAIL_NEURAL_FEED=settings_value):
        cache.clear()
        for user in users:  # warm up templates, connections, prepared statements (and the cache)
            render_ms(plain, request_for(world, user))
            render_ms(with_block, request_for(world, user))
        times = {"plain": [], "block": [], "added": [], "cpu": [], "ranking": [], "shown": set()}
        for i in range(renders):
            user = users[i % len(users)]
            base, base_cpu, _ = render_times(plain, request_for(world, user))
            full, full_cpu, shown = render_times(with_block, request_for(world, user))
            times["plain"].append(base)
            times["block"].append(full)
            times["added"].append(full - base)
            times["cpu"].append(full_cpu - base_cpu)
            times["shown"].add(shown)
            if not cache_seconds:  # the ranking alone, for comparison
                times["ranking"].append(ranking_ms(world, with_block, user))
    return times


def ranking_ms(world: dict, page, user) -> float:
    from wagtail_neural_feed import recommend

    request = request_for(world, user)
    started = time.perf_counter()
    recommend(request, limit=6, context_page=page)
    return (time.perf_counter() - started) * 1000


def _nf_settings() -> dict:
    from django.conf import settings

    return dict(settings.WAGTAIL_NEURAL_FEED)


def count_queries(world: dict, hosts, *, cache_seconds: int) -> int:
    from django.core.cache import cache
    from django.db import connection
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext

    user = world["readers"][0].user
    with override_settings(
        WAGTAIL_NEURAL_FEED={**_nf_settings(), "LIST_CACHE_SECONDS": cache_seconds}
    ):
        cache.clear()
        render_ms(hosts[1], request_for(world, user))
        with CaptureQueriesContext(connection) as block:
            render_ms(hosts[1], request_for(world, user))
        with CaptureQueriesContext(connection) as plain:
            render_ms(hosts[0], request_for(world, user))
    return len(block) - len(plain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="pages in the world")
    parser.add_argument("--renders", type=int, default=300, help="renders of each page")
    parser.add_argument("--readers", type=int, default=50, help="readers built and rotated")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the world")
    args = parser.parse_args()
    os.environ["NEURAL_FEED_BENCH_DB"] = f"{BASE_DB}_{args.size}"

    from benchmarks.common import setup_django

    setup_django()
    from benchmarks.ranking import build_world

    world = build_world(args.size, readers=args.readers, rebuild=args.rebuild)
    hosts = make_hosts(world)
    rows = []
    for label, cache_seconds, anonymous in (
        ("signed-in, cache off (cold)", 0, False),
        ("signed-in, cache warm", 60, False),
        ("anonymous, cache off (cold)", 0, True),
        ("anonymous, cache warm", 60, True),
    ):
        times = measure(
            world, hosts, renders=args.renders, cache_seconds=cache_seconds, anonymous=anonymous
        )
        ranking = f"{statistics.median(times['ranking']):.2f}" if times["ranking"] else "-"
        rows.append(
            [
                label,
                f"{statistics.median(times['plain']):.2f}",
                f"{percentile(times['plain'], 0.9):.2f}",
                f"{statistics.median(times['block']):.2f}",
                f"{statistics.median(times['added']):.2f}",
                f"{percentile(times['added'], 0.9):.2f}",
                f"{statistics.median(times['cpu']):.2f}",
                ranking,
                ",".join(str(n) for n in sorted(times["shown"])),
            ]
        )
    print_table(
        f"Rendering an article page with one RecommendedPagesBlock (6 pages, cards), "
        f"{args.size} pages, {args.renders} renders each (ms)",
        [
            "case",
            "p50 without",
            "p90 without",
            "p50 with",
            "p50 added",
            "p90 added",
            "CPU p50 added",
            "p50 recommend() alone",
            "pages shown",
        ],
        rows,
    )
    print(
        f"\nqueries added by the block: {count_queries(world, hosts, cache_seconds=0)} cold, "
        f"{count_queries(world, hosts, cache_seconds=60)} warm"
    )


if __name__ == "__main__":
    main()
