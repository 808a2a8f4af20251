"""Database time of one incremental profile update after an interaction.

    python -m benchmarks.profile_update --history 1000 --updates 300

A reader with a long history (``--history`` interactions, already folded into
the profile) records one more interaction; we time ``update_profile`` for the
default feed: total wall time, the time spent in SQL (sum of the round trips
as Django measures them), and the number of queries. O(1) means the numbers
do not grow with the history. The co-read store's part of the same job
(``update_co_reads``: the new interaction paired with the reader's recent
ones, upserted, the touched pages pruned) is timed separately.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

from benchmarks.common import print_table, setup_django


class SqlTimer:
    """Django execute wrapper: time spent in each round trip, in seconds."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, nargs="+", default=[10, 1000, 10000])
    parser.add_argument("--updates", type=int, default=300)
    args = parser.parse_args()
    setup_django()

    import numpy as np
    from django.db import connection
    from django.utils import timezone
    from wagtail.models import Page

    from tests.bulk import bulk_embeddings, bulk_pages, clustered_vectors, remove_tree
    from tests.factories import HomePageFactory
    from wagtail_neural_feed.co_reads import update_co_reads
    from wagtail_neural_feed.feeds import get_feed_config
    from wagtail_neural_feed.models import Interaction, Reader
    from wagtail_neural_feed.profiles import recompute_profile, update_profile

    old = Page.objects.filter(slug="profile-bench").first()
    if old is not None:
        remove_tree(old)
    home = HomePageFactory(parent=Page.get_first_root_node(), title="P", slug="profile-bench")
    page_ids = bulk_pages(home, 2000)
    vectors, _, _ = clustered_vectors(2000, clusters=20, seed=7)
    bulk_embeddings(page_ids, vectors)
    config = get_feed_config()
    rng = np.random.default_rng(3)
    rows = []
    try:
        for history in args.history:
            reader = Reader.objects.create(visitor_id=uuid.uuid4())
            now = timezone.now()
            Interaction.objects.bulk_create(
                Interaction(
                    reader=reader,
                    page_id=int(rng.choice(page_ids)),
                    kind="view",
                    weight=1.0,
                    created_at=now - timezone.timedelta(minutes=i),
                )
                for i in range(history)
            )
            recompute_profile(reader.pk, config)
            latest = Interaction.objects.filter(reader=reader).latest("id").pk
            Reader.objects.filter(pk=reader.pk).update(co_read_mark=latest)  # history counted
            walls, sql_times, counts, co_times = [], [], [], []
            for _ in range(args.updates):
                Interaction.objects.create(
                    reader=reader,
                    page_id=int(rng.choice(page_ids)),
                    kind="like",
                    weight=3.0,
                    created_at=timezone.now(),
                )
                timer = SqlTimer()
                with connection.execute_wrapper(timer):
                    started = time.perf_counter()
                    update_profile(reader.pk, config)
                    walls.append((time.perf_counter() - started) * 1000)
                sql_times.append(timer.seconds * 1000)
                counts.append(timer.count)
                co_timer = SqlTimer()
                with connection.execute_wrapper(co_timer):
                    update_co_reads(reader.pk)
                co_times.append(co_timer.seconds * 1000)
            rows.append(
                [
                    f"{history:,}",
                    f"{statistics.median(sql_times):.2f}",
                    f"{sorted(sql_times)[int(0.95 * len(sql_times))]:.2f}",
                    f"{statistics.median(walls):.2f}",
                    max(counts),
                    f"{statistics.median(co_times):.2f}",
                    f"{sorted(co_times)[int(0.95 * len(co_times))]:.2f}",
                ]
            )
            Reader.objects.filter(pk=reader.pk).delete()
    finally:
        remove_tree(home)
    print_table(
        "incremental profile update after one interaction (default feed)",
        [
            "reader history",
            "SQL ms p50",
            "SQL ms p95",
            "wall ms p50",
            "queries",
            "co-reads SQL ms p50",
            "p95",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
