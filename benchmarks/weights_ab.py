"""Two feed weightings ranked on one world, interleaved list by list, in one process.

    python -m benchmarks.weights_ab --size 10000 --queries 200 \\
        --a sim=1,fresh=0.2,half_life=14,pop=0.1 --b sim=1,fresh=1,half_life=0.5,pop=1

The ranking benchmark's world and filtered feed (``benchmarks.ranking``, built
if missing) with each weighting (``neural_feed_evaluate --weights`` form),
alternating A and B reader by reader (which goes first alternates too), so
both see the same load: p50 / p95 of each, the p50 of the paired difference
(B minus A), and how each list was shown complete.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import Counter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--a", default="sim=1,fresh=0.2,half_life=14,pop=0.1")
    parser.add_argument("--b", default="sim=1,fresh=1,half_life=0.5,pop=1")
    args = parser.parse_args()
    base = os.environ.get("NEURAL_FEED_BENCH_DB", "nf_bench")
    os.environ["NEURAL_FEED_BENCH_DB"] = f"{base}_{args.size}"
    from benchmarks.common import setup_django

    setup_django()
    from django.utils import timezone

    from benchmarks.ranking import LIMIT, bench_feed, build_world, reader_request
    from wagtail_neural_feed import recommend

    world = build_world(args.size, readers=args.readers, rebuild=False)
    feeds = {"A": bench_feed(world, None, args.a), "B": bench_feed(world, None, args.b)}
    readers = world["readers"]
    requests = {reader.pk: reader_request(world, reader) for reader in readers}
    now = timezone.now()
    for reader in readers * 2:  # warm up both, as a long-lived connection is
        for feed in feeds.values():
            recommend(requests[reader.pk], feed=feed, limit=LIMIT, now=now)
    times: dict[str, list[float]] = {"A": [], "B": []}
    paths: dict[str, Counter] = {"A": Counter(), "B": Counter()}
    for q in range(args.queries):
        reader = readers[q % len(readers)]
        for name in ("A", "B") if q % 2 == 0 else ("B", "A"):
            started = time.perf_counter()
            pages = recommend(requests[reader.pk], feed=feeds[name], limit=LIMIT, now=now)
            times[name].append((time.perf_counter() - started) * 1000)
            paths[name][pages[0].recommendation.completeness if pages else "empty"] += 1
    print(f"{args.size} pages, {args.queries} lists each, load average {os.getloadavg()[0]:.1f}")
    for name, spec in (("A", args.a), ("B", args.b)):
        values = sorted(times[name])
        p95 = values[int(0.95 * (len(values) - 1))]
        print(
            f"{name} {spec}: p50 {statistics.median(values):.2f} ms, p95 {p95:.2f} ms, "
            f"complete by {dict(paths[name])}"
        )
    paired = [b - a for a, b in zip(times["A"], times["B"], strict=True)]
    print(f"B - A, paired p50: {statistics.median(paired):+.2f} ms")


if __name__ == "__main__":
    main()
