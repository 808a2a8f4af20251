"""Broker faults for tests and ``benchmarks.faults``."""

from __future__ import annotations

import socket
import threading
import time


class SilentBroker:
    """A real listening socket that accepts every connection and never sends a byte.

    Connections are closed after ``hold`` seconds, so code without socket
    timeouts fails the test (slowly) instead of hanging it.
    """

    def __init__(self, hold: float = 10.0) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.hold = hold
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        self.server.settimeout(0.1)
        deadline = time.monotonic() + self.hold
        while time.monotonic() < deadline:
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            self.accepted.append(conn)
        self.close()

    def close(self) -> None:
        for conn in self.accepted:
            conn.close()
        self.server.close()
