"""A literal prefilter derived from the rules, run over raw NDJSON bytes before anything is decoded.

The prefilter is only a necessary condition. :func:`necessary_clauses` derives from a rule a set of
clauses, each a set of byte strings ("needles"), such that the raw JSON line of every event the rule
matches contains all the needles of at least one clause (a disjunctive normal form over needles: an
AND of detections gives clauses of several needles), once the line's ``\\u`` escapes are decoded.
:class:`LineScanner` finds the lines of a chunk that satisfy a clause (or that cannot be told apart)
and the caller decodes and fully checks only those.

Why the needles and clauses are necessary is in :mod:`.prefilter_clauses`.

Lines whose first byte is not ``{`` or whose last (a final ``\\r`` aside) is not ``}`` are candidates
too, so that the caller sees (and counts) malformed input instead of silently skipping it; blanks
around a valid object make a candidate as well, which the caller decodes without complaint.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable
from itertools import accumulate

from .prefilter_clauses import Clause, Needle, minimal_clauses

try:  # SIMD multi-literal scanning where a wheel exists; the pure-Python scan gives identical results
    import hyperscan
except ImportError:  # pragma: no cover - depends on the platform
    hyperscan = None

# ----------------------------------------------------------------------------------------------
# Scanning
#
# A line is a candidate when it is structurally suspicious (:func:`_suspicious`) or when its text
# satisfies a clause: the raw line lowered as ``str.lower()`` lowers it (:func:`_folded`), or, for a
# line with a ``\u`` escape, the line with every JSON string escape decoded (:func:`_unescaped`; a
# line whose escapes do not decode is a candidate). That definition does not depend on the backend,
# on which needles are scanned for nor on where a line sits in a chunk; the scans below only find a
# superset of the lines that may satisfy it, and the definition is then checked line by line in Python.

WARMUP_BYTES = 2 << 20  # the needles' finds are counted over this much input to choose one a clause
MAX_FOLD_POSITIONS = 4  # a needle's literals spell at most this many letters both ways (2**4 literals)

_ESCAPE = b"\\u"
# The two non-ASCII characters that str.lower() turns into ASCII letters (a test checks that there are
# no others): U+212A KELVIN SIGN into "k", U+0130 into "i" followed by U+0307 COMBINING DOT ABOVE.
_KELVIN = "\u212a".encode()
_DOTTED_I = "\u0130".encode()
# JSON's two-character escapes ("\\" pairs taken left to right, as a decoder does): each one stands for
# a character that is in no needle, so one such placeholder byte stands for it as well.
_SHORT_ESCAPE = re.compile(rb'\\["\\/bfnrt]')
# Structural patterns, cheap for Hyperscan: no anchors, no classes repeated over blanks. They make a
# valid line with blanks around its object a candidate too (the caller decodes it fine: no offence);
# that costs a decode, never a dropped line. The chunk's first line (no "\n" before it) and an
# unterminated last line are checked in Python.
_BAD_START = rb"\n[^{\n]"  # a line, not empty, whose first byte is not "{"
_BAD_END = rb"[^}\r\n]\r?\n"  # a line whose last byte, one "\r" aside, is neither "}" nor "\r"
_ESCAPED_LINE = rb"\\u[^\n]*\n"  # a line with "\u", reported once, at its newline


def _suspicious(line: bytes) -> bool:
    """Whether a line (without its newline) is structurally suspicious, as the patterns above define it."""
    if not line:
        return False
    if line[0] != 0x7B:  # "{"
        return True
    body = line[:-1] if line[-1] == 0x0D else line
    return body[-1] not in b"}\r"


def _folded(line: bytes) -> bytes:
    """The line lowered as str.lower() lowers its text, as far as ASCII needles can tell: the other
    non-ASCII characters lower into non-ASCII ones, which no needle holds either way."""
    lowered = line.lower()
    if lowered.isascii():
        return lowered
    # bytes.find is slow on short literals: their first byte first, which memchr finds
    if b"\xe2" in lowered and _KELVIN in lowered:
        lowered = lowered.replace(_KELVIN, b"k")
    if b"\xc4" in lowered and _DOTTED_I in lowered:
        lowered = lowered.replace(_DOTTED_I, b"i\xcc\x87")
    return lowered


def _unescaped(line: bytes) -> tuple[bytes, bytes] | None:
    """The line with its JSON string escapes decoded, and that lowered; None when an escape is invalid.

    Exact as far as needles can tell (which is all that is asked of it): the short escapes become one
    byte that no needle holds, ``\\uXXXX`` the character, surrogates (paired or not: the caller's
    decoder makes a lone one U+FFFD) and the raw UTF-8 of other non-ASCII characters non-ASCII
    characters. Outside strings valid JSON has no backslash, so decoding the whole line left to right
    decodes exactly the strings' escapes (a line that is not valid JSON matches no rule).
    """
    text = _SHORT_ESCAPE.sub(b"\x00", line)
    if text.count(b"\\") != text.count(_ESCAPE):  # a backslash before another character, or at the end
        return None
    # decoded as Latin-1 below, these raw characters would lose their lowering into ASCII letters
    if b"\xe2" in text and _KELVIN in text:
        text = text.replace(_KELVIN, b"\\u212a")
    if b"\xc4" in text and _DOTTED_I in text:
        text = text.replace(_DOTTED_I, b"\\u0130")
    try:
        decoded = text.decode("raw_unicode_escape")  # \uXXXX, the other bytes as Latin-1 characters
    except UnicodeDecodeError:  # "\u" without four hexadecimal digits
        return None
    return decoded.encode("utf-8", "surrogatepass"), decoded.lower().encode("utf-8", "surrogatepass")


def _fold_positions(needle: Needle) -> list[int]:
    """Where a raw non-ASCII character can stand for a letter of a caseless needle: any "k" (U+212A),
    and a final "i" (U+0130, whose combining dot stops a match right after the "i")."""
    if not needle.caseless:
        return []
    positions = [index for index, byte in enumerate(needle.text) if byte == 0x6B]
    if needle.text.endswith(b"i"):
        positions.append(len(needle.text) - 1)
    return positions


def _needle_literals(needle: Needle) -> tuple[list[bytes], bool]:
    """Literals one of which (ASCII case aside when caseless) is in every line without ``\\u`` whose
    folded text has the needle; and whether finding one proves that the needle is there.

    The needle with each subset of its fold positions spelt with the non-ASCII character. Past
    :data:`MAX_FOLD_POSITIONS`, the longest part of the needle with that many is spelt instead.
    """
    text, positions = needle.text, _fold_positions(needle)
    exact = len(positions) <= MAX_FOLD_POSITIONS
    if not exact:
        windows = []
        for first in range(len(positions) - MAX_FOLD_POSITIONS + 1):
            start = positions[first - 1] + 1 if first else 0
            last = first + MAX_FOLD_POSITIONS
            end = positions[last] if last < len(positions) else len(text)
            windows.append((end - start, -start, start, end))
        _, _, start, end = max(windows)
        positions = [position - start for position in positions if start <= position < end]
        text = text[start:end]
    literals = []
    for subset in range(1 << len(positions)):
        pieces = [text[index : index + 1] for index in range(len(text))]
        for bit, position in enumerate(positions):
            if subset >> bit & 1:
                pieces[position] = _KELVIN if pieces[position] == b"k" else _DOTTED_I
        literals.append(b"".join(pieces))
    return literals, exact


def _relevant_escapes(needles: Iterable[Needle]) -> list[str]:
    """Patterns of the four hexadecimal digits of the ``\\u`` escapes that may spell a character of
    a needle: the character, its upper case when caseless, and the two that lower into a letter."""
    codes: set[int] = set()
    for needle in needles:
        text = needle.text.decode("ascii")
        codes.update(ord(character) for character in text)
        if needle.caseless:
            codes.update(ord(character.upper()) for character in text)
            codes.update(
                ord((_KELVIN if text[position] == "k" else _DOTTED_I).decode())
                for position in _fold_positions(needle)
            )
    groups: dict[str, set[str]] = {}
    for code in codes:
        digits = f"{code:04x}"
        groups.setdefault(digits[:3], set()).add(digits[3])
    return [
        "".join(_hex_digit(digit) for digit in prefix) + _hex_digit("".join(sorted(lasts)))
        for prefix, lasts in sorted(groups.items())
    ]


def _escape_patterns(needles: Iterable[Needle]) -> tuple[bytes, bytes]:
    """Where a line's ``\\u`` escapes may matter, as a pattern for ``re`` (searched in one line) and
    one for Hyperscan (scanned over lines joined by newlines, which stand for the ends of lines).

    Either an escape (or what looks like one: the backslash may be escaped itself) of a character
    that may spell a needle's character, or an escape that is not valid. A line with ``\\u`` and
    neither, whose decoded text satisfies a clause, has the needle characters of the clause's needles
    in the raw line, next to each other as in the text (the other escapes give characters that are in
    no needle): the scan for the needles reports it.
    """
    relevant = "".join(f"{alternative}|" for alternative in _relevant_escapes(needles))
    return (
        rf'\\(?:u(?:{relevant}(?![0-9a-fA-F]{{4}}))|[^"\\/bfnrtu]|$)'.encode(),
        rf'\\(?:u(?:{relevant}[0-9a-fA-F]{{0,3}}[^0-9a-fA-F])|[^"\\/bfnrtu])'.encode(),
    )


def _hex_digit(digits: str) -> str:
    """A class matching the hexadecimal digits given (in either case), or the one digit itself."""
    spelt = sorted(set(digits + digits.upper()))
    return spelt[0] if len(spelt) == 1 else "[" + "".join(spelt) + "]"


def _as_clauses(clauses: Iterable[Iterable[Needle] | Needle]) -> frozenset[Clause]:
    """Clauses as given, a bare needle being a clause of its own, without redundant clauses."""
    normalised = frozenset(
        frozenset((clause,)) if isinstance(clause, Needle) else frozenset(clause) for clause in clauses
    )
    if frozenset() in normalised:
        raise ValueError("an empty clause holds for every line: do not use a scanner")
    return minimal_clauses(normalised)


def _literals(needles: list[Needle]) -> list[tuple[bytes, bool, int]]:
    return [
        (literal, needle.caseless, index)
        for index, needle in enumerate(needles)
        for literal in _needle_literals(needle)[0]
    ]


def _needle_order(needle: Needle) -> tuple[bytes, bool]:
    return needle.text, needle.caseless


def _clause_order(needles: Iterable[Needle]) -> list[tuple[bytes, bool]]:
    return sorted(_needle_order(needle) for needle in needles)


class _Filing:
    """The clauses filed under one needle of each (a line that satisfies a clause holds that needle),
    which is scanned for, and the tests of a line against the clauses.

    ``literals`` are (literal, caseless, index into ``needles``): see :func:`_needle_literals`.
    """

    def __init__(self, clauses: frozenset[Clause], choose: Callable[[Clause], Needle]):
        filed: dict[Needle, list[tuple[Needle, ...]]] = {}
        for clause in clauses:
            needle = choose(clause)
            filed.setdefault(needle, []).append(tuple(sorted(clause - {needle}, key=_needle_order)))
        self.needles = sorted(filed, key=_needle_order)
        self.others = [tuple(sorted(filed[needle], key=_clause_order)) for needle in self.needles]
        self.literals = _literals(self.needles)
        # per filed needle: the rest of each of its clauses to look for in a line where it was found
        # (with the needle when its literals are not all of it), and whether a non-ASCII character
        # may lower into a letter of theirs
        self.on_find: list[tuple[tuple[tuple[Needle, ...], bool], ...]] = []
        for needle, others in zip(self.needles, self.others, strict=True):
            rests = others if _needle_literals(needle)[1] else tuple((needle, *rest) for rest in others)
            self.on_find.append(tuple((rest, any(map(_fold_positions, rest))) for rest in rests))

    def found_holds(self, line: bytes, filings: Iterable[int]) -> bool:
        """Whether a line without ``\\u``, where the literals of these filed needles were found,
        satisfies one of their clauses."""
        lowered = folded = None
        for filing in filings:
            for rest, folds in self.on_find[filing]:
                if not rest:
                    return True
                if folds:
                    text = folded = _folded(line) if folded is None else folded
                else:  # the same verdict for needles without a letter that a non-ASCII character gives
                    text = lowered = line.lower() if lowered is None else lowered
                if all(needle.text in (text if needle.caseless else line) for needle in rest):
                    return True
        return False

    def text_holds(self, text: bytes, lowered: bytes) -> bool:
        """Whether a line's text (and that lowered) satisfies a clause."""
        for needle, others in zip(self.needles, self.others, strict=True):
            if needle.text in (lowered if needle.caseless else text):
                for rest in others:
                    if all(other.text in (lowered if other.caseless else text) for other in rest):
                        return True
        return False

    def line_holds(self, line: bytes) -> bool:
        """The definition, for one line: its text satisfies a clause, or its escapes do not decode."""
        if _ESCAPE in line:
            texts = _unescaped(line)
            return texts is None or self.text_holds(*texts)
        return self.text_holds(line, _folded(line))


