"""A one-line progress bar for the demo's first-run work (no dependency)."""

from __future__ import annotations

import time
from typing import TextIO


class ProgressBar:
    """Call with ``(done, total)``; redraws in place on a terminal, prints once elsewhere."""

    def __init__(self, stream: TextIO, label: str, width: int = 30) -> None:
        self.stream = stream
        self.label = label
        self.width = width
        self.started = time.monotonic()
        self.tty = getattr(stream, "isatty", lambda: False)()

    def __call__(self, done: int, total: int) -> None:
        if not self.tty and done < total:
            return
        filled = int(self.width * done / total) if total else self.width
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = time.monotonic() - self.started
        line = f"  {self.label:<22} [{bar}] {done}/{total} {elapsed:5.1f}s"
        self.stream.write(("\r" if self.tty else "") + line + ("\n" if done >= total else ""))
        self.stream.flush()
