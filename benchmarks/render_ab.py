"""The render benchmark for two versions of the code, interleaved render by render.

    python -m benchmarks.render_ab --base origin/main --size 100000 --renders 200

This host's speed drifts with other work, so comparing two runs made minutes
apart says little. Here the base commit (exported with ``git archive``) and
this working tree each serve the benchmark's two pages in a process of their
own, on the same database and world (benchmarks/render.py's, built there if
missing); the driver alternates them step by step (which goes first
alternates too), so both see the same load. Each step renders the page
without and with the block for the next reader, as ``benchmarks.render``
does. The table gives each version's p50 of the time the block adds (wall
clock, and this process's CPU time, which a loaded host inflates far less),
and the p50 of the paired difference (this tree minus the base) per step.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = (
    ("signed-in, cache off (cold)", 0, False),
    ("signed-in, cache warm", 60, False),
    ("anonymous, cache off (cold)", 0, True),
    ("anonymous, cache warm", 60, True),
)


# --- the worker: one version of the code, driven over stdin / stdout -------------


def worker(root: Path, size: int, readers: int) -> None:
    """Serve commands (one JSON object a line) with the code under ``root``."""
    sys.path.insert(0, str(root))
    os.chdir(root)
    os.environ["NEURAL_FEED_BENCH_DB"] = (
        f"{os.environ.get('NEURAL_FEED_BENCH_DB', 'nf_bench')}_{size}"
    )
    from benchmarks.common import setup_django

    setup_django()
    from django.core.cache import cache
    from django.db import connection
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext

    from benchmarks import render
    from benchmarks.ranking import build_world

    world = build_world(size, readers=readers, rebuild=False)
    plain, with_block = render.make_hosts(world)
    users: list = []
    override = None
    reply({"ready": True})
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "begin":
            users = [None] if command["anonymous"] else [r.user for r in world["readers"]]
            override = override_settings(
                WAGTAIL_NEURAL_FEED={
                    **render._nf_settings(),
                    "LIST_CACHE_SECONDS": command["cache"],
                }
            )
            override.enable()
            cache.clear()
            for user in users:  # templates, connections, prepared statements, the cache
                render.render_ms(plain, render.request_for(world, user))
                render.render_ms(with_block, render.request_for(world, user))
            reply({"ready": True})
        elif command["op"] == "step":
            user = users[command["i"] % len(users)]
            base, base_cpu, _ = timed(plain, render.request_for(world, user))
            full, full_cpu, shown = timed(with_block, render.request_for(world, user))
            reply({"plain": base, "block": full, "cpu": full_cpu - base_cpu, "shown": shown})
        elif command["op"] == "queries":
            with CaptureQueriesContext(connection) as block:
                render.render_ms(with_block, render.request_for(world, users[0]))
            with CaptureQueriesContext(connection) as page:
                render.render_ms(plain, render.request_for(world, users[0]))
            reply({"queries": len(block) - len(page)})
        elif command["op"] == "end":
            override.disable()
            reply({"ready": True})


def timed(page, request) -> tuple[float, float, int]:
    """Wall and CPU milliseconds of serving and rendering the page, and links shown.

    On a loaded host wall time is mostly waiting for a core (a render longer
    than a scheduler slice waits for every other runnable process); the
    thread's CPU time is what this process itself spent.
    """
    wall, cpu = time.perf_counter(), time.thread_time()
    response = page.serve(request)
    response.render()
    wall, cpu = (time.perf_counter() - wall) * 1000, (time.thread_time() - cpu) * 1000
    return wall, cpu, response.content.count(b"data-neural-feed-page=")


def reply(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


# --- the driver ----------------------------------------------------------------------


class Version:
    """A worker process running one tree's code."""

    def __init__(
        self, name: str, root: Path, args: argparse.Namespace, *, module: str = __file__
    ) -> None:
        """``module``: the benchmark whose ``--worker`` mode the process runs."""
        self.name = name
        command = [sys.executable, str(Path(module).resolve()), "--worker", str(root)]
        command += ["--size", str(args.size), "--readers", str(args.readers)]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root
        )
        self.ask(None)

    def ask(self, command: dict | None) -> dict:
        if command is not None:
            self.process.stdin.write(json.dumps(command) + "\n")
            self.process.stdin.flush()
        while True:  # skip whatever else the code under test prints
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"the {self.name} worker exited")
            if line.startswith("{"):
                return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def export(commit: str) -> Path:
    """The tree of ``commit`` under .artifacts/, sharing this tree's benchmark database."""
    sha = subprocess.run(
        ["git", "rev-parse", commit], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    target = ROOT / ".artifacts" / f"render-ab-{sha[:12]}"
    if not target.exists():
        archive = subprocess.run(["git", "archive", sha], cwd=ROOT, check=True, capture_output=True)
        with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
            tar.extractall(target, filter="data")
        (ROOT / ".pgbench").mkdir(exist_ok=True)
        (target / ".pgbench").symlink_to(ROOT / ".pgbench")  # one server, one world
    return target


def measure(versions: list[Version], renders: int, cache: int, anonymous: bool) -> dict:
    times = {
        v.name: {"plain": [], "block": [], "added": [], "cpu": [], "shown": set()} for v in versions
    }
    for version in versions:
        version.ask({"op": "begin", "cache": cache, "anonymous": anonymous})
    for i in range(renders):
        for version in versions if i % 2 == 0 else versions[::-1]:
            answer = version.ask({"op": "step", "i": i})
            entry = times[version.name]
            entry["plain"].append(answer["plain"])
            entry["block"].append(answer["block"])
            entry["added"].append(answer["block"] - answer["plain"])
            entry["cpu"].append(answer["cpu"])
            entry["shown"].add(answer["shown"])
    queries = {v.name: v.ask({"op": "queries"})["queries"] for v in versions}
    for version in versions:
        version.ask({"op": "end"})
    return {"times": times, "queries": queries}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="origin/main", help="the commit to compare with")
    parser.add_argument("--size", type=int, default=100_000, help="pages in the world")
    parser.add_argument("--renders", type=int, default=200, help="steps per case")
    parser.add_argument("--readers", type=int, default=50, help="readers built and rotated")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker, args.size, args.readers)
        return
    sys.path.insert(0, str(ROOT))
    from benchmarks.common import print_table

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    base_root = export(args.base)
    versions = [Version("base", base_root, args), Version("this tree", ROOT, args)]
    rows = []
    try:
        for label, cache, anonymous in CASES:
            result = measure(versions, args.renders, cache, anonymous)
            base, head = (result["times"][v.name] for v in versions)
            rows.append(row(label, base, head, result["queries"]))
    finally:
        for version in versions:
            version.close()
    print_table(
        f"Time one RecommendedPagesBlock adds, {args.base} vs this tree, interleaved; "
        f"{args.size} pages, {args.renders} steps per case (ms; started {started}, "
        f"load average {os.getloadavg()[0]:.1f} at the end)",
        [
            "case",
            "p50 without base / tree",
            "p50 added base / tree",
            "p50 paired tree - base",
            "CPU p50 added base / tree",
            "CPU p50 paired tree - base",
            "queries added base / tree",
            "pages shown",
        ],
        rows,
    )


def row(label: str, base: dict, head: dict, queries: dict) -> list[str]:
    def paired(key: str) -> float:
        return statistics.median(h - b for h, b in zip(head[key], base[key], strict=True))

    def both(key: str) -> str:
        return f"{statistics.median(base[key]):.2f} / {statistics.median(head[key]):.2f}"

    return [
        label,
        both("plain"),
        both("added"),
        f"{paired('added'):+.2f}",
        both("cpu"),
        f"{paired('cpu'):+.2f}",
        f"{queries['base']} / {queries['this tree']}",
        ",".join(str(n) for n in sorted(base["shown"] | head["shown"])),
    ]


if __name__ == "__main__":
    main()