def hyperscan_available() -> bool:
    return hyperscan is not None


Span = tuple[int, int]


class LineScanner:
    """Finds the lines of an NDJSON chunk that must be decoded.

    Built once from the union of the rules' clauses (:func:`necessary_clauses`); a bare
    :class:`Needle` in ``clauses`` is a clause of one needle, so a set of needles gives the lines
    with any of them. ``use_hyperscan`` forces a backend (True fails without the package); by
    default Hyperscan is used when it imports.

    Any one needle of a clause finds the lines that satisfy it (the rest of the clause is checked on
    each line found), and the cheapest to scan for is the rarest. The scan starts with the longest
    needle of each clause; with Hyperscan, every needle's finds are counted over the first
    ``warmup_bytes`` of input (a separate pass, before that input's own scan), and the scan then
    keeps the rarest needle of each clause (ties: the longer, then the smaller). Which lines are
    candidates does not depend on the needles scanned for, nor on the backend.
    """

    def __init__(
        self,
        clauses: Iterable[Iterable[Needle] | Needle],
        *,
        use_hyperscan: bool | None = None,
        warmup_bytes: int = WARMUP_BYTES,
    ):
        self.clauses = _as_clauses(clauses)
        if use_hyperscan is None:
            use_hyperscan = hyperscan_available()
        if use_hyperscan and not hyperscan_available():
            raise RuntimeError("the hyperscan package is not installed")
        self.use_hyperscan = use_hyperscan
        self.warmup_bytes = warmup_bytes
        self._counts: dict[Needle, int] = dict.fromkeys(self.needles, 0)
        self._counted_bytes = 0
        counting = use_hyperscan and warmup_bytes > 0 and any(len(clause) > 1 for clause in self.clauses)
        self._counter = _NeedleCounter(sorted(self.needles, key=_needle_order)) if counting else None
        escapes = _escape_patterns(self.needles)
        self._scan = _HyperscanScan(escapes[1]) if use_hyperscan else _PythonScan(escapes[0])
        self._file()

    @property
    def needles(self) -> frozenset[Needle]:
        return frozenset().union(*self.clauses)

    @property
    def scanned_needles(self) -> frozenset[Needle]:
        """The needles scanned for now, one of each clause."""
        return frozenset(self._filing.needles)

    @property
    def backend(self) -> str:
        return "hyperscan" if self.use_hyperscan else "python"

    def _rarest(self, clause: Clause) -> Needle:
        counts = self._counts
        return min(
            clause, key=lambda needle: (counts[needle], -len(needle.text), needle.text, needle.caseless)
        )

    def _file(self) -> None:
        self._filing = _Filing(self.clauses, self._rarest)
        self._scan.prepare(self._filing)

    def _count(self, chunk: bytes) -> None:
        """Count the needles' finds in the input's first ``warmup_bytes``; then keep the rarest."""
        sample = chunk[: self.warmup_bytes - self._counted_bytes]
        self._counter.count(sample, self._counts)
        self._counted_bytes += len(sample)
        if self._counted_bytes >= self.warmup_bytes:
            self._counter = None
            self._file()

    def candidate_lines(self, chunk: bytes) -> list[Span]:
        """Sorted, distinct (start, end) spans of the candidate lines; ``end`` excludes the newline."""
        if not chunk:
            return []
        if self._counter is not None:
            self._count(chunk)
        # an unterminated last line is checked on its own (the scans report lines at their newline)
        limit = chunk.rfind(b"\n") + 1
        struct, escaped, found = self._scan.lines(chunk, limit)
        suspect = self._scan.suspect(chunk, escaped - struct)
        return self._decide(chunk, limit, struct, escaped, suspect, found)

    def _decide(
        self,
        chunk: bytes,
        limit: int,
        struct: set[Span],
        escaped: set[Span],
        suspect: set[Span],
        found: dict[Span, set[int]],
    ) -> list[Span]:
        """The candidates among the lines reported (all before ``limit``), and the last line's verdict."""
        filing = self._filing
        spans = struct
        if limit and chunk[0] not in b"{\n":  # the chunk's first line: no newline before it
            spans.add((0, chunk.find(b"\n")))
        for span in escaped - spans:
            # a line with "\u" has its escapes decoded; without a needle's find or an escape that may
            # matter, its decoded text cannot satisfy a clause (see _escape_patterns)
            if (span in found or span in suspect) and filing.line_holds(chunk[span[0] : span[1]]):
                spans.add(span)
        for span, filings in found.items():
            if (
                span not in spans
                and span not in escaped
                and filing.found_holds(chunk[span[0] : span[1]], filings)
            ):
                spans.add(span)
        if limit < len(chunk):
            last = chunk[limit:]
            if _suspicious(last) or filing.line_holds(last):
                spans.add((limit, len(chunk)))
        return sorted(spans)

    def __reduce__(self):  # a compiled Hyperscan database does not pickle: rebuild it in the worker
        return (_rebuild_scanner, (self.clauses, self.use_hyperscan, self.warmup_bytes))


