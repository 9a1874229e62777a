"""A literal prefilter derived from the rules, run over raw NDJSON bytes before anything is decoded.

The prefilter is only a necessary condition. :func:`necessary_clauses` derives from a rule a set of
clauses, each a set of byte strings ("needles"), such that the raw JSON line of every event the rule
matches contains all the needles of at least one clause (a disjunctive normal form over needles: an
AND of detections gives clauses of several needles). :class:`LineScanner` finds the lines of a chunk
that satisfy a clause (or that the needles cannot speak for) and the caller decodes and fully checks
only those.

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

Why the clauses are necessary: a value gives the one clause of its needle; an OR is satisfied by one
of its children, so the union of their clauses is necessary; an AND by all of them, so picking one
clause of each child and merging them gives a necessary clause (the cross product), and so does
picking only some of the children (a NOT, a regex, a number give nothing and are left out). The
cross product is bounded (:data:`MAX_CLAUSES`, :data:`MAX_CLAUSE_NEEDLES`): children that would go
past the bounds are left out, and the best child alone (the choice before clauses) is always kept.

Lines whose first non-blank byte is not ``{`` or whose last is not ``}`` are candidates too, so that the
caller sees (and counts) malformed input instead of silently skipping it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

from sigma.conditions import ConditionAND
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import SigmaBool, SigmaExpansion, SigmaString, SigmaType

from sigma.backends.okta.engine.matcher import fold_condition, is_case_sensitive

try:  # SIMD multi-literal scanning where a wheel exists; the pure-Python scan gives identical results
    import hyperscan
except ImportError:  # pragma: no cover - depends on the platform
    hyperscan = None

MIN_NEEDLE_LENGTH = 4
MAX_CLAUSES = 64  # an AND's cross product may not make more clauses than this (or than a child has)
MAX_CLAUSE_NEEDLES = 4  # nor clauses of more needles than this


@dataclass(frozen=True)
class Needle:
    """A byte string as it appears inside a JSON string literal (ASCII case folded when caseless)."""

    text: bytes
    caseless: bool


Clause = frozenset[Needle]  # needles that must all be in the line
Clauses = frozenset[Clause] | None  # at least one clause holds; None: no condition could be derived

# ----------------------------------------------------------------------------------------------
# Derivation


def necessary_clauses(rule: SigmaRule) -> frozenset[Clause] | None:
    """Clauses of which every event matched by ``rule`` satisfies one in its raw line, or None.

    An empty set means that the rule can match nothing; a clause is never empty.
    """
    return fold_condition(
        rule,
        lambda _name, detection: _detection_clauses(detection),
        _all_of,
        _any_of,
        lambda _negated: None,
    )


def necessary_needles(rule: SigmaRule) -> frozenset[Needle] | None:
    """Needles of which every event matched by ``rule`` contains at least one, or None.

    The weaker, one-literal-per-line form of :func:`necessary_clauses`, for callers that want one
    set of literals: a needle of every clause (a line that satisfies a clause has that clause's
    needle). The needles are picked greedily, those of the most clauses first, then the longest, so
    that an AND gives what the single best child gave before clauses (not the union of its needles).
    """
    clauses = necessary_clauses(rule)
    return None if clauses is None else hitting_needles(clauses)


def hitting_needles(clauses: Iterable[Clause]) -> frozenset[Needle]:
    """A set with a needle of every clause, small and of long needles (greedy)."""
    uncovered = set(clauses)
    chosen: set[Needle] = set()
    while uncovered:
        counts: dict[Needle, int] = {}
        for clause in uncovered:
            for needle in clause:
                counts[needle] = counts.get(needle, 0) + 1
        best = max(
            counts, key=lambda needle: (counts[needle], len(needle.text), needle.text, needle.caseless)
        )
        chosen.add(best)
        uncovered = {clause for clause in uncovered if best not in clause}
    return frozenset(chosen)


def _detection_clauses(detection: SigmaDetection) -> Clauses:
    children = [
        _detection_clauses(item) if isinstance(item, SigmaDetection) else _item_clauses(item)
        for item in detection.detection_items
    ]
    if not children:
        return None
    return _all_of(children) if detection.item_linking is ConditionAND else _any_of(children)


def _item_clauses(item: SigmaDetectionItem) -> Clauses:
    if item.negated or not item.value:  # |neq; an empty value list is null
        return None
    per_value = [_value_clauses(item, value) for value in item.value]
    if item.value_linking is ConditionAND:  # |all
        return _all_of(per_value)
    return _any_of(per_value)


def _value_clauses(item: SigmaDetectionItem, value: SigmaType) -> Clauses:
    if isinstance(value, SigmaExpansion):  # pySigma's expansions are OR groups
        return _any_of([_value_clauses(item, inner) for inner in value.values])
    if isinstance(value, SigmaString):
        needle = string_needle(value, caseless=not is_case_sensitive(item, value))
        return None if needle is None else frozenset((frozenset((needle,)),))
    if isinstance(value, SigmaBool):  # matches JSON true/false or the strings, in any case
        return frozenset((frozenset((Needle(b"true" if value.boolean else b"false", caseless=True),)),))
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


def _any_of(children: list[Clauses]) -> Clauses:
    """OR: every alternative must give clauses; any one of all of them holds."""
    if any(child is None for child in children):
        return None
    return _minimal(frozenset().union(*children))


def _all_of(children: list[Clauses]) -> Clauses:
    """AND: every child's clauses are necessary, and so is their cross product.

    The children are taken best first (fewest clauses, then the longest strongest needle): the best
    child alone is the single-child choice, sound on its own; each next child is merged in unless the
    product would pass the bounds, in which case it is left out (leaving a child out is sound).
    """
    candidates = sorted((child for child in children if child is not None), key=_weakness)
    if not candidates:
        return None
    product = candidates[0]
    for child in candidates[1:]:
        if not product:  # an empty set (an empty expansion: nothing can match) stays empty
            break
        if len(product) * len(child) > max(MAX_CLAUSES, len(product), len(child)):
            continue
        merged = [left | right for left in product for right in child]
        if any(len(clause) > MAX_CLAUSE_NEEDLES for clause in merged):
            continue
        product = _minimal(frozenset(merged))
    return product


def _weakness(clauses: frozenset[Clause]) -> tuple[int, int]:
    """The order of preference among an AND's children (the single best child was the old choice)."""
    strongest = (max(len(needle.text) for needle in clause) for clause in clauses)
    return len(clauses), -min(strongest, default=0)


