"""A literal prefilter derived from the rules, run over raw NDJSON bytes before anything is decoded.

The prefilter is only a necessary condition. :func:`necessary_needles` derives from a rule a set of
byte strings such that every event the rule matches contains at least one of them in its raw JSON
line; :class:`LineScanner` finds the lines of a chunk that contain one (or that the needles cannot
speak for) and the caller decodes and fully checks only those.

Why a needle found in the rule is in the raw line of every matching event:

- a needle is a run of a rule string between wildcards, made only of printable ASCII characters whose
  JSON encoding is the character itself: ``"``, ``\\`` and ``/`` (``\\/``), control characters and
  non-ASCII characters are excluded; any other escape is ``\\u``, and a line with ``\\u`` is always a
  candidate;
- caseless needles are compared with ASCII case folding. The matcher lowers with ``str.lower()``,
  which also turns two non-ASCII characters into ASCII letters (U+0130 into ``i`` plus a combining
  dot, U+212A KELVIN SIGN into ``k``): lines with their raw UTF-8 are candidates when a caseless
  needle has that letter;
- the caller renders object values of string fields as ``{key=value, ...}`` (``[a, b]`` for lists)
  before matching: ``{ } [ ] , =`` are excluded, so a needle never spans two JSON tokens;
- numbers compare through their text, and a float's text (``1e5`` reads as ``100000.0``) need not be
  its JSON spelling: runs that could be part of a number's text are not used.

Lines whose first non-blank byte is not ``{`` or whose last is not ``}`` are candidates too, so that the
caller sees (and counts) malformed input instead of silently skipping it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sigma.conditions import ConditionAND
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import SigmaBool, SigmaExpansion, SigmaString, SigmaType

from sigma.backends.okta.engine.matcher import fold_condition, is_case_sensitive

try:  # SIMD multi-literal scanning where a wheel exists; the pure-Python scan gives identical results
    import hyperscan
except ImportError:  # pragma: no cover - depends on the platform
    hyperscan = None

MIN_NEEDLE_LENGTH = 4


@dataclass(frozen=True)
class Needle:
    """A byte string as it appears inside a JSON string literal (ASCII case folded when caseless)."""

    text: bytes
    caseless: bool


NeedleSet = frozenset[Needle] | None  # None: no necessary literal could be derived

# ----------------------------------------------------------------------------------------------
# Derivation


def necessary_needles(rule: SigmaRule) -> frozenset[Needle] | None:
    """Needles of which every event matched by ``rule`` contains at least one, or None."""
    return fold_condition(
        rule,
        lambda _name, detection: _detection_needles(detection),
        _best_of,
        _union,
        lambda _negated: None,
    )


def _detection_needles(detection: SigmaDetection) -> NeedleSet:
    children = [
        _detection_needles(item) if isinstance(item, SigmaDetection) else _item_needles(item)
        for item in detection.detection_items
    ]
    if not children:
        return None
    return _best_of(children) if detection.item_linking is ConditionAND else _union(children)


def _item_needles(item: SigmaDetectionItem) -> NeedleSet:
    if item.negated or not item.value:  # |neq; an empty value list is null
        return None
    per_value = [_value_needles(item, value) for value in item.value]
    if item.value_linking is ConditionAND:
        return _best_of(per_value)
    return _union(per_value)


def _value_needles(item: SigmaDetectionItem, value: SigmaType) -> NeedleSet:
    if isinstance(value, SigmaExpansion):  # pySigma's expansions are OR groups
        return _union([_value_needles(item, inner) for inner in value.values])
    if isinstance(value, SigmaString):
        needle = string_needle(value, caseless=not is_case_sensitive(item, value))
        return None if needle is None else frozenset((needle,))
    if isinstance(value, SigmaBool):  # matches JSON true/false or the strings, in any case
        return frozenset((Needle(b"true" if value.boolean else b"false", caseless=True),))
    return None  # numbers, comparisons, regexes, networks, null, exists, field references


# Characters whose JSON encoding is themselves and that the caller's rendering of objects and lists
# ("{key=value, ...}", "[a, b]") never adds.
_NEEDLE_CHARACTERS = frozenset(chr(code) for code in range(0x20, 0x7F)) - frozenset('"\\/{}[],=')
_NUMBER_TEXT_CHARACTERS = frozenset("0123456789.e+-")


def string_needle(value: SigmaString, *, caseless: bool) -> Needle | None:
    """The longest usable run of the string's literal parts, if it is long enough."""
    if value.contains_placeholder():
        return None
    best = ""
    for part in value.s:
        if isinstance(part, str):
            for run in _safe_runs(part):
                if len(run) > len(best) and not _may_be_number_text(run):
                    best = run
    if len(best) < MIN_NEEDLE_LENGTH:
        return None
    return Needle((best.lower() if caseless else best).encode("ascii"), caseless)


