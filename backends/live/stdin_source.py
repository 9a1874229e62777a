"""Standard input (or any binary stream) as a live source: its lines until EOF, then the end.

Whole lines only: a line is handed over once its newline has arrived, and the last line at EOF
without one. Waiting is ``select`` on the stream's descriptor (so a poll returns after its timeout on a
quiet pipe); a stream without one (``io.BytesIO`` in tests) is read directly. A line longer than
``max_line_bytes`` is skipped to its newline with a note.

Stdin cannot be replayed: its position only counts the bytes consumed. Resuming from a saved stdin
position is accepted (the checkpointed windows and delivered alerts survive) with a note, but what was
piped before the restart is gone: exactly-once delivery across restarts needs the Okta API source or a
followed file, whose positions can be read again.
"""

from __future__ import annotations

import io
import select
import sys
import time
from typing import BinaryIO

from sigma.backends.okta.engine.sources import DEFAULT_MAX_LINE_BYTES
from sigma.backends.okta.live.line_buffer import LineBuffer
from sigma.backends.okta.live.source import LiveBatch, LiveSourceError, Position

SOURCE_KIND = "stdin"
DEFAULT_READ_BYTES = 1 << 20


class StdinSource:
    """Lines of ``stream`` (default ``sys.stdin.buffer``) until its end."""

    name = "stdin"

    def __init__(
        self,
        stream: BinaryIO | None = None,
        *,
        read_bytes: int = DEFAULT_READ_BYTES,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> None:
        self._stream = stream
        self._read_bytes = read_bytes
        self._max_line_bytes = max_line_bytes
        self._lines = LineBuffer(max_line_bytes)
        self._ended = False
        self._notes: list[str] = []
        self._fileno: int | None = None

    def open(self, position: Position | None) -> None:
        if self._stream is None:
            self._stream = sys.stdin.buffer
        try:
            self._fileno = self._stream.fileno()
        except (OSError, io.UnsupportedOperation):
            self._fileno = None
        if position is None:
            return
        if position.get("source") != SOURCE_KIND:
            raise LiveSourceError(
                f"the saved position is not one of stdin ({position}); use another --state file"
            )
        self._notes.append(
            "stdin cannot be replayed: resuming with the saved state, reading what is piped from now on "
            "(what was piped before the restart and not yet processed is not read again)"
        )

    def poll(self, timeout: float) -> LiveBatch | None:
        if self._ended:
            return None
        lines: list[bytes] = []
        size = 0
        deadline = time.monotonic() + timeout
        while not lines:
            if not self._readable(deadline - time.monotonic()):
                break
            data = self._read()
            size += len(data)
            if not data:
                self._ended = True
                last = self._lines.take_partial()
                if last is not None:
                    lines.append(last)
                break
            lines += self._lines.feed(data)
        # bytes handed over (or dropped) since this process started
        position = {"source": SOURCE_KIND, "bytes": self._lines.consumed}
        too_long = self._lines.take_dropped()
        for _ in too_long:
            self._notes.append(f"a line longer than {self._max_line_bytes} bytes: skipped")
        return LiveBatch(lines, position, size, self._take_notes(), too_long)

    def close(self) -> None:
        """Nothing to release: stdin belongs to the process."""

    # -- reading --------------------------------------------------------------------------------

    def _readable(self, timeout: float) -> bool:
        if self._fileno is None:
            return True
        try:
            ready, _, _ = select.select([self._fileno], [], [], max(timeout, 0.0))
        except (OSError, ValueError):
            return True  # not selectable (a regular file on some systems): reads do not block long
        return bool(ready)

    def _read(self) -> bytes:
        assert self._stream is not None
        read_some = getattr(self._stream, "read1", self._stream.read)  # read1: no waiting for more
        return read_some(self._read_bytes) or b""

    def _take_notes(self) -> list[str]:
        notes, self._notes = self._notes, []
        return notes


__all__ = ["StdinSource"]
