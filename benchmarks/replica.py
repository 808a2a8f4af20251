"""Lists from a streaming replica vs the primary, and the lag under a burst of interactions.

    python -m benchmarks.replica                    # 10k pages, 400 lists a side, 5 s burst
    python -m benchmarks.replica --size 20000 --lists 600 --burst 10 --writers 4

It builds (once, reused) the ranking benchmark's world in a primary of its
own (``.pgbench-replica``), copies it into a hot standby with
``pg_basebackup`` (``wagtail_neural_feed.standby``), and then

1. ranks ``recommend(request, feed=..., limit=10)`` for signed-in readers with
   ``READ_DATABASE`` unset (the primary) and ``"replica"``, in interleaved
   blocks on one connection each: p50 / p95 and lists/s per side;
2. has ``--writers`` threads record likes (interaction + profile update, as
   the beacon and its job do) for ``--burst`` seconds while a sampler asks,
   every few milliseconds, how long the standby takes to replay what the
   primary had written at that moment: replication lag p50 / p95 / max, and
   how long the standby needs to catch up after the burst;
3. during the burst, ranks lists for whichever reader liked something last
   and counts where they were ranked (read your writes: on the primary until
   the replica has replayed that reader's write).

Both servers run on this one machine, so the replica shows the cost of the
path, not the capacity a second machine adds (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from benchmarks.common import print_table, setup_django
from benchmarks.ranking import bench_feed, build_world, percentile, reader_request

LIMIT = 10


def measure_lists(world: dict, *, lists: int, block: int) -> dict[str, list[float]]:
    """Latency (ms) of ``recommend`` per side, interleaved in blocks of ``block`` lists."""
    from django.conf import settings
    from django.test import override_settings

    from wagtail_neural_feed import recommend
    from wagtail_neural_feed.conf import SETTINGS_NAME

    feed = bench_feed(world, None)
    readers = world["readers"]
    requests = [reader_request(world, reader) for reader in readers]
    base = getattr(settings, SETTINGS_NAME)
    sides = {"primary": None, "replica": "replica"}
    latencies: dict[str, list[float]] = {side: [] for side in sides}
    for alias in sides.values():  # warm both: prepared statements, buffers
        with override_settings(**{SETTINGS_NAME: {**base, "READ_DATABASE": alias}}):
            for request in requests * 2:
                recommend(request, feed=feed, limit=LIMIT)
    done = 0
    while done < lists:
        for side, alias in sides.items():
            with override_settings(**{SETTINGS_NAME: {**base, "READ_DATABASE": alias}}):
                for i in range(done, min(lists, done + block)):
                    request = requests[i % len(requests)]
                    started = time.perf_counter()
                    recommend(request, feed=feed, limit=LIMIT)
                    latencies[side].append((time.perf_counter() - started) * 1000)
        done += block
    return latencies


def measure_burst(world: dict, standby, *, seconds: float, writers: int) -> dict:
    """Likes from ``writers`` threads for ``seconds``; the standby's replay lag meanwhile."""
    from django.conf import settings
    from django.db import connections
    from django.test import override_settings
    from wagtail.models import Page

    from wagtail_neural_feed import recommend, replicas
    from wagtail_neural_feed.conf import SETTINGS_NAME
    from wagtail_neural_feed.tracking import record_interaction

    pages = list(
        Page.objects.filter(
            path__startswith=world["section_a"].path, depth__gt=world["section_a"].depth
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:2000]
    )
    readers = world["readers"]
    stop = threading.Event()
    written = [0] * writers
    routes = {"primary": 0, "replica": 0}
    feed = bench_feed(world, None)
    base = getattr(settings, SETTINGS_NAME)

    last_liker = [readers[0]]

    def write(slot: int) -> None:
        try:
            n = 0
            while not stop.is_set():
                reader = readers[(slot + n * writers) % len(readers)]
                record_interaction(reader.user, pages[(n * 7 + slot * 13) % len(pages)], "like")
                last_liker[0] = reader
                n += 1
            written[slot] = n
        finally:
            connections.close_all()

    def read_own_writes() -> None:
        """Lists for the reader who liked something last: where are they ranked?"""
        try:
            while not stop.is_set():
                request = reader_request(world, last_liker[0])
                log = connections["default"].queries_log
                connections["default"].force_debug_cursor = True
                log.clear()
                recommend(request, feed=feed, limit=LIMIT)
                ranked_on_primary = any("hnsw.ef_search" in q["sql"] for q in log)
                routes["primary" if ranked_on_primary else "replica"] += 1
        finally:
            connections.close_all()

    lags: list[float] = []
    behind: list[int] = []
    threads = [threading.Thread(target=write, args=(slot,)) for slot in range(writers)]
    threads.append(threading.Thread(target=read_own_writes))
    replicas.reset()
    primary = standby._primary_connection()
    replica = standby.connect("postgres")
    # Settings are process-wide: writers must know about the replica to leave markers.
    replica_reads = override_settings(**{SETTINGS_NAME: {**base, "READ_DATABASE": "replica"}})
    replica_reads.enable()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    try:
        while time.perf_counter() - started < seconds:
            (lsn,) = primary.execute("SELECT pg_current_wal_insert_lsn()").fetchone()
            sampled = time.perf_counter()
            (bytes_behind,) = replica.execute(
                "SELECT pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn())", [lsn]
            ).fetchone()
            behind.append(max(int(bytes_behind), 0))
            while not replica.execute(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn]
            ).fetchone()[0]:
                time.sleep(0.0005)
            lags.append((time.perf_counter() - sampled) * 1000)
            time.sleep(0.005)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        replica_reads.disable()
    elapsed = time.perf_counter() - started
    (lsn,) = primary.execute("SELECT pg_current_wal_insert_lsn()").fetchone()
    ended = time.perf_counter()
    while not replica.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn]).fetchone()[0]:
        time.sleep(0.0005)
    catch_up = (time.perf_counter() - ended) * 1000
    primary.close()
    replica.close()
    return {
        "likes": sum(written),
        "likes_per_s": sum(written) / elapsed,
        "lags": lags,
        "behind": behind,
        "catch_up_ms": catch_up,
        "routes": routes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000, help="pages in the world")
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--lists", type=int, default=400, help="lists per side")
    parser.add_argument("--block", type=int, default=50, help="lists per interleaved block")
    parser.add_argument("--burst", type=float, default=5.0, help="seconds of likes")
    parser.add_argument("--writers", type=int, default=2, help="threads recording likes")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    setup_django("benchmarks.replica_settings")
    from django.conf import settings
    from django.db import connections

    from wagtail_neural_feed.standby import Standby

    world = build_world(args.size, readers=args.readers, rebuild=args.rebuild)
    standby = Standby(connections["default"].settings_dict, settings.NEURAL_FEED_REPLICA_DIR)
    started = time.perf_counter()
    standby.start()
    copy_s = time.perf_counter() - started
    try:
        standby.wait_for_replay()
        latencies = measure_lists(world, lists=args.lists, block=args.block)
        burst = measure_burst(world, standby, seconds=args.burst, writers=args.writers)
    finally:
        connections.close_all()
        standby.stop()

    rows = []
    for side, values in latencies.items():
        rows.append(
            [
                side,
                len(values),
                f"{statistics.median(values):.2f}",
                f"{percentile(values, 95):.2f}",
                f"{1000 * len(values) / sum(values):.0f}",
            ]
        )
    print_table(
        f"lists: recommend(limit={LIMIT}), signed-in readers, {args.size} pages, "
        f"one connection a side, interleaved blocks of {args.block}",
        ["read database", "lists", "p50 ms", "p95 ms", "lists/s"],
        rows,
    )
    lags = burst["lags"]
    print_table(
        f"replication lag under {args.writers} threads recording likes for {args.burst:.0f} s "
        f"(interaction + inline profile update each)",
        ["likes/s", "samples", "lag p50 ms", "lag p95 ms", "lag max ms", "max bytes behind",
         "catch-up after burst ms"],
        [[
            f"{burst['likes_per_s']:.0f}",
            len(lags),
            f"{statistics.median(lags):.1f}",
            f"{percentile(lags, 95):.1f}",
            f"{max(lags):.1f}",
            max(burst["behind"]),
            f"{burst['catch_up_ms']:.1f}",
        ]],
    )  # fmt: skip
    routes = burst["routes"]
    print_table(
        "during the burst, lists of the reader who liked something last (read your writes)",
        ["ranked on the primary", "ranked on the replica"],
        [[routes["primary"], routes["replica"]]],
    )
    print(f"\nstandby copy + start: {copy_s:.1f} s")


if __name__ == "__main__":
    main()