def _rebuild_scanner(clauses: frozenset[Clause], use_hyperscan: bool, warmup_bytes: int = WARMUP_BYTES):
    return LineScanner(clauses, use_hyperscan=use_hyperscan, warmup_bytes=warmup_bytes)


def _line_around(chunk: bytes, position: int) -> Span:
    """The span of the line holding the byte at ``position`` (which is not a newline)."""
    end = chunk.find(b"\n", position)
    return chunk.rfind(b"\n", 0, position) + 1, len(chunk) if end < 0 else end


class _HyperscanScan:
    """Two Hyperscan block-mode databases: the needles' literals (rebuilt when the scanned needles
    change), and the structural patterns with the ``\\u`` lines (kept apart: in one database with
    the needles, the short ``\\u`` costs more than a second pass does).

    HS_FLAG_SINGLEMATCH is not used: it reports a pattern once per scanned block, and a chunk holds
    many lines that each need reporting. The callbacks only collect (end, id); lines are worked out
    afterwards, once per line.
    """

    BAD_START, BAD_END = 1, 2

    def __init__(self, escapes: bytes):
        self.literals_database = None
        self.pattern_needle: list[int] = []
        self.lines_database = _compile([_ESCAPED_LINE, _BAD_START, _BAD_END], [0, 0, 0])
        self.escapes_database = _compile([escapes], [0])

    def suspect(self, chunk: bytes, escaped: set[Span]) -> set[Span]:
        """The lines with ``\\u`` whose escapes may matter, in one scan over them joined by newlines."""
        if not escaped:
            return set()
        ordered = sorted(escaped)
        starts = list(accumulate((end - start + 1 for start, end in ordered[:-1]), initial=0))
        ends: list[int] = []
        append = ends.append

        def on_match(_id: int, _start: int, end: int, _flags: int, _context: object) -> None:
            append(end)

        view = memoryview(chunk)
        joined = b"\n".join([view[start:end] for start, end in ordered]) + b"\n"
        self.escapes_database.scan(joined, match_event_handler=on_match)
        # a match's last byte is in its line, or is the newline after it
        return {ordered[bisect_right(starts, end - 1) - 1] for end in ends}

    def prepare(self, filing: _Filing) -> None:
        literals = filing.literals
        self.pattern_needle = [index for _, _, index in literals]
        self.literals_database = (
            _compile(
                [_hyperscan_literal(text) for text, _, _ in literals],
                [hyperscan.HS_FLAG_CASELESS if caseless else 0 for _, caseless, _ in literals],
            )
            if literals
            else None
        )

    def lines(self, chunk: bytes, limit: int) -> tuple[set[Span], set[Span], dict[Span, set[int]]]:
        """The structurally suspicious lines, the lines with ``\\u``, and the lines where literals were
        found with the (indices of the) filed needles found; all before ``limit``, where the
        unterminated last line starts."""
        reports: list[tuple[int, int]] = []
        append = reports.append

        def on_match(id_: int, _start: int, end: int, _flags: int, _context: object) -> None:
            append((end, id_))

        find, rfind = chunk.find, chunk.rfind
        struct: set[Span] = set()
        escaped: set[Span] = set()
        self.lines_database.scan(chunk, match_event_handler=on_match)
        for end, id_ in reports:
            if id_ == self.BAD_START:
                start = end - 1
                if start < limit:
                    struct.add((start, find(b"\n", start)))
            else:  # ends at the line's newline: never the unterminated last line
                newline = end - 1
                (struct if id_ == self.BAD_END else escaped).add((rfind(b"\n", 0, newline) + 1, newline))
        found: dict[Span, set[int]] = {}
        if self.literals_database is None:
            return struct, escaped, found
        reports.clear()
        self.literals_database.scan(chunk, match_event_handler=on_match)
        pattern_needle = self.pattern_needle
        line_start = line_end = -1
        needles: set[int] = set()
        for end, id_ in reports:  # by end offset: a line's finds come together
            position = end - 1
            if position >= limit:
                continue
            if not line_start <= position < line_end:
                line_start = rfind(b"\n", 0, position) + 1
                line_end = find(b"\n", position)
                needles = found.setdefault((line_start, line_end), set())
            needles.add(pattern_needle[id_])
        return struct, escaped, found


