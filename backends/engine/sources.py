"""Where events come from: the sources of a run, their format, and their bytes in chunks of whole lines.

- :func:`expand_sources` turns command-line paths (files, folders, ``-``) into :class:`Source` objects.
- :func:`sniff_format` tells NDJSON (one event per line, the fast path) from a JSON document (the Okta
  API's page format, an array of events, or pretty-printed / concatenated objects).
- :func:`split_ranges` and :func:`iter_chunks` read NDJSON: byte ranges for parallel workers, and for each
  range chunks of whole lines (``os.pread`` of exactly the chunk, so its bytes are copied once).
- JSON documents are decoded element by element in :mod:`.documents`.

Regular files are read by offset; gzip files, stdin and other streams (pipes, ``/dev/fd/N``) are read
sequentially, give line numbers while reading (``Chunk.first_line``), and are transparently gunzipped when
they start with the gzip magic bytes. Read failures are counted as ``UNREADABLE_SOURCE``, never raised.

Side effect to know: the first :func:`iter_chunks` call in a process tunes glibc's malloc thresholds so
that freed chunk buffers are reused (see :func:`_reuse_freed_chunk_memory`; ~5x faster reads).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import stat
import sys
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import chain
from pathlib import Path
from typing import BinaryIO

from sigma.backends.okta.engine.decoding import BOM, JSON_WHITESPACE, decode_line
from sigma.backends.okta.engine.input_report import EXCERPT_BYTES, InputReport, Reason

STDIN_NAME = "<stdin>"
EVENT_SUFFIXES = (".json", ".jsonl", ".ndjson", ".log", ".txt")
DEFAULT_CHUNK_SIZE = 8 << 20
DEFAULT_MAX_LINE_BYTES = 16 << 20
DEFAULT_MIN_PART_BYTES = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"

_PROBE_BYTES = 64 << 10  # first look for a chunk's last newline: lines are ~2 KB
_SCAN_LIMIT_BYTES = 4 << 20  # the largest block read while skipping an overlong line
_COMPRESSED_BLOCK_BYTES = 1 << 20
_SNIFF_LIMIT_BYTES = 1 << 20
READ_ERRORS = (OSError, EOFError, zlib.error)
_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters
_M_MMAP_THRESHOLD = -3


class SourceError(Exception):
    """A path given on the command line does not exist."""


@dataclass(frozen=True)
class Source:
    """One input: ``path`` is None for stdin; ``compressed`` for gzip (by suffix or magic bytes)."""

    name: str
    path: Path | None
    compressed: bool

    @property
    def is_stdin(self) -> bool:
        return self.path is None


class Format(StrEnum):
    NDJSON = "ndjson"
    DOCUMENT = "document"


@dataclass(frozen=True, slots=True)
class Chunk:
    """Whole lines of a source: ``data`` starts at byte ``offset`` of the (decompressed) source and ends
    right after a newline, except the source's final chunk. ``first_line`` is the 1-based line number of
    ``data[0]`` where it is free to know (sequential sources), else None."""

    data: bytes
    offset: int
    first_line: int | None = None


# -- expanding paths -------------------------------------------------------------------------------


def expand_sources(paths: Sequence[str]) -> list[Source]:
    """Sources for command-line paths: ``-`` is stdin, a folder gives its event files (recursively,
    sorted, hidden entries skipped), a file is taken whatever its name. A file reached twice is read once.

    Raises :class:`SourceError` naming a path that does not exist. Unreadable files and folders are
    returned anyway: reading them counts ``UNREADABLE_SOURCE`` and the run goes on.
    """
    sources: list[Source] = []
    seen: set[str] = set()
    for given in paths:
        for source in _expand_path(given):
            identity = STDIN_NAME if source.path is None else os.path.realpath(source.path)
            if identity not in seen:
                seen.add(identity)
                sources.append(source)
    return sources


def _expand_path(given: str) -> list[Source]:
    if given == "-":
        return [Source(STDIN_NAME, None, False)]
    path = Path(given)
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise SourceError(f"{given}: no such file or directory") from None
    except OSError:
        return [_file_source(path)]  # exists but cannot be inspected: counted when read
    if stat.S_ISDIR(mode):
        return [_file_source(found) for found in _event_files_under(path)]
    return [_file_source(path)]


def _file_source(path: Path) -> Source:
    return Source(str(path), path, path.name.lower().endswith(".gz") or _starts_with_gzip_magic(path))


def _starts_with_gzip_magic(path: Path) -> bool:
    """Whether a regular file is gzip whatever its name (streams are looked at when read, not here)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as stream:
            return stream.read(len(GZIP_MAGIC)) == GZIP_MAGIC
    except OSError:
        return False