def _safe_runs(text: str) -> list[str]:
    """Maximal runs of needle characters, without leading spaces: the caller's rendering writes ", "
    between members, so a space that a wildcard or a comma may precede can be the rendering's own."""
    runs, current = [], []
    for character in text:
        if character in _NEEDLE_CHARACTERS and (current or character != " "):
            current.append(character)
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return runs


def _may_be_number_text(run: str) -> bool:
    """Whether the run could be (part of) the text of a JSON number, which may be spelt otherwise."""
    lowered = run.lower()
    return set(lowered) <= _NUMBER_TEXT_CHARACTERS and lowered.count(".") <= 1 and lowered.count("e") <= 1


def _union(children: list[NeedleSet]) -> NeedleSet:
    """OR: every alternative must give needles."""
    if any(child is None for child in children):
        return None
    return frozenset().union(*children)


def _best_of(children: list[NeedleSet]) -> NeedleSet:
    """AND: any one child's needles are necessary; take the fewest, then the longest shortest needle."""
    candidates = [child for child in children if child is not None]
    if not candidates:
        return None
    # an empty set (an empty expansion: nothing can match) is the best of all
    return min(
        candidates,
        key=lambda needles: (len(needles), -min((len(needle.text) for needle in needles), default=0)),
    )


# ----------------------------------------------------------------------------------------------
# Scanning

_UNICODE_ESCAPE = Needle(b"\\u", caseless=False)
# Non-ASCII characters that str.lower() turns into an ASCII letter (the whole of Unicode has these two;
# a test checks the table).
_LOWERING_TO_ASCII = {"i": "\u0130", "k": "\u212a"}
# Malformed lines: first non-blank byte not "{", last non-blank byte not "}" (blank: JSON whitespace).
_BAD_START = rb"^[ \t\r]*[^{ \t\r\n]"
_BAD_END = rb"[^} \t\r\n][ \t\r]*$"


def _literals(needles: frozenset[Needle]) -> list[Needle]:
    """The needles plus what always makes a line a candidate, deduplicated in a stable order."""
    literals = sorted(needles, key=lambda needle: (needle.text, needle.caseless))
    literals.append(_UNICODE_ESCAPE)
    caseless_letters = {letter for needle in needles if needle.caseless for letter in needle.text.decode()}
    for letter, character in _LOWERING_TO_ASCII.items():
        if letter in caseless_letters:
            literals.append(Needle(character.encode(), caseless=False))
    return list(dict.fromkeys(literals))


def hyperscan_available() -> bool:
    return hyperscan is not None


class LineScanner:
    """Finds the lines of an NDJSON chunk that must be decoded.

    Built once from the union of the rules' needles. ``use_hyperscan`` forces a backend (True fails
    without the package); by default Hyperscan is used when it imports.
    """

    def __init__(self, needles: Iterable[Needle], *, use_hyperscan: bool | None = None):
        self.needles = frozenset(needles)
        if use_hyperscan is None:
            use_hyperscan = hyperscan_available()
        if use_hyperscan and not hyperscan_available():
            raise RuntimeError("the hyperscan package is not installed")
        self.use_hyperscan = use_hyperscan
        literals = _literals(self.needles)
        self._scan = _HyperscanLines(literals) if use_hyperscan else _PythonLines(literals)

    @property
    def backend(self) -> str:
        return "hyperscan" if self.use_hyperscan else "python"

    def candidate_lines(self, chunk: bytes) -> list[tuple[int, int]]:
        """Sorted, distinct (start, end) spans of the candidate lines; ``end`` excludes the newline."""
        if not chunk:
            return []
        return self._scan.lines(chunk)

    def __reduce__(self):  # a compiled Hyperscan database does not pickle: rebuild it in the worker
        return (_rebuild_scanner, (self.needles, self.use_hyperscan))


def _rebuild_scanner(needles: frozenset[Needle], use_hyperscan: bool) -> LineScanner:
    return LineScanner(needles, use_hyperscan=use_hyperscan)