def _minimal(clauses: frozenset[Clause]) -> frozenset[Clause]:
    """Without the clauses that hold only where a smaller one does (supersets add nothing to an OR).

    Small clauses look their proper subsets up (at most 62 for six needles), so that thousands of
    clauses (a long value list AND a needle) cost no quadratic time.
    """
    kept: set[Clause] = set()
    for clause in sorted(clauses, key=len):
        if len(clause) <= 6:
            redundant = any(
                frozenset(subset) in kept
                for size in range(1, len(clause))
                for subset in combinations(clause, size)
            )
        else:
            redundant = any(other < clause for other in kept)
        if not redundant:
            kept.add(clause)
    return frozenset(kept)


# ----------------------------------------------------------------------------------------------
# Scanning

_UNICODE_ESCAPE = Needle(b"\\u", caseless=False)
# Non-ASCII characters that str.lower() turns into an ASCII letter (the whole of Unicode has these two;
# a test checks the table).
_LOWERING_TO_ASCII = {"i": "\u0130", "k": "\u212a"}
# Malformed lines: first non-blank byte not "{", last non-blank byte not "}" (blank: JSON whitespace).
_BAD_START = rb"^[ \t\r]*[^{ \t\r\n]"
_BAD_END = rb"[^} \t\r\n][ \t\r]*$"


def _as_clauses(clauses: Iterable[Iterable[Needle] | Needle]) -> frozenset[Clause]:
    """Clauses as given, a bare needle being a clause of its own, without redundant clauses."""
    normalised = frozenset(
        frozenset((clause,)) if isinstance(clause, Needle) else frozenset(clause) for clause in clauses
    )
    if frozenset() in normalised:
        raise ValueError("an empty clause holds for every line: do not use a scanner")
    return _minimal(normalised)


@dataclass(frozen=True)
class _Plan:
    """The scan, in literal ids: ``literals[:immediate]`` make a line a candidate on their own (the
    one-needle clauses and what always does), the others only together, as in ``clauses``."""

    literals: list[Needle]
    immediate: int
    clauses: list[tuple[int, ...]]