class _NeedleCounter:
    """Counts the finds of every needle (of any of its literals) with one Hyperscan database."""

    def __init__(self, needles: list[Needle]):
        literals = _literals(needles)
        self.needles = [needles[index] for _, _, index in literals]
        self.database = _compile(
            [_hyperscan_literal(text) for text, _, _ in literals],
            [hyperscan.HS_FLAG_CASELESS if caseless else 0 for _, caseless, _ in literals],
        )

    def count(self, data: bytes, counts: dict[Needle, int]) -> None:
        found = [0] * len(self.needles)

        def on_match(id_: int, _start: int, _end: int, _flags: int, _context: object) -> None:
            found[id_] += 1

        self.database.scan(data, match_event_handler=on_match)
        for needle, number in zip(self.needles, found, strict=True):
            counts[needle] += number


def _compile(expressions: list[bytes], flags: list[int]):
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(
        expressions=expressions, ids=list(range(len(expressions))), elements=len(expressions), flags=flags
    )
    return database


def _hyperscan_literal(text: bytes) -> bytes:
    return b"".join(b"\\x%02x" % byte for byte in text)


class _PythonScan:
    """The same reports with bytes.find (on the ASCII-lowered chunk for caseless literals) and re.

    The structural checks start from a newline, where ``re`` scans fast; a line's end is checked as
    the start of that line in the reversed chunk.
    """

    _STARTS = re.compile(_BAD_START)
    _ENDS_REVERSED = re.compile(rb"\n\r?[^}\r\n]")

    def __init__(self, escapes: bytes):
        self.searches: list[tuple[_Search, int]] = []
        self.escapes = _Search(Needle(_ESCAPE, caseless=False))
        self.suspect_escape = re.compile(escapes)

    def suspect(self, chunk: bytes, escaped: set[Span]) -> set[Span]:
        """The lines with ``\\u`` whose escapes may matter."""
        search = self.suspect_escape.search
        return {span for span in escaped if search(chunk, *span)}

    def prepare(self, filing: _Filing) -> None:
        self.searches = [
            (_Search(Needle(text, caseless)), index) for text, caseless, index in filing.literals
        ]

    def lines(self, chunk: bytes, limit: int) -> tuple[set[Span], set[Span], dict[Span, set[int]]]:
        struct = {_line_around(chunk, match.end() - 1) for match in self._STARTS.finditer(chunk, 0, limit)}
        last = len(chunk) - 1
        for match in self._ENDS_REVERSED.finditer(chunk[::-1], len(chunk) - limit):
            newline = last - match.start()
            struct.add((chunk.rfind(b"\n", 0, newline) + 1, newline))
        escaped: set[Span] = set()
        self.escapes.add_lines(chunk, chunk, escaped)
        lowered = chunk.lower() if any(search.caseless for search, _ in self.searches) else chunk
        found: dict[Span, set[int]] = {}
        for search, filed in self.searches:
            lines: set[Span] = set()
            search.add_lines(lowered if search.caseless else chunk, chunk, lines)
            for span in lines:
                found.setdefault(span, set()).add(filed)
        return (
            struct,
            {span for span in escaped if span[0] < limit},
            {span: filings for span, filings in found.items() if span[0] < limit},
        )


class _Search:
    """The lines holding one literal. bytes.find is the faster on long literals, ``re`` on short ones
    (CPython's bytes.find slows down when the literal's last byte is common, as the "u" of "\\u" is)."""

    def __init__(self, needle: Needle):
        self.caseless = needle.caseless
        self.text = needle.text
        self.pattern = None if len(needle.text) >= 8 else re.compile(re.escape(needle.text))

    def add_lines(self, haystack: bytes, chunk: bytes, spans: set[Span]) -> None:
        """Add the lines where the literal occurs, searching on after each found line's end."""
        if self.pattern is None:
            find, text = haystack.find, self.text
            position = find(text)
            while position >= 0:
                span = _line_around(chunk, position)
                spans.add(span)
                position = find(text, span[1] + 1)
            return
        search = self.pattern.search
        found = search(haystack)
        while found is not None:
            span = _line_around(chunk, found.start())
            spans.add(span)
            found = search(haystack, span[1] + 1)
