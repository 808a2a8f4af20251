"""JSON API requests/s through a real WSGI server, under concurrent keep-alive clients.

    python -m benchmarks.api                          # 10k pages, 8 clients, 10 s per case
    python -m benchmarks.api --size 100000 --seconds 15

Builds (or reuses) the ranking benchmark's world of ``--size`` pages
(``benchmarks.ranking.build_world``: same database, ``nf_bench_<size>``),
gives its readers signed-in sessions, starts gunicorn on loopback and runs
three cases for a fixed time each: personal recommendations for signed-in
readers, recommendations for anonymous visitors, and "more like this" for
random pages. Every answer must be a 200 with a list. Then, in-process, what
the API adds to ``recommend()`` alone (middleware, site, serialisation, token).
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from benchmarks.common import ROOT, print_table, setup_django
from benchmarks.ingest import read_answer, read_response, wait_for_port

# Another benchmark (or another checkout) may hold the default port: NEURAL_FEED_BENCH_PORT.
PORT = int(os.environ.get("NEURAL_FEED_BENCH_PORT", "8766"))
BASE_DB = os.environ.get("NEURAL_FEED_BENCH_DB", "nf_bench")


def sessions_for(readers) -> list[str]:
    """A signed-in session per reader, as a login would leave it."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    keys = []
    for reader in readers:
        session = SessionStore()
        session[SESSION_KEY] = str(reader.user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = reader.user.get_session_auth_hash()
        session.create()
        keys.append(session.session_key)
    return keys


def build_cases(world: dict, rng: random.Random) -> dict[str, list[bytes]]:
    """Ready-made HTTP/1.1 requests per case, so clients spend their time on the wire."""
    from wagtail_neural_feed.models import PageEmbedding

    host = world["site"].hostname

    def request(path: str, cookie: str = "") -> bytes:
        head = f"GET /neural-feed/{path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n"
        if cookie:
            head += f"Cookie: {cookie}\r\n"
        return (head + "\r\n").encode()

    sessions = sessions_for(world["readers"])
    page_ids = list(
        PageEmbedding.objects.filter(path__startswith=world["home"].path).values_list(
            "page_id", flat=True
        )
    )
    return {
        "recommendations, signed-in readers (limit 10)": [
            request("recommendations/?limit=10", f"sessionid={key}") for key in sessions
        ],
        "recommendations, anonymous (limit 10)": [request("recommendations/?limit=10")],
        "similar/<id>/, anonymous (limit 5)": [
            request(f"similar/{page_id}/?limit=5") for page_id in rng.sample(page_ids, 500)
        ],
    }


def client(requests: list[bytes], stop: float, results: dict, port: int) -> None:
    ok = errors = 0
    latencies = []
    rng = random.Random()
    sock, buffer = None, b""
    while time.monotonic() < stop:
        request = rng.choice(requests)
        started = time.perf_counter()
        status = None
        for _attempt in (1, 2):
            fresh = sock is None
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                    buffer = b""
                sock.sendall(request)
                status, buffer, keep = read_answer(sock, buffer)
                if not keep:
                    sock.close()
                    sock = None
                break
            except OSError:
                if sock is not None:
                    sock.close()
                sock = None
                if fresh:
                    break
                # The server closed an idle kept-alive connection: reconnect once.
        if status is None:
            errors += 1
            continue
        latencies.append(time.perf_counter() - started)
        if status == 200:
            ok += 1
        else:
            errors += 1
    if sock is not None:
        sock.close()
    with results["lock"]:
        results["ok"] += ok
        results["errors"] += errors
        results["latencies"].extend(latencies)


def client_process(requests: list[bytes], stop: float, threads: int, port: int, queue) -> None:
    """``threads`` clients in a process of their own: (ok, errors, latencies, CPU seconds)."""
    results = {"ok": 0, "errors": 0, "latencies": [], "lock": threading.Lock()}
    cpu = time.process_time()
    workers = [
        threading.Thread(target=client, args=(requests, stop, results, port))
        for _ in range(threads)
    ]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    queue.put((results["ok"], results["errors"], results["latencies"], time.process_time() - cpu))


def wait_until_serving(request: bytes, *, port: int, workers: int, timeout: float = 300.0) -> None:
    """Until every worker has answered once: a worker that is still importing Django
    on a busy machine would time the first clients out (and count as errors)."""
    deadline = time.monotonic() + timeout
    answered = 0
    while answered < 2 * workers:
        if time.monotonic() > deadline:
            raise RuntimeError("gunicorn's workers did not answer")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
                sock.sendall(request)
                status, _ = read_response(sock, b"")
            answered += status == 200
        except OSError:
            time.sleep(0.5)


def run_case(
    requests: list[bytes], *, port: int, clients: int, seconds: float, processes: int
) -> dict:
    """``clients`` keep-alive clients for ``seconds``, after as long a warm-up (3 s at most)
    of every worker. The clients are spread over ``processes`` forked processes, so one
    interpreter's lock does not cap the load (their CPU time is reported too)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    for measured in (False, True):
        length = seconds if measured else min(seconds, 3.0)
        stop = time.monotonic() + length
        started = time.monotonic()
        queue = context.Queue()
        shares = [clients // processes + (i < clients % processes) for i in range(processes)]
        children = [
            context.Process(target=client_process, args=(requests, stop, share, port, queue))
            for share in shares
            if share
        ]
        for child in children:
            child.start()
        results = {"ok": 0, "errors": 0, "latencies": [], "client_cpu": 0.0}
        for _ in children:
            ok, errors, latencies, cpu = queue.get()
            results["ok"] += ok
            results["errors"] += errors
            results["latencies"].extend(latencies)
            results["client_cpu"] += cpu
        for child in children:
            child.join()
        results["elapsed"] = time.monotonic() - started
    return results


def in_process_overhead(world: dict, *, queries: int = 200) -> list[list]:
    """The API's own cost: one anonymous list through Django's handler vs ``recommend()``
    alone, in this process, one request at a time (CPU and wall ms per list)."""
    from django.contrib.auth.models import AnonymousUser
    from django.test import Client, RequestFactory

    from wagtail_neural_feed import recommend

    host = world["site"].hostname
    client = Client(HTTP_HOST=host)

    def ranking_only() -> None:
        request = RequestFactory().get("/", HTTP_HOST=host)
        request.user, request.session = AnonymousUser(), {}
        recommend(request, limit=10)

    def through_api() -> None:
        assert client.get("/neural-feed/recommendations/?limit=10").status_code == 200

    rows = []
    for name, call in (("recommend() alone", ranking_only), ("GET recommendations/", through_api)):
        for _ in range(20):
            call()
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(queries):
            call()
        rows.append(
            [
                name,
                f"{(time.process_time() - cpu) * 1000 / queries:.2f}",
                f"{(time.perf_counter() - wall) * 1000 / queries:.2f}",
            ]
        )
    return rows


def print_profile(folder: str) -> None:
    """The busiest worker's profile: own time and cumulative time, top entries each."""
    import pstats

    dumps = sorted(Path(folder).glob("worker-*.prof"))
    if not dumps:
        print("no worker wrote a profile")
        return
    stats = max((pstats.Stats(str(path)) for path in dumps), key=lambda s: s.total_tt)
    print(f"\nprofile of one worker ({len(dumps)} written), {stats.total_tt:.2f} s profiled")
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--worker-class",
        default="gthread",
        help="gunicorn worker class: gthread (keeps connections alive; a thread waiting for "
        "PostgreSQL or Redis leaves the core to another) or sync",
    )
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument(
        "--client-processes",
        type=int,
        default=2,
        help="processes the clients are spread over (1: every client a thread of one process)",
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the world")
    parser.add_argument(
        "--base",
        help="another checkout (e.g. a git worktree of origin/main): its server runs next to "
        "this tree's on the same world, cases alternate between the two",
    )
    parser.add_argument("--rounds", type=int, default=1, help="runs of each case (per code)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run each worker under cProfile and print where one worker's time went",
    )
    parser.add_argument(
        "--list-cache",
        type=int,
        default=60,
        help="LIST_CACHE_SECONDS in the workers (0: every request ranks its list)",
    )
    parser.add_argument(
        "--cache",
        choices=["redis", "locmem"],
        default="redis",
        help="the workers' cache: redis (shared, REDIS_URL) or locmem (one per worker)",
    )
    parser.add_argument("--case", action="append", default=[], help="only cases containing this")
    args = parser.parse_args()
    os.environ["NEURAL_FEED_BENCH_DB"] = f"{BASE_DB}_{args.size}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.api_settings"
    os.environ["NEURAL_FEED_BENCH_LIST_CACHE"] = str(args.list_cache)
    os.environ["NEURAL_FEED_BENCH_CACHE"] = args.cache
    setup_django("benchmarks.api_settings")
    from django.db import connections

    from benchmarks.ranking import build_world

    world = build_world(args.size, readers=args.readers, rebuild=args.rebuild)
    cases = build_cases(world, random.Random(args.size))
    if args.case:
        cases = {name: r for name, r in cases.items() if any(c in name for c in args.case)}
    connections.close_all()
    profile_dir = tempfile.mkdtemp(prefix="nf-api-profile-") if args.profile else None
    trees = {"this": (ROOT, PORT)}
    if args.base:  # the other checkout's server on the next port, same world and clients
        trees = {"base": (Path(args.base).resolve(), PORT + 1), **trees}
    servers = {
        code: start_server(root, port, args, profile_dir if code == "this" else None)
        for code, (root, port) in trees.items()
    }
    rows = []
    try:
        for _root, port in trees.values():
            wait_for_port(port, timeout=120)
            wait_until_serving(next(iter(cases.values()))[0], port=port, workers=args.workers)
        for name, requests in cases.items():
            for round_ in range(1, args.rounds + 1):
                order = list(trees.items())
                if round_ % 2 == 0:  # ABBA: neither code always runs first
                    order.reverse()
                for code, (_root, port) in order:
                    result = run_case(
                        requests,
                        port=port,
                        clients=args.clients,
                        seconds=args.seconds,
                        processes=max(1, min(args.client_processes, args.clients)),
                    )
                    rows.append(result_row(name, code, round_, result))
    finally:
        for server in servers.values():
            server.terminate()
        for server in servers.values():
            server.wait(timeout=30)
    print_table(
        f"JSON API through gunicorn ({args.workers} {args.worker_class} workers"
        f"{f' x {args.threads} threads' if args.threads > 1 else ''}, {args.clients} keep-alive "
        f"clients in {args.client_processes} processes, {args.seconds:g} s per case, loopback, "
        f"{args.size} pages, LIST_CACHE_SECONDS={args.list_cache} in {args.cache}"
        f"{f'; base = {args.base}' if args.base else ''})",
        [
            "case",
            "code",
            "round",
            "load",
            "requests/s",
            "p50 ms",
            "p95 ms",
            "200 responses",
            "errors",
            "client CPU ms / request",
        ],
        rows,
    )
    if profile_dir:
        print_profile(profile_dir)
        return
    print_table(
        "the API's own cost, in-process, one request at a time (anonymous, limit 10)",
        ["path", "CPU ms / list", "wall ms / list"],
        in_process_overhead(world),
    )


def result_row(name: str, code: str, round_: int, result: dict) -> list:
    latencies = sorted(result["latencies"]) or [0.0]
    answered = max(1, result["ok"] + result["errors"])
    return [
        name,
        code,
        round_,
        f"{os.getloadavg()[0]:.1f}",
        f"{result['ok'] / result['elapsed']:.0f}",
        f"{statistics.median(latencies) * 1000:.1f}",
        f"{latencies[int(0.95 * (len(latencies) - 1))] * 1000:.1f}",
        result["ok"],
        result["errors"],
        f"{result['client_cpu'] * 1000 / answered:.2f}",
    ]


def start_server(root: Path, port: int, args, profile_dir: str | None) -> subprocess.Popen:
    """gunicorn serving the checkout at ``root`` (its code, this world's database)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "benchmarks.api_wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--worker-class",
            args.worker_class,
            "--threads",
            str(args.threads),
            "--keep-alive",
            "5",
            "--log-level",
            "warning",
        ],
        cwd=root,
        env={
            **os.environ,
            "PYTHONPATH": str(root),
            # Another checkout's settings would start a server on its own data directory.
            "NEURAL_FEED_PGDATA": os.environ.get("NEURAL_FEED_PGDATA", str(ROOT / ".pgbench")),
            "NEURAL_FEED_BENCH_CACHE": args.cache,
            "NEURAL_FEED_BENCH_CACHE_PREFIX": f"nf-bench-{port}-{uuid.uuid4().hex[:8]}",
            **({"NEURAL_FEED_PROFILE": profile_dir} if profile_dir else {}),
        },
    )


if __name__ == "__main__":
    main()