def _needle_order(needle: Needle) -> tuple[bytes, bool]:
    return needle.text, needle.caseless


def _plan(clauses: frozenset[Clause]) -> _Plan:
    singles = sorted(
        (needle for clause in clauses if len(clause) == 1 for needle in clause), key=_needle_order
    )
    immediate = [*singles, _UNICODE_ESCAPE]
    needles = frozenset().union(*clauses)
    caseless_letters = {letter for needle in needles if needle.caseless for letter in needle.text.decode()}
    for letter, character in _LOWERING_TO_ASCII.items():
        if letter in caseless_letters:
            immediate.append(Needle(character.encode(), caseless=False))
    # a needle of a one-needle clause is in no other clause (_minimal), and the other immediate
    # literals are never needles ("\" and non-ASCII are not needle characters)
    joint = sorted(needles - frozenset(singles), key=_needle_order)
    literals = immediate + joint
    ids = {needle: index for index, needle in enumerate(literals)}
    multi = sorted(tuple(sorted(ids[needle] for needle in clause)) for clause in clauses if len(clause) > 1)
    return _Plan(literals, len(immediate), multi)


def hyperscan_available() -> bool:
    return hyperscan is not None


class LineScanner:
    """Finds the lines of an NDJSON chunk that must be decoded.

    Built once from the union of the rules' clauses (:func:`necessary_clauses`); a bare
    :class:`Needle` in ``clauses`` is a clause of one needle, so a set of needles gives the lines
    with any of them. ``use_hyperscan`` forces a backend (True fails without the package); by
    default Hyperscan is used when it imports.
    """

    def __init__(self, clauses: Iterable[Iterable[Needle] | Needle], *, use_hyperscan: bool | None = None):
        self.clauses = _as_clauses(clauses)
        if use_hyperscan is None:
            use_hyperscan = hyperscan_available()
        if use_hyperscan and not hyperscan_available():
            raise RuntimeError("the hyperscan package is not installed")
        self.use_hyperscan = use_hyperscan
        plan = _plan(self.clauses)
        self._scan = _HyperscanLines(plan) if use_hyperscan else _PythonLines(plan)

    @property
    def needles(self) -> frozenset[Needle]:
        return frozenset().union(*self.clauses)

    @property
    def backend(self) -> str:
        return "hyperscan" if self.use_hyperscan else "python"

    def candidate_lines(self, chunk: bytes) -> list[tuple[int, int]]:
        """Sorted, distinct (start, end) spans of the candidate lines; ``end`` excludes the newline."""
        if not chunk:
            return []
        return self._scan.lines(chunk)

    def __reduce__(self):  # a compiled Hyperscan database does not pickle: rebuild it in the worker
        return (_rebuild_scanner, (self.clauses, self.use_hyperscan))


def _rebuild_scanner(clauses: frozenset[Clause], use_hyperscan: bool) -> LineScanner:
    return LineScanner(clauses, use_hyperscan=use_hyperscan)


def _line_around(chunk: bytes, position: int) -> tuple[int, int]:
    """The span of the line holding the byte at ``position`` (which is not a newline)."""
    end = chunk.find(b"\n", position)
    return chunk.rfind(b"\n", 0, position) + 1, len(chunk) if end < 0 else end


