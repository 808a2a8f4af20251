"""The ranking benchmark for two versions of the code, interleaved list by list.

    python -m benchmarks.ranking_ab --base origin/main --sizes 5000 100000 --queries 200

As ``benchmarks.render_ab`` does for renders: the base commit (exported with
``git archive``) and this working tree each rank in a process of their own,
on the same database and world (``benchmarks.ranking``'s, built there if
missing), and the driver alternates them list by list (which goes first
alternates too), so both see the same load. Each step ranks the next
reader's list with the ranking benchmark's filtered feed. The table gives
each version's p50 / p95 (wall clock), the p50 of the paired difference
(this tree minus the base), how lists were shown complete, and how many of
the two versions' lists were identical.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def worker(root: Path, size: int, readers: int) -> None:
    """Rank lists on command (one JSON object a line) with the code under ``root``.

    Self-contained (not ``render_ab.setup_worker``): under ``root`` the
    ``benchmarks`` package is the compared commit's, which may predate it.
    """
    sys.path.insert(0, str(root))
    os.chdir(root)
    os.environ["NEURAL_FEED_BENCH_DB"] = (
        f"{os.environ.get('NEURAL_FEED_BENCH_DB', 'nf_bench')}_{size}"
    )
    from benchmarks.common import setup_django

    setup_django()
    from django.utils import timezone

    from benchmarks.ranking import LIMIT, bench_feed, build_world, reader_request
    from wagtail_neural_feed import recommend

    world = build_world(size, readers=readers, rebuild=False)
    feed = bench_feed(world, None)
    requests = [reader_request(world, reader) for reader in world["readers"]]
    now = timezone.now()
    for request in requests * 2:  # prepared statements, cached plans, mapped buffers
        recommend(request, feed=feed, limit=LIMIT, now=now)
    reply({"ready": True})
    for line in sys.stdin:
        request = requests[json.loads(line)["i"] % len(requests)]
        started = time.perf_counter()
        pages = recommend(request, feed=feed, limit=LIMIT, now=now)
        wall = (time.perf_counter() - started) * 1000
        how = pages[0].recommendation.completeness if pages else "empty"
        reply({"ms": wall, "ids": [page.pk for page in pages], "how": how})


def reply(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def measure(versions: list, queries: int) -> dict:
    runs = {v.name: {"ms": [], "how": {}, "ids": []} for v in versions}
    for i in range(queries):
        for version in versions if i % 2 == 0 else versions[::-1]:
            answer = version.ask({"i": i})
            entry = runs[version.name]
            entry["ms"].append(answer["ms"])
            entry["ids"].append(answer["ids"])
            entry["how"][answer["how"]] = entry["how"].get(answer["how"], 0) + 1
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="origin/main", help="the commit to compare with")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200, help="lists per version and size")
    parser.add_argument("--readers", type=int, default=50, help="readers built and rotated")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker, args.size, args.readers)
        return
    sys.path.insert(0, str(ROOT))
    from benchmarks.common import print_table
    from benchmarks.ranking import percentile
    from benchmarks.render_ab import Version, export

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    base_root = export(args.base)
    rows = []
    for size in args.sizes:
        args.size = size
        versions = [
            Version("base", base_root, args, module=__file__),
            Version("this tree", ROOT, args, module=__file__),
        ]
        try:
            runs = measure(versions, args.queries)
        finally:
            for version in versions:
                version.close()
        base, head = runs["base"], runs["this tree"]
        paired = statistics.median(h - b for h, b in zip(head["ms"], base["ms"], strict=True))
        same = sum(h == b for h, b in zip(head["ids"], base["ids"], strict=True))
        rows.append(
            [
                f"{size:,}",
                f"{statistics.median(base['ms']):.2f} / {statistics.median(head['ms']):.2f}",
                f"{percentile(base['ms'], 95):.2f} / {percentile(head['ms'], 95):.2f}",
                f"{paired:+.2f}",
                ", ".join(f"{k} {n}" for k, n in sorted(base["how"].items())),
                ", ".join(f"{k} {n}" for k, n in sorted(head["how"].items())),
                f"{same} / {args.queries}",
            ]
        )
    print_table(
        f"recommend(limit=10), {args.base} vs this tree, interleaved list by list; "
        f"{args.queries} lists per size (ms; started {started}, "
        f"load average {os.getloadavg()[0]:.1f} at the end)",
        [
            "pages",
            "p50 base / tree",
            "p95 base / tree",
            "p50 paired tree - base",
            "base complete by",
            "tree complete by",
            "identical lists",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
