"""A one-line progress bar on stderr while `run` reads large inputs: share done, bytes, rate, time left.

Shown on a terminal only (``--progress`` forces it, ``--quiet`` turns it off). The engine calls it with
the bytes read so far, per chunk and from every worker; it redraws at most a few times a second and
clears its line when done, so the summary and warnings that follow start on a clean line.
"""

from __future__ import annotations

import time
from typing import TextIO

from ..engine.sources import Source

REDRAW_INTERVAL = 0.2  # seconds
QUIET_START = 1.0  # seconds: a run that ends sooner draws nothing
_WIDTH = 24
_CLEAR = "\r\x1b[K"


def known_total(sources: list[Source]) -> int | None:
    """The bytes a run will read, when the sizes say so: not for stdin, nor for gzip (its size is not
    the size of what is read)."""
    total = 0
    for source in sources:
        if source.path is None or source.compressed:
            return None
        try:
            total += source.path.stat().st_size
        except OSError:
            return None
    return total


class ProgressBar:
    """Call it with the bytes read so far; ``close`` it at the end. ``delay``: seconds before the first
    drawing."""

    def __init__(self, stream: TextIO, total: int | None, delay: float = QUIET_START, clock=time.monotonic):
        self.stream = stream
        self.total = total
        self.clock = clock
        self.started = clock()
        self.next_draw = self.started + delay
        self.drawn = False

    def __call__(self, bytes_read: int) -> None:
        now = self.clock()
        if now < self.next_draw:
            return
        self.next_draw = now + REDRAW_INTERVAL
        self.drawn_at = now
        self.stream.write(_CLEAR + self.line(bytes_read, now - self.started))
        self.stream.flush()
        self.drawn = True

    def line(self, bytes_read: int, seconds: float) -> str:
        rate = bytes_read / seconds if seconds > 0 else 0.0
        speed = f"{_size(rate)}/s"
        if not self.total:
            return f"reading: {_size(bytes_read)}  {speed}"
        share = min(bytes_read / self.total, 1.0)
        filled = round(share * _WIDTH)
        left = (self.total - bytes_read) / rate if rate > 0 else None
        eta = f"  {_duration(left)} left" if left is not None and share < 1 else ""
        bar = "#" * filled + "." * (_WIDTH - filled)
        return f"[{bar}] {share:4.0%}  {_size(bytes_read)} of {_size(self.total)}  {speed}{eta}"

    def close(self) -> None:
        if self.drawn:
            self.stream.write(_CLEAR)
            self.stream.flush()


def _size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


def _duration(seconds: float) -> str:
    minutes, second = divmod(int(seconds + 0.5), 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours}:{minute:02d}:{second:02d}" if hours else f"{minute}:{second:02d}"