class _HyperscanLines:
    """One Hyperscan block-mode database with every literal and the two structural patterns.

    HS_FLAG_SINGLEMATCH is not used: it reports a pattern once per scanned block, and a chunk holds
    many lines that each need reporting. Repeated matches inside a line already reported are dropped
    in the callback with one comparison instead. A match of an immediate literal reports its line at
    once; a needle of the clauses of several needles adds its bit to the line's entry in a dict (kept
    by line start, so the order in which lines come does not matter) and reports the line when a
    clause of that needle is complete.
    """

    def __init__(self, plan: _Plan):
        literals = plan.literals
        expressions = [_hyperscan_literal(needle.text) for needle in literals] + [_BAD_START, _BAD_END]
        flags = [hyperscan.HS_FLAG_CASELESS if needle.caseless else 0 for needle in literals]
        flags += [hyperscan.HS_FLAG_MULTILINE, hyperscan.HS_FLAG_MULTILINE]
        self.database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self.database.compile(
            expressions=expressions, ids=list(range(len(expressions))), elements=len(expressions), flags=flags
        )
        # per id: None (immediate) or the needle's bit, the bits of its partners in clauses of two
        # needles (one test however many such clauses it has) and the masks of its larger clauses
        self.joint: list[tuple[int, int, tuple[int, ...]] | None] = [None] * len(expressions)
        bit_of = {index: 1 << (index - plan.immediate) for index in range(plan.immediate, len(literals))}
        partners = dict.fromkeys(bit_of, 0)
        larger: dict[int, list[int]] = {index: [] for index in bit_of}
        for clause in plan.clauses:
            mask = sum(bit_of[member] for member in clause)
            for member in clause:
                if len(clause) == 2:
                    partners[member] |= mask & ~bit_of[member]
                else:
                    larger[member].append(mask)
        for index, bit in bit_of.items():
            self.joint[index] = (bit, partners[index], tuple(larger[index]))

    def lines(self, chunk: bytes) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        seen: dict[int, int] = {}  # line start -> bits of the needles of joint clauses found in it
        line_start = line_end = -1
        reported = True
        find, rfind, size, joint = chunk.find, chunk.rfind, len(chunk), self.joint

        def on_match(id_: int, _start: int, end: int, _flags: int, _context: object) -> None:
            nonlocal line_start, line_end, reported
            if line_start < end <= line_end:  # inside the line seen last
                if reported:
                    return
            else:
                last = end - 1  # the match's last byte, never a newline
                line_start = rfind(b"\n", 0, last) + 1
                line_end = find(b"\n", last)
                if line_end < 0:
                    line_end = size
                reported = False
            needle = joint[id_]
            if needle is not None:
                bit, partners, larger = needle
                bits = seen.get(line_start, 0)
                if not bits & partners:
                    bits |= bit
                    for mask in larger:
                        if bits & mask == mask:
                            break
                    else:
                        seen[line_start] = bits
                        return
            reported = True
            spans.append((line_start, line_end))

        self.database.scan(chunk, match_event_handler=on_match)
        return sorted(set(spans))  # matches come by end offset; this makes the order a guarantee


def _hyperscan_literal(text: bytes) -> bytes:
    return b"".join(b"\\x%02x" % byte for byte in text)


class _PythonLines:
    """The same result with bytes.find (on the ASCII-lowered chunk for caseless needles) and re.

    The lines of each needle of a clause of several are collected and intersected. The structural
    checks start from a newline, where ``re`` scans fast; a line's end is checked as the start of
    that line in the reversed chunk.
    """

    def __init__(self, plan: _Plan):
        self.immediate = [_Search(needle) for needle in plan.literals[: plan.immediate]]
        self.joint = [_Search(needle) for needle in plan.literals[plan.immediate :]]
        self.clauses = [tuple(index - plan.immediate for index in clause) for clause in plan.clauses]
        self.any_caseless = any(needle.caseless for needle in plan.literals)

    def lines(self, chunk: bytes) -> list[tuple[int, int]]:
        spans: set[tuple[int, int]] = set()
        lowered = chunk.lower() if self.any_caseless else chunk  # ASCII only, like HS_FLAG_CASELESS
        for search in self.immediate:
            search.add_lines(lowered if search.caseless else chunk, chunk, spans)
        found: list[set[tuple[int, int]]] = []
        for search in self.joint:
            lines: set[tuple[int, int]] = set()
            search.add_lines(lowered if search.caseless else chunk, chunk, lines)
            found.append(lines)
        for clause in self.clauses:
            spans.update(set.intersection(*(found[index] for index in clause)))
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


class _Search:
    """The lines holding one literal. bytes.find is the faster on long literals, ``re`` on short ones
    (CPython's bytes.find slows down when the literal's last byte is common, as the "u" of "\\u" is)."""

    def __init__(self, needle: Needle):
        self.caseless = needle.caseless
        self.text = needle.text
        self.pattern = None if len(needle.text) >= 8 else re.compile(re.escape(needle.text))

    def add_lines(self, haystack: bytes, chunk: bytes, spans: set[tuple[int, int]]) -> None:
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