def _line_around(chunk: bytes, position: int) -> tuple[int, int]:
    """The span of the line holding the byte at ``position`` (which is not a newline)."""
    end = chunk.find(b"\n", position)
    return chunk.rfind(b"\n", 0, position) + 1, len(chunk) if end < 0 else end


class _HyperscanLines:
    """One Hyperscan block-mode database with every literal and the two structural patterns.

    HS_FLAG_SINGLEMATCH is not used: it reports a pattern once per scanned block, and a chunk holds
    many lines that each need reporting. Repeated matches inside a line are dropped in the callback
    with one comparison instead.
    """

    def __init__(self, literals: list[Needle]):
        expressions = [_hyperscan_literal(needle.text) for needle in literals] + [_BAD_START, _BAD_END]
        flags = [hyperscan.HS_FLAG_CASELESS if needle.caseless else 0 for needle in literals]
        flags += [hyperscan.HS_FLAG_MULTILINE, hyperscan.HS_FLAG_MULTILINE]
        self.database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self.database.compile(
            expressions=expressions, ids=list(range(len(expressions))), elements=len(expressions), flags=flags
        )

    def lines(self, chunk: bytes) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        line_start = line_end = -1
        find, rfind, size = chunk.find, chunk.rfind, len(chunk)

        def on_match(_id: int, _start: int, end: int, _flags: int, _context: object) -> None:
            nonlocal line_start, line_end
            if line_start < end <= line_end:  # inside the line reported last
                return
            last = end - 1  # the match's last byte, never a newline
            line_start = rfind(b"\n", 0, last) + 1
            line_end = find(b"\n", last)
            if line_end < 0:
                line_end = size
            spans.append((line_start, line_end))

        self.database.scan(chunk, match_event_handler=on_match)
        return sorted(set(spans))  # matches come by end offset; this makes the order a guarantee


def _hyperscan_literal(text: bytes) -> bytes:
    return b"".join(b"\\x%02x" % byte for byte in text)


class _PythonLines:
    """The same result with bytes.find (on the ASCII-lowered chunk for caseless needles) and re.

    The structural checks start from a newline, where ``re`` scans fast; a line's end is checked as
    the start of that line in the reversed chunk.
    """

    def __init__(self, literals: list[Needle]):
        self.caseless = [needle.text for needle in literals if needle.caseless]
        self.exact = [needle.text for needle in literals if not needle.caseless]

    def lines(self, chunk: bytes) -> list[tuple[int, int]]:
        spans: set[tuple[int, int]] = set()
        if self.caseless:
            lowered = chunk.lower()  # ASCII only, like HS_FLAG_CASELESS; positions are unchanged
            for text in self.caseless:
                _add_lines_with(lowered, text, chunk, spans)
        for text in self.exact:
            _add_lines_with(chunk, text, chunk, spans)
        spans.update(_line_around(chunk, position) for position in _offending_bytes(chunk, *_BAD_START_AT))
        reversed_chunk = chunk[::-1]
        last = len(chunk) - 1
        spans.update(
            _line_around(chunk, last - position)
            for position in _offending_bytes(reversed_chunk, *_BAD_END_AT)
        )
        return sorted(spans)


# A line start not followed (after blanks) by "{", as a pattern for the chunk's first byte and one
# after a newline; the same for "}" over the reversed chunk.
_BAD_START_AT = (re.compile(rb"[ \t\r]*[^{ \t\r\n]"), re.compile(rb"\n[ \t\r]*[^{ \t\r\n]"))
_BAD_END_AT = (re.compile(rb"[ \t\r]*[^} \t\r\n]"), re.compile(rb"\n[ \t\r]*[^} \t\r\n]"))


def _offending_bytes(
    chunk: bytes, at_first: re.Pattern[bytes], after_newline: re.Pattern[bytes]
) -> list[int]:
    """Positions of the first non-blank byte of lines where it is not the expected brace."""
    found = [match.end() - 1 for match in after_newline.finditer(chunk)]
    first = at_first.match(chunk)
    if first is not None:
        found.append(first.end() - 1)
    return found


def _add_lines_with(haystack: bytes, text: bytes, chunk: bytes, spans: set[tuple[int, int]]) -> None:
    """Add the lines where ``text`` occurs, searching on after each found line's end."""
    position = haystack.find(text)
    while position >= 0:
        span = _line_around(chunk, position)
        spans.add(span)
        position = haystack.find(text, span[1] + 1)
