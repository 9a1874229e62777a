"""What a live source is: lines of events in batches, each with the position to resume after it.

Every source of `watch` (the Okta System Log API, a followed file, stdin) implements `LiveSource`, so
the watch loop, its checkpoints and its tests know nothing of HTTP or inodes. A position is plain JSON
data (stored in the checkpoint as it is), and it is the position *after* the batch it comes with: a
restart from it reads the next line, never one already handed over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

Position = dict[str, Any]  # JSON-serialisable; its keys belong to the source that made it


@dataclass(frozen=True)
class LiveBatch:
    """Lines read since the last batch (each one whole event, without its newline; possibly none),
    and where to resume once they are processed."""

    lines: list[bytes]
    position: Position
    #: bytes read from the source for these lines (for throughput figures)
    size: int = 0
    #: notes for the status line and the log (a rotation followed, a retry after a 429, ...)
    notes: list[str] = field(default_factory=list)
    #: lines the source dropped for being longer than its limit, to be counted as bad input (as `run`
    #: counts them): (byte offset in the source, their first bytes)
    too_long: list[tuple[int, bytes]] = field(default_factory=list)


class LiveSource(Protocol):
    """An endless (or, for stdin, ending) source of event lines."""

    #: what the status line and errors call it (`okta:https://org.okta.com`, `file:/var/log/okta.jsonl`)
    name: str

    def open(self, position: Position | None) -> None:
        """Start reading at ``position`` (a batch's position from an earlier run), or where a new
        watch starts when None. A position this source cannot resume from raises `LiveSourceError`."""

    def poll(self, timeout: float) -> LiveBatch | None:
        """What arrived, waiting at most ``timeout`` seconds when nothing has; an empty batch when
        nothing did. None once the source has ended for good (stdin at EOF); an API or a followed
        file never ends."""

    def close(self) -> None:
        """Release what the source holds (files, connections)."""


class LiveSourceError(Exception):
    """A source that cannot go on (bad credentials, a position it cannot resume from); its message
    says what to fix."""
