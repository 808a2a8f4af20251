"""Beacon ingest through a real WSGI server: requests/s, errors and lost rows.

    python -m benchmarks.ingest --seconds 15 --clients 8 --workers 2

Starts gunicorn on loopback serving the interaction endpoint (its own
database, hashing encoder, profile updates queued to Redis), then N client
threads with keep-alive connections POST view/dwell beacons from 500
visitors for a fixed time. Every 201 must be one stored row.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid

from benchmarks.common import ROOT, print_table, setup_django

PORT = 8765


def prepare_page() -> tuple[int, str]:
    """A published, embedded article in the ingest database; returns (page id, token)."""
    from wagtail.models import Page, Site

    from tests.factories import ArticlePageFactory, HomePageFactory
    from tests.helpers import publish
    from wagtail_neural_feed.models import Interaction, Reader
    from wagtail_neural_feed.tracking import page_token

    Interaction.objects.all().delete()
    Reader.objects.all().delete()
    home = Page.objects.filter(slug="ingest-home").first()
    if home is None:
        home = HomePageFactory(
            parent=Page.get_first_root_node(), title="Ingest", slug="ingest-home"
        )
        Site.objects.update_or_create(
            is_default_site=True, defaults={"root_page": home, "hostname": "localhost"}
        )
        article = ArticlePageFactory.build(title="Beacon target", live=False)
        home.add_child(instance=article)
        publish(article)
    article = home.get_children().first()
    return article.pk, page_token(article.pk)


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def build_requests(page_id: int, token: str, visitors: list[str]) -> list[bytes]:
    """Ready-made HTTP/1.1 requests, so the load generator spends its time on the wire."""
    requests = []
    for visitor in visitors:
        for kind, value in (("view", None), ("dwell", 30)):
            body = json.dumps({"page": page_id, "kind": kind, "value": value, "token": token})
            head = (
                "POST /neural-feed/interactions/ HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{PORT}\r\n"
                "Content-Type: text/plain\r\n"
                f"Cookie: nf_visitor={visitor}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            requests.append((head + body).encode())
    return requests


def read_answer(sock: socket.socket, buffer: bytes) -> tuple[int, bytes, bool]:
    """One HTTP response from ``sock``: (status, leftover bytes, whether the server keeps
    the connection open). gunicorn's sync workers answer ``Connection: close``: the client
    then reconnects at once instead of finding out with its next request."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length, keep = 0, True
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            keep = False
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        rest += chunk
    return status, rest[length:], keep


def read_response(sock: socket.socket, buffer: bytes) -> tuple[int, bytes]:
    """Read one HTTP response (status, leftover bytes) from a keep-alive socket."""
    status, rest, _ = read_answer(sock, buffer)
    return status, rest


def client(requests: list[bytes], stop: float, results: dict) -> None:
    ok = errors = 0
    rng = random.Random()
    sock, buffer = None, b""
    while time.monotonic() < stop:
        request = rng.choice(requests)
        for attempt in (1, 2):
            fresh = sock is None
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", PORT), timeout=10)
                    buffer = b""
                sock.sendall(request)
                status, buffer = read_response(sock, buffer)
            except OSError:
                if sock is not None:
                    sock.close()
                sock = None
                if fresh or attempt == 2:
                    errors += 1
                    break
                continue  # the server closed an idle keep-alive connection: reconnect
            if status == 201:
                ok += 1
            else:
                errors += 1
            break
    if sock is not None:
        sock.close()
    with results["lock"]:
        results["ok"] += ok
        results["errors"] += errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.ingest_settings"
    setup_django("benchmarks.ingest_settings")
    page_id, token = prepare_page()
    from django.db import connections

    connections.close_all()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "benchmarks.ingest_wsgi:application",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            str(args.workers),
            "--worker-class",
            "sync",
            "--keep-alive",
            "5",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        wait_for_port(PORT)
        visitors = [str(uuid.uuid4()) for _ in range(500)]
        requests = build_requests(page_id, token, visitors)
        results = {"ok": 0, "errors": 0, "lock": threading.Lock()}
        # Warm up every worker (imports, connections) before measuring.
        warm = time.monotonic() + 2
        client(requests, warm, {"ok": 0, "errors": 0, "lock": threading.Lock()})
        from wagtail_neural_feed.models import Interaction

        before = Interaction.objects.count()
        stop = time.monotonic() + args.seconds
        started = time.monotonic()
        threads = [
            threading.Thread(target=client, args=(requests, stop, results))
            for _ in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        stored = Interaction.objects.count() - before
    finally:
        server.terminate()
        server.wait(timeout=30)
    import redis
    from django.conf import settings

    redis.Redis.from_url(settings.INGEST_BROKER).flushdb()  # the queued profile updates
    print_table(
        f"beacon ingest through gunicorn ({args.workers} workers x {args.threads} threads, "
        f"{args.clients} "
        f"keep-alive clients, {args.seconds:g} s, loopback)",
        ["requests/s", "201 responses", "errors", "rows stored", "lost rows"],
        [
            [
                f"{results['ok'] / elapsed:.0f}",
                results["ok"],
                results["errors"],
                stored,
                results["ok"] - stored,
            ]
        ],
    )


if __name__ == "__main__":
    main()
