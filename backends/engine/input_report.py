"""Bad input is counted, never fatal: the reasons, the offences and the per-run report.

Every line (or document element) that cannot be used as it is gets one :class:`Reason`. A *repaired*
reason means the event was kept (after stripping a BOM, replacing invalid UTF-8, ...); a *dropped* one
means it was not. The :class:`InputReport` counts them per reason and keeps the earliest offence, overall
and per reason, ordered by (source order, byte offset), so ``--strict`` can name the first bad line.

Nothing here runs per good line. Line numbers are resolved once, at the end, for the few offences kept
(:meth:`InputReport.resolve_line_numbers`); sequential sources (gzip, stdin, pipes) give them while
reading instead, since they cannot be read twice.

Workers build their report with the run's source list (``InputReport(sources)`` or
:meth:`InputReport.fork`) and the parent merges them: counters add up and the earliest offence wins, so
the merged report is the same as a sequential read's, whatever the merge order.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, Protocol

from sigma.backends.okta.engine.geoip import Outcome

if TYPE_CHECKING:
    from sigma.backends.okta.engine.sources import Source

EXCERPT_CHARS = 80
# Bytes kept from an offending line: enough for the excerpt even when every byte needs escaping.
EXCERPT_BYTES = 4 * EXCERPT_CHARS
_COUNT_BLOCK = 8 << 20


class Reason(StrEnum):
    """Why a line (or a document element, or a whole source) could not be used as it is."""

    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    INVALID_UTF8 = "invalid_utf8"
    BOM = "bom"
    LINE_TOO_LONG = "line_too_long"
    MISSING_TIMESTAMP = "missing_timestamp"
    BAD_TIMESTAMP = "bad_timestamp"
    OBJECT_FOR_STRING = "object_for_string"
    NON_FINITE_NUMBER = "non_finite_number"
    TOO_DEEP = "too_deep"  # nested deeper than decoding.MAX_DEPTH levels: dropped
    LATE_EVENT = "late_event"
    UNREADABLE_SOURCE = "unreadable_source"

    # Filled in below: an Enum body cannot refer to its own members.
    REPAIRED: ClassVar[frozenset[Reason]]
    DROPPED: ClassVar[frozenset[Reason]]

    @property
    def repaired(self) -> bool:
        """True when the event was kept (after a repair), False when it was dropped."""
        return self in Reason.REPAIRED


Reason.REPAIRED = frozenset(
    {Reason.INVALID_UTF8, Reason.BOM, Reason.OBJECT_FOR_STRING, Reason.NON_FINITE_NUMBER}
)
Reason.DROPPED = frozenset(Reason) - Reason.REPAIRED


@dataclass
class Offence:
    """One bad line: where it is (``offset`` of its first byte; ``line`` 1-based, once known) and why."""

    source: str
    offset: int
    line: int | None
    reason: Reason
    excerpt: str

    @property
    def location(self) -> str:
        if self.line is not None:
            return f"{self.source}:{self.line}"
        return f"{self.source}:byte {self.offset}"

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}: {self.excerpt}"


class ChunkLike(Protocol):
    """What :meth:`InputReport.add_in_chunk` needs of a :class:`~.sources.Chunk`."""

    data: bytes
    offset: int
    first_line: int | None


def make_excerpt(raw: bytes) -> str:
    """The first :data:`EXCERPT_CHARS` characters of ``raw``, safe to print on one terminal line."""
    text = raw[:EXCERPT_BYTES].decode("utf-8", "backslashreplace").rstrip("\r\n")
    shortened = len(text) > EXCERPT_CHARS or len(raw) > EXCERPT_BYTES
    text = text[:EXCERPT_CHARS]
    # repr() escapes control and unprintable characters but keeps printable non-ASCII ones.
    safe = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
    return safe + "…" if shortened else safe


class InputReport:
    """Counts of bad input per reason, the earliest offences and read totals; picklable and mergeable.

    ``sources`` fixes the source order used to decide which offence comes first; a source first met in
    :meth:`add` is ranked after the known ones. Reports that are merged must share that order.
    """

    def __init__(self, sources: Iterable[Source | str] = ()) -> None:
        self.counts: Counter[Reason] = Counter()
        self.first: Offence | None = None
        self.first_by_reason: dict[Reason, Offence] = {}
        self.bytes_read = 0
        # Not counted by the readers (the range reader never looks at single lines): None unless the
        # caller that splits every line counts them. events_decoded: iter_document_events counts its
        # events; the NDJSON hot loop adds its own.
        self.lines_seen: int | None = None
        self.events_decoded = 0
        # ``--geoip``: events a rule matched that lacked a location and got one, or did not (geoip.py)
        self.locations_enriched = 0
        self.locations_unresolved = 0
        self._rank: dict[str, int] = {}
        self._paths: dict[str, tuple[str | None, bool]] = {}
        for source in sources:
            self.register(source)

    # -- sources -----------------------------------------------------------------------------------

    def register(self, source: Source | str) -> str:
        """Rank ``source`` after the ones already known (no-op when known); returns its name."""
        if isinstance(source, str):
            name, path, compressed = source, source, source.endswith(".gz")
        else:
            name = source.name
            path = None if source.path is None else str(source.path)
            compressed = source.compressed
        if name not in self._rank:
            self._rank[name] = len(self._rank)
            self._paths[name] = (path, compressed)
        return name

    def fork(self) -> InputReport:
        """An empty report with the same source order, for a worker whose report is merged back."""
        child = InputReport()
        child._rank = dict(self._rank)
        child._paths = dict(self._paths)
        return child

    def _key(self, source: str, offset: int) -> tuple[int, int]:
        return self._rank[source], offset

    # -- counting ----------------------------------------------------------------------------------

    def add(
        self, reason: Reason, source: Source | str, offset: int, raw: bytes = b"", line: int | None = None
    ) -> None:
        """Count one offence: ``raw`` is the offending bytes (only the start is kept), ``line`` if known."""
        name = self.register(source)
        self.counts[reason] += 1
        key = self._key(name, offset)
        earliest_of_reason = self.first_by_reason.get(reason)
        if earliest_of_reason is not None and key >= self._offence_key(earliest_of_reason):
            return  # not the earliest of its reason, so not the earliest overall either
        offence = Offence(name, offset, line, reason, make_excerpt(raw))
        self.first_by_reason[reason] = offence
        if self.first is None or key < self._key(self.first.source, self.first.offset):
            self.first = offence

    def add_in_chunk(
        self, reason: Reason, source: Source | str, chunk: ChunkLike, start: int, end: int
    ) -> None:
        """Count the line ``chunk.data[start:end]``; its line number is computed only if it can matter."""
        offset = chunk.offset + start
        line = None
        if chunk.first_line is not None and self.is_earliest(reason, source, offset):
            line = chunk.first_line + chunk.data.count(b"\n", 0, start)
        self.add(reason, source, offset, chunk.data[start : min(end, start + EXCERPT_BYTES)], line)

    def is_earliest(self, reason: Reason, source: Source | str, offset: int) -> bool:
        """True when an offence there would be kept (the earliest of its reason so far): callers that
        can compute a line number, at a cost, do it only then."""
        name = self.register(source)
        earliest = self.first_by_reason.get(reason)
        return earliest is None or self._key(name, offset) < self._offence_key(earliest)

    def count_location(self, outcome: Outcome) -> None:
        """Count the enrichment of an event a rule matched (one with a location of its own is not)."""
        if outcome is Outcome.ENRICHED:
            self.locations_enriched += 1
        elif outcome is Outcome.UNRESOLVED:
            self.locations_unresolved += 1

    @property
    def has_offences(self) -> bool:
        return any(self.counts.values())

    @property
    def total_offences(self) -> int:
        return sum(self.counts.values())

    @property
    def dropped(self) -> int:
        return sum(count for reason, count in self.counts.items() if reason in Reason.DROPPED)

    # -- merging -----------------------------------------------------------------------------------

    def merge(self, other: InputReport) -> None:
        """Add ``other``'s counts and keep the earliest offences of both (exact, order-independent)."""
        for name in other._rank:
            if name not in self._rank:
                self._rank[name] = len(self._rank)
                self._paths[name] = other._paths[name]
        self.counts.update(other.counts)
        self.bytes_read += other.bytes_read
        self.events_decoded += other.events_decoded
        self.locations_enriched += other.locations_enriched
        self.locations_unresolved += other.locations_unresolved
        if other.lines_seen is not None:
            self.lines_seen = (self.lines_seen or 0) + other.lines_seen
        for reason, offence in other.first_by_reason.items():
            mine = self.first_by_reason.get(reason)
            if mine is None or self._offence_key(offence) < self._offence_key(mine):
                self.first_by_reason[reason] = offence
        if other.first is not None and (
            self.first is None or self._offence_key(other.first) < self._offence_key(self.first)
        ):
            self.first = other.first

    def _offence_key(self, offence: Offence) -> tuple[int, int]:
        return self._key(offence.source, offence.offset)

    # -- line numbers ------------------------------------------------------------------------------

    def resolve_line_numbers(self) -> None:
        """Give the kept offences their line numbers by re-reading their (regular or gzip) files.

        Done once, after the run, and only for the offences kept (one per reason at most): the hot path
        never counts lines. Sources that cannot be read again (stdin, pipes, vanished files) keep None.
        """
        pending: dict[str, list[Offence]] = {}
        for offence in self._kept_offences():
            if offence.line is None and offence.reason is not Reason.UNREADABLE_SOURCE:
                pending.setdefault(offence.source, []).append(offence)
        for name, offences in pending.items():
            path, compressed = self._paths.get(name, (None, False))
            if path is None:
                continue
            offsets = sorted({offence.offset for offence in offences})
            lines = _line_numbers_at(path, compressed, offsets)
            for offence in offences:
                offence.line = lines.get(offence.offset)

    def _kept_offences(self) -> list[Offence]:
        kept = list(self.first_by_reason.values())
        if self.first is not None and all(self.first is not offence for offence in kept):
            kept.append(self.first)
        return kept

    # -- output ------------------------------------------------------------------------------------

    def summary(self) -> str:
        """A readable multi-line text for stderr: totals, each reason with its first offence, the first."""
        lines = [
            f"input: {self.bytes_read:,} bytes read, {self.events_decoded:,} events decoded"
            + ("" if self.lines_seen is None else f", {self.lines_seen:,} lines seen")
            + f", {self.total_offences:,} bad input ({self.dropped:,} dropped)"
        ]
        ordered = sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))
        for reason, count in ordered:
            if not count:
                continue
            kept = "repaired, kept" if reason.repaired else "dropped"
            first = self.first_by_reason.get(reason)
            where = f"  first at {first.location}" if first is not None else ""
            lines.append(f"  {reason:<18} {count:>12,}  {kept:<14}{where}")
        if self.first is not None:
            lines.append(f"first offence: {self.first}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"InputReport(counts={dict(self.counts)!r}, first={self.first!r})"


def _line_numbers_at(path: str, compressed: bool, offsets: list[int]) -> dict[int, int]:
    """Line numbers (1-based) of the bytes at ``offsets`` (sorted) in the file, by counting newlines."""
    found: dict[int, int] = {}
    try:
        if not os.path.isfile(path):
            return found
        opener = gzip.open if compressed else open
        with opener(path, "rb") as stream:
            newlines = 0
            position = 0
            pending = iter(offsets)
            target = next(pending)
            while True:
                block = stream.read(_COUNT_BLOCK)
                if not block:
                    return found
                block_end = position + len(block)
                while target < block_end:
                    found[target] = newlines + block.count(b"\n", 0, target - position) + 1
                    target = next(pending, None)
                    if target is None:
                        return found
                newlines += block.count(b"\n")
                position = block_end
    except (OSError, EOFError, zlib.error):
        return found  # the file changed or became unreadable since: leave those lines unknown
    return found


__all__ = ["EXCERPT_BYTES", "EXCERPT_CHARS", "InputReport", "Offence", "Reason", "make_excerpt"]
