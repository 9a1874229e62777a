"""A followed file (`watch --follow PATH`) as a live source: the lines appended to it, across rotations.

PATH is polled (``poll_interval``, no inotify): the open file is read from the first unconsumed byte to
its end, and only whole lines are handed over; a last line without its newline yet is held back until
it is completed. When the open file is at its end, PATH is looked at:

- **rotation by rename** (another file, another inode, is now at PATH): the old file is read to its end
  once more, its unterminated last line (if any) is handed over as it is (the writer has moved on, so
  it will not be completed; the engine counts it if it is not an event), then the new file is read
  from its start. A writer that still appends to the old file after the new one appeared loses those
  lines, as with ``tail -F``;
- **PATH missing** (renamed away, not created again yet): the old file stays open and followed;
- **truncation** (the open file is shorter than what was read: ``copytruncate``, ``> PATH``): reading
  starts again at 0 and a note says so. A file truncated and grown past the offset between two polls
  cannot be told from appends (the same limit as every size-based follower).

The position is ``{source: "file", path, device, inode, offset, head_bytes, head_hash}``: the file's
identity, the offset of its first unconsumed byte, and a hash of its first bytes (up to 1 KiB), which
tells a reused inode or a file truncated and rewritten while watch was stopped from the file it was.
Resuming:

- the file at PATH is the one of the position (identity and head): read on from the offset (from 0,
  with a note, when it is now shorter than the offset);
- another file is at PATH: the position's file is looked for among PATH's siblings (``app.log.1``,
  the usual renamed rotation); found, it is finished from the offset, then PATH is read from 0. Not
  found (deleted, compressed, moved elsewhere): PATH is read from 0 and a note says what may be lost;
- PATH is missing, as when watch starts before its file exists: the source waits for it, with a note.

A new watch (no position) reads PATH from its start. A line longer than ``max_line_bytes`` is skipped
to its newline with a note (memory stays bounded by that limit).
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

from sigma.backends.okta.engine.sources import DEFAULT_MAX_LINE_BYTES
from sigma.backends.okta.live.line_buffer import LineBuffer
from sigma.backends.okta.live.source import LiveBatch, LiveSourceError, Position

SOURCE_KIND = "file"
DEFAULT_POLL_INTERVAL = 0.25
DEFAULT_READ_BYTES = 1 << 20
HEAD_BYTES = 1024


class FollowedFile:
    """The lines appended to ``path``, followed across rotations by rename and by truncation."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        read_bytes: int = DEFAULT_READ_BYTES,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = Path(os.path.abspath(path))
        self.name = f"{SOURCE_KIND}:{self.path}"
        self._poll_interval = poll_interval
        self._read_bytes = read_bytes
        self._max_line_bytes = max_line_bytes
        self._clock = clock
        self._sleep = sleep
        self._fd: int | None = None
        self._identity: tuple[int, int] | None = None  # (device, inode) of the open file
        self._start = 0  # where reading of the open file began; _offset counts on from there
        self._read_to = 0  # first byte not read; [offset, read_to) is the held-back partial line
        self._lines = LineBuffer(max_line_bytes)
        self._too_long: list[tuple[int, bytes]] = []  # dropped lines of files already left
        self._head: tuple[int, str] = (0, _hash(b""))
        self._notes: list[str] = []
        self._waiting_noted = False
        self._opened = False

    # -- LiveSource -----------------------------------------------------------------------------

    def open(self, position: Position | None) -> None:
        self._opened = True
        if position is not None:
            self._check_position(position)
        if position is None or position.get("inode") is None:
            self._open_path_from_start()
            return
        identity = (int(position["device"]), int(position["inode"]))
        head = (int(position.get("head_bytes", 0)), str(position.get("head_hash", _hash(b""))))
        offset = int(position["offset"])
        current = _stat_or_none(self.path)
        if (
            current is not None
            and _identity(current) == identity
            and self._open_if_same(self.path, head, offset)
        ):
            return
        sibling = self._find_sibling(identity, head)
        if sibling is not None and self._open_if_same(sibling, head, offset):
            self._notes.append(
                f"{self.path} was rotated while watch was stopped: finishing {sibling.name} from byte "
                f"{self._offset}, then {self.path.name} from its start"
            )
            return
        self._notes.append(
            f"the file of the saved position (inode {identity[1]}, byte {offset}) is neither at "
            f"{self.path} (another file, or the same one rewritten) nor among its siblings (deleted, "
            f"compressed or moved): reading {self.path} from its start; lines the old file got after "
            "the saved position are not read"
        )
        self._open_path_from_start()

    def poll(self, timeout: float) -> LiveBatch:
        if not self._opened:
            raise LiveSourceError("poll() before open()")
        deadline = self._clock() + max(timeout, 0.0)
        lines: list[bytes] = []
        size = 0
        while True:
            if self._fd is None:
                self._open_path_from_start()
            if self._fd is not None:
                read_lines, read_size = self._read_available()
                lines += read_lines
                size += read_size
                if read_size == 0:
                    switched = self._follow_rotation_or_truncation()
                    if switched is not None:
                        lines += switched
                        continue  # read the new file at once
                elif not lines:
                    continue  # only part of a line so far: read on before waiting
                if lines:
                    return self._batch(lines, size)
            remaining = deadline - self._clock()
            if remaining <= 0:
                return self._batch(lines, size)
            self._sleep(min(self._poll_interval, remaining))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # -- reading --------------------------------------------------------------------------------

    @property
    def _offset(self) -> int:
        """The first byte not handed over."""
        return self._start + self._lines.consumed

    def _read_available(self) -> tuple[list[bytes], int]:
        """Whole lines from one read at the end of what was read (none at the file's end)."""
        assert self._fd is not None
        data = os.pread(self._fd, self._read_bytes, self._read_to)
        if not data:
            return [], 0
        self._read_to += len(data)
        lines = self._lines.feed(data)
        self._take_dropped()
        self._update_head()  # a no-op once the head is whole
        return lines, len(data)

    def _take_dropped(self) -> None:
        for at, head in self._lines.take_dropped():
            at += self._start
            self._too_long.append((at, head))
            self._notes.append(f"a line at byte {at} is longer than {self._max_line_bytes} bytes: skipped")

    def _follow_rotation_or_truncation(self) -> list[bytes] | None:
        """At the open file's end: the last lines of a rotated file before switching to PATH's new file,
        [] after a truncation (read again from 0), or None when nothing changed."""
        assert self._fd is not None
        current = _stat_or_none(self.path)
        if current is not None and _identity(current) != self._identity and stat.S_ISREG(current.st_mode):
            lines = self._finish_file()
            old_inode = self._identity[1] if self._identity else None
            self.close()
            self._notes.append(
                f"{self.path} was rotated: finished the old file (inode {old_inode}), now reading the "
                f"new one (inode {current.st_ino}) from its start"
            )
            self._open_path_from_start()
            return lines
        size = os.fstat(self._fd).st_size
        if size < self._read_to:
            lines = self._take_partial_line("truncated")
            self._notes.append(
                f"{self.path} was truncated (now {size} bytes, {self._read_to} were read): reading it "
                "again from its start"
            )
            self._start = self._read_to = 0
            self._lines.reset()
            self._head = (0, _hash(b""))
            return lines
        return None

    def _finish_file(self) -> list[bytes]:
        lines: list[bytes] = []
        while True:
            read_lines, read_size = self._read_available()
            lines += read_lines
            if read_size == 0:
                return lines + self._take_partial_line("rotated")

    def _take_partial_line(self, why: str) -> list[bytes]:
        """The held-back unterminated line of a file that will not grow any more, as a line."""
        line = self._lines.take_partial()
        if line is None:
            return []
        self._notes.append(
            f"the {why} file ended inside a line ({len(line)} bytes without a newline): handed over as it is"
        )
        return [line]

    # -- opening --------------------------------------------------------------------------------

    def _open_path_from_start(self) -> None:
        self._fd = None
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            if not self._waiting_noted:
                self._notes.append(f"waiting for {self.path} to appear")
                self._waiting_noted = True
            return
        except OSError as error:
            raise LiveSourceError(f"cannot read it ({error.strerror})") from None
        self._adopt(fd, 0)
        self._waiting_noted = False

    def _open_if_same(self, path: Path, head: tuple[int, str], offset: int) -> bool:
        """Open ``path`` (the position's inode) at ``offset``: from 0 when it is now shorter (truncated
        while stopped); False when its first bytes are not those of the position's file."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return False
        size = os.fstat(fd).st_size
        if size < offset:
            self._notes.append(
                f"{path} is shorter ({size} bytes) than the saved position ({offset}): truncated while "
                "watch was stopped; reading it from its start"
            )
            offset = 0
        elif _hash(os.pread(fd, head[0], 0)) != head[1]:
            os.close(fd)
            return False
        self._adopt(fd, offset)
        return True

    def _adopt(self, fd: int, offset: int) -> None:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            os.close(fd)
            raise LiveSourceError("not a regular file (a pipe or a device cannot be followed; use stdin)")
        self._fd = fd
        self._identity = _identity(status)
        self._start = self._read_to = offset
        self._lines.reset()
        self._head = (0, _hash(b""))
        self._update_head()

    def _update_head(self) -> None:
        """Hash the file's first bytes (up to HEAD_BYTES of what was handed over) for the position."""
        assert self._fd is not None
        length = min(self._offset, HEAD_BYTES)
        if length != self._head[0]:
            self._head = (length, _hash(os.pread(self._fd, length, 0)))

    def _find_sibling(self, identity: tuple[int, int], head: tuple[int, str]) -> Path | None:
        try:
            entries = list(os.scandir(self.path.parent))
        except OSError:
            return None
        for entry in entries:
            try:
                status = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if _identity(status) == identity and stat.S_ISREG(status.st_mode):
                return Path(entry.path)
        return None

    def _check_position(self, position: Position) -> None:
        if position.get("source") != SOURCE_KIND:
            raise LiveSourceError(
                f"the saved position is not one of a followed file ({position}); use "
                "another --state file for this source"
            )
        if position.get("path") != str(self.path):
            raise LiveSourceError(
                f"the saved position is for {position.get('path')}; use another --state file"
            )

    def _batch(self, lines: list[bytes], size: int) -> LiveBatch:
        notes, self._notes = self._notes, []
        identity = self._identity if self._fd is not None else None
        position = {
            "source": SOURCE_KIND,
            "path": str(self.path),
            "device": identity[0] if identity else None,
            "inode": identity[1] if identity else None,
            "offset": self._offset if identity else 0,
            "head_bytes": self._head[0] if identity else 0,
            "head_hash": self._head[1] if identity else _hash(b""),
        }
        too_long, self._too_long = self._too_long, []
        return LiveBatch(lines, position, size, notes, too_long)


def _stat_or_none(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _identity(status: os.stat_result) -> tuple[int, int]:
    return (status.st_dev, status.st_ino)


def _hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


__all__ = ["FollowedFile"]
