"""A one-line progress bar for terminals (stderr), used by ``grokviz train`` and sweeps."""

from __future__ import annotations

import math
import sys
import time


def format_duration(seconds: float | None) -> str:
    """``mm:ss`` or ``h:mm:ss``; "—" when unknown (None or not finite)."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    seconds = int(round(max(seconds, 0)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class ProgressBar:
    """Redraws at most ``rate`` times per second; plain lines when stderr is not a terminal."""

    def __init__(self, total: int, stream=None, width: int = 24, rate: float = 5.0):
        self.total, self.width = max(int(total), 1), width
        self.stream = stream or sys.stderr
        self.interval = 1.0 / rate
        self.last_draw = 0.0
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        if not self.tty:
            self.interval = 10.0

    def update(self, done: int, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_draw < self.interval:
            return
        self.last_draw = now
        fraction = min(max(done / self.total, 0.0), 1.0)
        filled = int(fraction * self.width)
        bar = "█" * filled + "·" * (self.width - filled)
        line = f"{fraction * 100:5.1f}% |{bar}| {text}"
        if self.tty:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def log(message: str) -> None:
    """One status line on stderr, flushed at once (the benchmarks' progress)."""
    print(message, file=sys.stderr, flush=True)
