"""Bytes as they arrive, cut into whole lines: what the followed-file and stdin sources share.

The part after the last newline waits for the rest of its line. A line longer than ``max_line_bytes``
is dropped up to its newline and kept in :attr:`LineBuffer.dropped` as (where it starts, in the same
count as :attr:`LineBuffer.consumed`; its first bytes), so that the source can hand it on to be
counted as bad input.
"""

from __future__ import annotations

EXCERPT_BYTES = 200  # the first bytes of a dropped line that are kept, for the input report


class LineBuffer:
    def __init__(self, max_line_bytes: int) -> None:
        self.max_line_bytes = max_line_bytes
        self.dropped: list[tuple[int, bytes]] = []  # lines over the limit: (where, first bytes)
        self.pending = bytearray()  # the held-back start of a line
        self.skipping = False  # inside a line over max_line_bytes, dropping up to its newline
        self.consumed = 0  # bytes handed over as lines (newlines included) or dropped

    def feed(self, data: bytes) -> list[bytes]:
        """The lines that ``data`` completes, without their newlines."""
        start = 0
        if self.skipping:
            newline = data.find(b"\n")
            if newline < 0:
                self.consumed += len(data)
                return []
            self.skipping = False
            self.consumed += newline + 1
            start = newline + 1
        last_newline = data.rfind(b"\n", start)
        if last_newline < 0:
            self.pending += data[start:]
            self._drop_if_too_long()
            return []
        complete = bytes(self.pending) + data[start:last_newline]
        first_at = self.consumed
        self.pending = bytearray(data[last_newline + 1 :])
        self.consumed += len(complete) + 1
        lines = complete.split(b"\n")
        if len(lines[0]) > self.max_line_bytes:  # a held-back line completed over the limit
            self.dropped.append((first_at, lines[0][:EXCERPT_BYTES]))
            lines = lines[1:]
        self._drop_if_too_long()
        return lines

    def take_partial(self) -> bytes | None:
        """The held-back unterminated line, as a line of its own: the input will not grow any more."""
        if not self.pending:
            return None
        line = bytes(self.pending)
        self.consumed += len(line)
        self.pending.clear()
        return line

    def take_dropped(self) -> list[tuple[int, bytes]]:
        dropped, self.dropped = self.dropped, []
        return dropped

    def reset(self) -> None:
        """Start again on other bytes (another file, or the same one from its start)."""
        self.pending.clear()
        self.skipping = False
        self.consumed = 0

    def _drop_if_too_long(self) -> None:
        if len(self.pending) > self.max_line_bytes:
            self.dropped.append((self.consumed, bytes(self.pending[:EXCERPT_BYTES])))
            self.consumed += len(self.pending)
            self.pending.clear()
            self.skipping = True


__all__ = ["LineBuffer"]
