"""Does an admin-defined feed rank as fast as the same feed declared in code?

    NEURAL_FEED_TEST_DB=nf_admin_bench python -m benchmarks.admin_feed --pages 1000

Builds (once) a site of ``--pages`` article pages with the hashing encoder on
the test settings' embedded server, registers one feed in code and an admin
feed with the same values, then times ``recommend(request, feed=..., limit=10)``
for both, interleaved, with the feed version stamp in a per-process cache
(LocMem) and in Redis (``REDIS_URL``), the shared cache a multi-process site
uses. Also times the stamp check alone and counts queries per list.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from benchmarks.common import print_table, setup_django

WORDS = [
    *("jazz", "festival", "trumpet", "cell", "biology", "gene", "telescope", "meteor"),
    *("river", "city", "election", "budget", "football", "tennis", "recipe", "bread"),
    *("garden", "rose", "climate", "storm", "train", "bridge", "museum", "painting"),
]


def build(pages: int) -> None:
    from django.test import TestCase
    from wagtail.models import Page, Site

    from tests.testapp.models import ArticlePage, HomePage

    root = Page.get_first_root_node()
    home = HomePage.objects.first()
    if home is None:
        home = root.add_child(instance=HomePage(title="Bench home", slug="bench-home"))
        Site.objects.update_or_create(
            is_default_site=True, defaults={"root_page": home, "hostname": "localhost"}
        )
    have = ArticlePage.objects.count()
    for n in range(have, pages):
        words = " ".join(WORDS[(n * k) % len(WORDS)] for k in (1, 3, 7, 11, 13))
        page = home.add_child(instance=ArticlePage(title=f"Article {n} {words}", intro=words))
        with TestCase.captureOnCommitCallbacks(execute=True):
            page.save_revision().publish()
        if n % 200 == 0:
            print(f"  {n} pages", flush=True)


def timed(function, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return times


def measure(queries: int) -> list[list]:
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from wagtail_neural_feed import recommend
    from wagtail_neural_feed.admin_feeds import refresh_if_changed
    from wagtail_neural_feed.feeds import registered_feeds

    factory = RequestFactory()

    def lists(feed: str):
        def one():
            request = factory.get("/", HTTP_HOST="localhost")
            assert len(recommend(request, feed=feed, limit=10)) == 10

        return one

    registered_feeds()
    for feed in ("code-twin", "admin-twin"):
        timed(lists(feed), 20)  # warm: prepared statements, content types
    code, admin = [], []
    for _ in range(queries):  # interleaved, so drift hits both alike
        code += timed(lists("code-twin"), 1)
        admin += timed(lists("admin-twin"), 1)
    counts = []
    for feed in ("code-twin", "admin-twin"):
        with CaptureQueriesContext(connection) as captured:
            lists(feed)()
        counts.append(len(captured))
    stamp = timed(refresh_if_changed, 2000)

    def p(values, q):
        return f"{statistics.quantiles(values, n=100)[q - 1]:.3f}"

    return [
        ["code feed", p(code, 50), p(code, 95), counts[0]],
        ["admin feed", p(admin, 50), p(admin, 95), counts[1]],
        ["admin - code (p50)", f"{float(p(admin, 50)) - float(p(code, 50)):+.3f}", "", ""],
        ["version stamp check alone", p(stamp, 50), p(stamp, 95), 0],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    os.environ.setdefault("NEURAL_FEED_TEST_DB", "nf_admin_bench")
    setup_django("tests.settings")
    from django.test import override_settings
    from wagtail.models import Site

    from wagtail_neural_feed import Feed, register_feed
    from wagtail_neural_feed.models import AdminFeed

    build(args.pages)
    values = {"page_types": ["testapp.ArticlePage"], "freshness_weight": 0.3}

    @register_feed
    class CodeTwin(Feed):
        slug = "code-twin"
        page_types = values["page_types"]
        freshness_weight = values["freshness_weight"]

    AdminFeed.objects.update_or_create(
        slug="admin-twin",
        defaults={"site": Site.objects.get(is_default_site=True), "title": "Admin twin", **values},
    )
    redis = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    backends = "django.core.cache.backends"
    for name, caches in [
        ("LocMem (one process)", {"BACKEND": f"{backends}.locmem.LocMemCache"}),
        ("Redis (shared)", {"BACKEND": f"{backends}.redis.RedisCache", "LOCATION": redis}),
    ]:
        with override_settings(CACHES={"default": caches}):
            rows = measure(args.queries)
        print_table(
            f"{args.pages} pages, {args.queries} lists per feed, version stamp in {name}",
            ["feed", "p50 ms", "p95 ms", "queries per list"],
            rows,
        )


if __name__ == "__main__":
    main()