def is_event_file_name(name: str) -> bool:
    lowered = name.lower().removesuffix(".gz")
    return not name.startswith(".") and lowered.endswith(EVENT_SUFFIXES)


def _event_files_under(folder: Path) -> list[Path]:
    found: list[Path] = []
    unreadable: list[Path] = []
    for root, folders, files in os.walk(
        folder, onerror=lambda error: unreadable.append(Path(error.filename))
    ):
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in files:
            candidate = Path(root, name)
            if is_event_file_name(name) and candidate.is_file():
                found.append(candidate)
    # An unreadable folder is returned as a source: reading it then counts it instead of hiding it.
    return sorted(found + unreadable)


# -- format sniffing -------------------------------------------------------------------------------


def sniff_format(source: Source) -> Format:
    """NDJSON or JSON document, from the first bytes.

    ``[`` starts a document; ``{`` starts one when its line is not a complete JSON value (pretty-printed
    or concatenated objects), unless the next line is one (then it is NDJSON with a broken first line).
    Anything else is NDJSON, whose decoder counts what is wrong. A leading BOM is skipped here and
    reported by the reader, once. Nothing is counted here: a source that cannot be read is called NDJSON
    and its reader counts it (once). Stdin's sniffed bytes are pushed back for the reader.
    """
    try:
        head, at_end = _read_head(source)
    except READ_ERRORS:
        return Format.NDJSON
    decided = _format_of_head(head, at_end)
    if decided is None:  # the head ends inside a line over the sniff limit
        blank = not head.removeprefix(BOM).strip(JSON_WHITESPACE)
        decided = Format.NDJSON if blank else Format.DOCUMENT
    return decided


def is_document(source: Source, report: InputReport | None = None) -> bool:
    """True for a JSON-document source (read it with :func:`iter_document_events`), False for NDJSON.
    ``report`` is not used: as with :func:`sniff_format`, failures are counted by the reader."""
    return sniff_format(source) is Format.DOCUMENT


def _format_of_head(head: bytes, at_end: bool) -> Format | None:
    """The format, or None when more bytes are needed to tell."""
    start = _skip_blank(head, len(BOM) if head.startswith(BOM) else 0)
    if start == len(head):
        return Format.NDJSON if at_end else None
    if head[start] == ord("["):
        return Format.DOCUMENT
    if head[start] != ord("{"):
        return Format.NDJSON
    first_line = _line_at(head, start, at_end)
    if first_line is None:
        return None
    if _is_complete_value(first_line):
        return Format.NDJSON
    following = _skip_blank(head, start + len(first_line))
    if following == len(head):
        return Format.DOCUMENT if at_end else None
    second_line = _line_at(head, following, at_end)
    if second_line is None:
        return None
    return Format.NDJSON if _is_complete_value(second_line) else Format.DOCUMENT


def _skip_blank(data: bytes, position: int) -> int:
    length = len(data)
    while position < length and data[position] in JSON_WHITESPACE:
        position += 1
    return position


def _line_at(data: bytes, start: int, at_end: bool) -> bytes | None:
    newline = data.find(b"\n", start)
    if newline < 0:
        return data[start:] if at_end else None
    return data[start:newline]


