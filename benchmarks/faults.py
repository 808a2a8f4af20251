"""Fault injection: requests and publishes while the broker or the workers fail.

    REDIS_URL=redis://127.0.0.1:6379/3 python -m benchmarks.faults --beacons 60 --publishes 10

For each fault, beacons (through the whole Django stack, each from a new
visitor) and page publishes run while the fault lasts; we report their p50 /
max latency, interactions stored vs sent, and after the fault ends (a worker
consuming the real Redis broker, and the sweep run once, as beat would at its
next tick) how long until every page is embedded and every profile is up to
date. Targets (issue 12): every request < 1 s, 0 lost, caught up within one
sweep interval.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid

from benchmarks.common import print_table, setup_django

REFUSED = "redis://127.0.0.1:6390/0"  # nothing listens here


def celery_app(broker_url: str):
    from celery import Celery

    app = Celery("nf_faults", broker=broker_url, set_as_current=False, fixups=[])
    app.conf.update(
        broker_connection_retry_on_startup=False,
        worker_hijack_root_logger=False,
        task_default_queue=f"nf-faults-{uuid.uuid4().hex[:8]}",
    )
    import wagtail_neural_feed.tasks  # noqa: F401  (the shared tasks bind to this app)

    app.finalize()
    return app


def run_traffic(home, beacons: int, publishes: int) -> tuple[list, list, list, int]:
    """Publish pages and send beacons: publish and beacon latencies (s), pages, 201s."""
    from django.test import Client

    from tests.factories import ArticlePageFactory
    from wagtail_neural_feed.tracking import page_token

    latencies, pages, beacon_latencies = [], [], []
    for number in range(publishes):
        page = ArticlePageFactory.build(title=f"Fault page {uuid.uuid4().hex[:6]} {number}")
        page.live = False
        home.add_child(instance=page)
        started = time.perf_counter()
        page.save_revision().publish()
        latencies.append(time.perf_counter() - started)
        pages.append(page)
    target = pages[0] if pages else home
    stored = 0
    for _ in range(beacons):
        body = {"page": target.pk, "kind": "like", "token": page_token(target.pk)}
        started = time.perf_counter()
        response = Client(HTTP_USER_AGENT="Mozilla/5.0 (faults)").post(
            "/neural-feed/interactions/", body, content_type="application/json"
        )
        beacon_latencies.append(time.perf_counter() - started)
        stored += response.status_code == 201
    return latencies, beacon_latencies, pages, stored


def caught_up(pages, readers_before: int) -> bool:
    from wagtail_neural_feed.models import EmbeddingStatus, PageEmbedding, Reader

    embedded = PageEmbedding.objects.filter(
        page_id__in=[p.pk for p in pages], status=EmbeddingStatus.READY
    ).count()
    pending = Reader.objects.filter(pk__gt=readers_before, profile_pending=True).count()
    return embedded == len(pages) and pending == 0


def scenario(name, broker_url, home, args, *, worker_during: bool) -> list:
    from celery.contrib.testing.worker import start_worker
    from django.test import override_settings

    from tests.faults import SilentBroker
    from wagtail_neural_feed import broker, dispatch
    from wagtail_neural_feed.models import Interaction, Reader

    silent = SilentBroker(hold=600) if broker_url == "silent" else None
    during = celery_app(silent.url if silent else broker_url)
    healthy = (
        celery_app(os.environ["REDIS_URL"]) if broker_url != os.environ["REDIS_URL"] else during
    )
    readers_before = Reader.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    interactions_before = Interaction.objects.count()
    broker.reset_circuit()
    worker = start_worker(during, pool="solo", perform_ping_check=False) if worker_during else None
    try:
        if worker:
            worker.__enter__()
        with override_settings(WAGTAIL_NEURAL_FEED={**_base(), "CELERY_APP": during}):
            publishing, beacons, pages, answered = run_traffic(home, args.beacons, args.publishes)
            dispatch.wait_for_jobs(120)
        stored = Interaction.objects.count() - interactions_before
        # The fault ends: a worker consumes the real broker and the sweep runs once.
        fault_end = time.perf_counter()
        broker.reset_circuit()
        with override_settings(WAGTAIL_NEURAL_FEED={**_base(), "CELERY_APP": healthy}):
            if not worker:
                worker = start_worker(healthy, pool="solo", perform_ping_check=False)
                worker.__enter__()
            dispatch.send("sweep")
            deadline = time.perf_counter() + args.timeout
            while not caught_up(pages, readers_before) and time.perf_counter() < deadline:
                time.sleep(0.05)
            catch_up = time.perf_counter() - fault_end
            done = caught_up(pages, readers_before)
    finally:
        if worker:
            worker.__exit__(None, None, None)
        if silent:
            silent.close()
        broker.forget_app()
    return [
        name,
        f"{statistics.median(beacons) * 1000:.0f} / {max(beacons) * 1000:.0f}",
        f"{statistics.median(publishing) * 1000:.0f} / {max(publishing) * 1000:.0f}",
        f"{answered}/{args.beacons}",
        f"{stored}/{args.beacons}",
        args.beacons - stored,
        f"{catch_up:.1f}" if done else f"> {args.timeout:.0f} (not caught up)",
    ]


def _base() -> dict:
    from django.conf import settings

    return dict(settings.WAGTAIL_NEURAL_FEED)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beacons", type=int, default=60)
    parser.add_argument("--publishes", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
    setup_django("benchmarks.faults_settings")
    from wagtail.models import Page, Site

    from tests.factories import HomePageFactory

    root = Page.get_first_root_node()
    home = HomePageFactory(parent=root, title="Faults", slug=f"faults-{uuid.uuid4().hex[:6]}")
    Site.objects.update_or_create(
        is_default_site=True, defaults={"root_page": home, "hostname": "localhost"}
    )
    redis = os.environ["REDIS_URL"]
    rows = [
        scenario("healthy broker and worker", redis, home, args, worker_during=True),
        scenario("broker refuses connections", REFUSED, home, args, worker_during=False),
        scenario("broker accepts, never answers", "silent", home, args, worker_during=False),
        scenario("broker up, no worker", redis, home, args, worker_during=False),
    ]
    print_table(
        f"Faults: {args.publishes} publishes + {args.beacons} beacons during each fault",
        [
            "fault",
            "beacon p50 / max ms",
            "publish p50 / max ms",
            "201s",
            "rows stored",
            "lost",
            "catch-up s",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
