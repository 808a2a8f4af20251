"""Run the example site's ``manage.py demo`` as a subprocess on a fresh database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import quote

import psycopg
from django.conf import settings

MANAGE = Path(__file__).resolve().parent.parent / "example_site" / "manage.py"


def fresh_database_url() -> str:
    """A new, empty database on the server the tests use."""
    db = settings.DATABASES["default"]
    name = f"example_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(
        dbname="postgres",
        user=db["USER"],
        password=db["PASSWORD"] or None,
        host=db["HOST"],
        port=db["PORT"] or None,
        autocommit=True,
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    auth = f"{quote(db['USER'])}:{quote(db['PASSWORD'] or '')}"
    if db["HOST"].startswith("/"):
        return f"postgresql://{auth}@/{name}?host={quote(db['HOST'])}"
    return f"postgresql://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{name}"


def demo_env(tmp_path: Path, *, encoder: str | None) -> dict[str, str]:
    """The environment of a demo on its own database and media folder."""
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database_url(),
        "EXAMPLE_SITE_MEDIA": str(tmp_path / "media"),
        "DEBUG": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    if encoder:
        env["NEURAL_FEED_ENCODER"] = encoder
    else:
        env.pop("NEURAL_FEED_ENCODER", None)
    return env


def manage(*args: str, env: dict) -> str:
    result = subprocess.run(
        [sys.executable, str(MANAGE), *args], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Demo:
    """``manage.py demo --port N`` in the background, its output in a log file."""

    def __init__(self, env: dict, log: Path, *args: str) -> None:
        self.env = env
        self.log = log
        self.args = args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 600.0) -> float:
        """Start and wait until the home page answers; returns the seconds that took."""
        began = time.monotonic()
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(MANAGE), "demo", "--port", str(self.port), *self.args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        while time.monotonic() - began < timeout:
            assert self.process.poll() is None, f"demo exited early:\n{self.output()}"
            try:
                urllib.request.urlopen(self.url + "/", timeout=5).close()
                return time.monotonic() - began
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.25)
        raise AssertionError(f"demo did not answer within {timeout}s:\n{self.output()}")

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def stop(self) -> int:
        """Ctrl-C, as a person would; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""