def _is_complete_value(line: bytes) -> bool:
    event, reason = decode_line(line)
    return event is not None or reason is Reason.NOT_AN_OBJECT


def _read_head(source: Source) -> tuple[bytes, bool]:
    """The first (decompressed) bytes, enough to sniff; whether they are the whole source."""
    if _is_stream(source):
        return _read_stream_head(source)
    head = bytearray()
    blocks = decoded_blocks(source, _PROBE_BYTES)
    try:
        for block in blocks:
            head += block
            if len(head) >= _SNIFF_LIMIT_BYTES or _format_of_head(bytes(head), False) is not None:
                return bytes(head), False
    finally:
        blocks.close()
    return bytes(head), True


# Streams (stdin, pipes such as `<(zcat x.gz)`) cannot be read twice: the bytes that sniffing consumed
# are kept here, with the open stream, for the reader.
_sniffed_streams: dict[str, tuple[BinaryIO, bytes]] = {}


def _is_stream(source: Source) -> bool:
    if source.path is None:
        return True
    try:
        mode = os.stat(source.path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _open_stream(source: Source) -> tuple[BinaryIO, bytes]:
    """The source's stream, and the bytes sniffing already took from it."""
    stream, consumed = _sniffed_streams.pop(source.name, (None, b""))
    if source.path is None:
        current = sys.stdin.buffer
        return current, consumed if stream is current else b""  # stdin may have been replaced (tests)
    if stream is None:
        stream = open(source.path, "rb")  # noqa: SIM115 (closed by the reader)
    return stream, consumed


def _read_stream_head(source: Source) -> tuple[bytes, bool]:
    stream, consumed = _open_stream(source)
    raw = bytearray(consumed)
    read_some = getattr(stream, "read1", stream.read)  # read1: what is available, without waiting
    at_end = False
    while True:
        head = _gunzip_prefix(bytes(raw)) if raw.startswith(GZIP_MAGIC) else bytes(raw)
        if at_end or len(raw) >= _SNIFF_LIMIT_BYTES or _format_of_head(head, False) is not None:
            break
        block = read_some(_PROBE_BYTES)
        at_end = not block
        raw += block
    _sniffed_streams[source.name] = (stream, bytes(raw))
    return head, at_end


def _gunzip_prefix(raw: bytes) -> bytes:
    """As much of a (possibly incomplete) gzip stream as decompresses; errors surface when reading."""
    try:
        return zlib.decompressobj(wbits=31).decompress(raw, _SNIFF_LIMIT_BYTES)
    except zlib.error:
        return b""


# -- byte streams ----------------------------------------------------------------------------------


def _reads_by_offset(source: Source) -> bool:
    """Uncompressed files are read by offset, in ranges; so are vanished ones (the first range's reader
    counts them once). Compressed sources, stdin, pipes and devices are read front to back."""
    if source.compressed or source.path is None:
        return False
    try:
        return stat.S_ISREG(os.stat(source.path).st_mode)
    except OSError:
        return True


def _raw_blocks(source: Source, block_size: int) -> Iterator[bytes]:
    """The source's bytes as stored, in blocks of at most ``block_size``."""
    if not _is_stream(source):
        assert source.path is not None
        with open(source.path, "rb") as stream:
            while block := stream.read(block_size):
                yield block
        return
    stream, consumed = _open_stream(source)
    try:
        for start in range(0, len(consumed), block_size):
            yield consumed[start : start + block_size]
        while block := stream.read(block_size):
            yield block
    finally:
        if source.path is not None:
            stream.close()


def decoded_blocks(source: Source, block_size: int) -> Iterator[bytes]:
    """The source's bytes, gunzipped when compressed, in blocks of at most ``block_size``."""
    if source.compressed:
        yield from _gunzip(_raw_blocks(source, _COMPRESSED_BLOCK_BYTES), block_size)
        return
    raw = _raw_blocks(source, block_size)
    first = next(raw, b"")
    if first.startswith(GZIP_MAGIC) and _is_stream(source):  # gzip on stdin or a pipe
        yield from _gunzip(chain([first], raw), block_size)
        return
    if first:
        yield first
    yield from raw


def _gunzip(raw_blocks: Iterator[bytes], block_size: int) -> Iterator[bytes]:
    """Decompress gzip (several members allowed), yielding at most ``block_size`` bytes at a time.

    Raises EOFError for a truncated stream and zlib.error for a corrupt one, after yielding everything
    that decompressed before the damage.
    """
    decompressor = zlib.decompressobj(wbits=31)
    member_started = False
    for block in raw_blocks:
        data = block
        while data:
            if decompressor.eof:
                if not data.strip(b"\0"):
                    break  # zero padding after the last member, which gzip(1) accepts
                decompressor = zlib.decompressobj(wbits=31)
            member_started = True
            output = decompressor.decompress(data, block_size)
            if output:
                yield output
            data = decompressor.unused_data if decompressor.eof else decompressor.unconsumed_tail
    if not member_started:
        return
    # With bounded output, zlib can still hold a little output once all the input is consumed.
    rest = b"" if decompressor.eof else decompressor.flush()
    for start in range(0, len(rest), block_size):
        yield rest[start : start + block_size]
    if not decompressor.eof:
        raise EOFError("compressed file ended before the end-of-stream marker was reached")


def describe_error(error: BaseException) -> bytes:
    return f"{type(error).__name__}: {error}".encode()


# -- NDJSON: ranges and chunks ---------------------------------------------------------------------


def split_ranges(
    source: Source, parts: int, *, min_bytes: int = DEFAULT_MIN_PART_BYTES
) -> list[tuple[int, int | None]]:
    """Byte ranges for ``parts`` workers on a regular uncompressed NDJSON file (a worker owns the lines
    that start in its range); ``[(0, None)]`` for a sequential source. Ranges are at least ``min_bytes``
    long, so a file smaller than twice that is not split."""
    if not _reads_by_offset(source):
        return [(0, None)]
    assert source.path is not None
    try:
        size = os.stat(source.path).st_size
    except OSError:
        return [(0, None)]
    parts = max(1, min(parts, size // max(1, min_bytes)))
    return [(size * index // parts, size * (index + 1) // parts) for index in range(parts)]


def iter_chunks(
    source: Source,
    report: InputReport,
    *,
    start: int = 0,
    end: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[Chunk]:
    """Chunks of whole lines of an NDJSON source, for the lines that start in ``[start, end)``.

    A line (with its newline) longer than ``max_line_bytes`` is skipped without being buffered and counted
    as ``LINE_TOO_LONG``. Sequential sources (gzip, stdin, pipes) take no range. ``report.bytes_read``
    grows by the bytes gone through (chunks and skipped lines; decompressed bytes for gzip).
    """
    if chunk_size < 1 or max_line_bytes < 1:
        raise ValueError("chunk_size and max_line_bytes must be positive")
    window = min(chunk_size, max_line_bytes)
    _reuse_freed_chunk_memory()
    if _reads_by_offset(source):
        yield from _FileRangeReader(source, report, window, max_line_bytes).chunks(start, end)
        return
    if start != 0 or end is not None:
        raise ValueError(f"{source.name} is read sequentially: it cannot be split into byte ranges")
    yield from _sequential_chunks(source, report, window, max_line_bytes)


class _FileRangeReader:
    """Reads a byte range of a regular file by offset. Every chunk spans at most ``window`` bytes unless
    it holds a single line of up to ``max_line_bytes``; so a line longer than the limit is always one
    that starts a window without a newline in it, and is detected without looking at each line."""

    def __init__(self, source: Source, report: InputReport, window: int, max_line_bytes: int) -> None:
        self.source = source
        self.report = report
        self.window = window
        self.max_line_bytes = max_line_bytes
        self.fd = -1
        self.position = 0

    def chunks(self, start: int, end: int | None) -> Iterator[Chunk]:
        assert self.source.path is not None
        try:
            self.fd = os.open(self.source.path, os.O_RDONLY)
        except OSError as error:
            if start == 0:  # every worker fails alike: only the first range's one counts it
                self.report.add(Reason.UNREADABLE_SOURCE, self.source, 0, describe_error(error))
            return
        try:
            yield from self._chunks(start, end)
        except OSError as error:
            self.report.add(Reason.UNREADABLE_SOURCE, self.source, self.position, describe_error(error))
        finally:
            os.close(self.fd)

    def _chunks(self, start: int, end: int | None) -> Iterator[Chunk]:
        size = os.fstat(self.fd).st_size
        end = size if end is None else min(end, size)
        self.position = self._owned_start(start, size)
        if self.position >= end:
            return
        stop = size if end == size else self._line_end_from(end - 1, size)  # the last line may pass `end`
        with contextlib.suppress(AttributeError, OSError):  # a hint for read-ahead, where supported
            os.posix_fadvise(self.fd, self.position, stop - self.position, os.POSIX_FADV_SEQUENTIAL)
        while self.position < stop:
            boundary = self._chunk_end(self.position, stop)
            if boundary is None:
                self._skip_overlong_line(stop)
                continue
            data = os.pread(self.fd, boundary - self.position, self.position)
            if not data:
                return  # the file shrank while being read
            self.report.bytes_read += len(data)
            yield Chunk(data, self.position)
            self.position += len(data)

    def _owned_start(self, start: int, size: int) -> int:
        """The first line that starts at or after ``start`` (the one before belongs to the previous range)."""
        return 0 if start <= 0 else self._line_end_from(start - 1, size)

    def _line_end_from(self, position: int, limit: int) -> int:
        """Just past the first newline at or after ``position``, or ``limit`` when there is none."""
        newline = self._find_newline(position, limit)
        return limit if newline < 0 else newline + 1

    def _chunk_end(self, position: int, stop: int) -> int | None:
        """Where the chunk starting at ``position`` ends; None when its first line is over the limit."""
        if position + self.window >= stop:
            return stop
        last_newline = self._rfind_newline(position, position + self.window)
        if last_newline >= 0:
            return last_newline + 1
        # No newline in a whole window: one line that is long but maybe still allowed.
        line_limit = min(position + self.max_line_bytes, stop)
        newline = self._find_newline(position + self.window, line_limit)
        if newline >= 0:
            return newline + 1
        if line_limit == stop:
            return stop  # the last line of the source, without a newline, within the limit
        return None

    def _skip_overlong_line(self, stop: int) -> None:
        excerpt = os.pread(self.fd, EXCERPT_BYTES, self.position)
        self.report.add(Reason.LINE_TOO_LONG, self.source, self.position, excerpt)
        line_end = self._line_end_from(self.position + self.max_line_bytes, stop)
        self.report.bytes_read += line_end - self.position  # gone through, though never held
        self.position = line_end

    def _find_newline(self, position: int, limit: int) -> int:
        """Offset of the first newline in ``[position, limit)``, or -1; holds one block at a time."""
        block_size = _PROBE_BYTES
        while position < limit:
            block = os.pread(self.fd, min(block_size, limit - position), position)
            if not block:
                return -1
            found = block.find(b"\n")
            if found >= 0:
                return position + found
            position += len(block)
            block_size = min(2 * block_size, _SCAN_LIMIT_BYTES)
        return -1

    def _rfind_newline(self, position: int, limit: int) -> int:
        """Offset of the last newline in ``[position, limit)``, or -1, probing backwards from ``limit``."""
        block_size = _PROBE_BYTES
        while limit > position:
            begin = max(position, limit - block_size)
            block = os.pread(self.fd, limit - begin, begin)
            found = block.rfind(b"\n")
            if found >= 0:
                return begin + found
            limit = begin
            block_size = min(2 * block_size, _SCAN_LIMIT_BYTES)
        return -1


_malloc_tuned = False


def _reuse_freed_chunk_memory() -> None:
    """Let glibc's malloc reuse a freed chunk's memory for the next chunk instead of unmapping it.

    Every chunk is a new bytes object of a slightly different size. With glibc's default (dynamic)
    thresholds these buffers are often mmapped and unmapped, or trimmed from the heap, so each chunk
    page-faults fresh zeroed memory: reading from the page cache then runs at ~4.7 GB/s instead of ~23.
    Allocations up to 32 MiB (a chunk, or a long line) are served from the heap, and up to 64 MiB of
    free heap is kept. Done once per process; a no-op where mallopt does not exist (non-glibc).
    """
    global _malloc_tuned
    if _malloc_tuned:
        return
    _malloc_tuned = True
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return
    mallopt(_M_TRIM_THRESHOLD, 64 << 20)
    mallopt(_M_MMAP_THRESHOLD, 32 << 20)


def _sequential_chunks(
    source: Source, report: InputReport, window: int, max_line_bytes: int
) -> Iterator[Chunk]:
    """Chunks of a source read front to back, one per block (blocks are at most ``window`` bytes).

    A chunk is the line carried over from the previous block plus the block up to its last newline,
    joined in one copy (none when the block is exactly whole lines). Only the carried line can exceed
    the limit, since every other line lies within one block: that is the only line checked.
    """
    carried: list[bytes] = []  # the start of a line whose newline has not been read yet
    carried_bytes = 0
    offset = 0  # of the next chunk's first byte
    line = 1  # of the next chunk's first byte
    skipping = False  # inside an overlong line, discarding up to its newline
    blocks = decoded_blocks(source, window)
    while True:
        try:
            block = next(blocks, None)
        except READ_ERRORS as error:
            report.add(Reason.UNREADABLE_SOURCE, source, offset + carried_bytes, describe_error(error))
            block = None
        if block is None:
            break
        report.bytes_read += len(block)
        start = 0
        if skipping:
            newline = block.find(b"\n")
            if newline < 0:
                offset += len(block)
                continue
            skipping = False
            offset, line, start = offset + newline + 1, line + 1, newline + 1
        last_newline = block.rfind(b"\n", start)
        if last_newline < 0:
            if start < len(block):
                carried.append(block[start:] if start else block)
                carried_bytes += len(block) - start
            if carried_bytes > max_line_bytes:
                report.add(Reason.LINE_TOO_LONG, source, offset, _first_bytes(carried), line)
                offset += carried_bytes
                carried, carried_bytes, skipping = [], 0, True
            continue
        if carried:
            first_newline = block.find(b"\n", start)
            first_line_bytes = carried_bytes + first_newline + 1 - start
            if first_line_bytes > max_line_bytes:
                report.add(Reason.LINE_TOO_LONG, source, offset, _first_bytes(carried), line)
                offset, line, start = offset + first_line_bytes, line + 1, first_newline + 1
                carried, carried_bytes = [], 0
        if start <= last_newline:
            if carried or start or last_newline + 1 < len(block):
                data = b"".join([*carried, memoryview(block)[start : last_newline + 1]])
            else:
                data = block
            yield Chunk(data, offset, line)
            offset += len(data)
            line += data.count(b"\n")
        carried = [block[last_newline + 1 :]] if last_newline + 1 < len(block) else []
        carried_bytes = len(block) - last_newline - 1
    if carried_bytes:  # the last line, without a newline (never over the limit: checked as it grew)
        yield Chunk(b"".join(carried), offset, line)


def _first_bytes(pieces: list[bytes]) -> bytes:
    head = bytearray()
    for piece in pieces:
        head += piece[: EXCERPT_BYTES - len(head)]
        if len(head) >= EXCERPT_BYTES:
            break
    return bytes(head)


__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_LINE_BYTES",
    "EVENT_SUFFIXES",
    "STDIN_NAME",
    "Chunk",
    "Format",
    "Source",
    "SourceError",
    "expand_sources",
    "is_document",
    "is_event_file_name",
    "iter_chunks",
    "sniff_format",
    "split_ranges",
]
