"""Literal clauses derived from a rule: what the raw JSON line of every event it matches must contain.

:func:`necessary_clauses` derives from a rule a set of clauses, each a set of byte strings ("needles"),
such that the raw JSON line of every event the rule matches contains all the needles of at least one
clause (a disjunctive normal form over needles: an AND of detections gives clauses of several
needles), once the line's ``\\u`` escapes are decoded. :mod:`.prefilter` scans for them.

Why a needle found in the rule is in the raw line of every matching event:

- a needle is a run of a rule string between wildcards, made only of printable ASCII characters whose
  JSON encoding is the character itself: ``"``, ``\\`` and ``/`` (``\\/``), control characters and
  non-ASCII characters are excluded; any other escape is ``\\u``, and the scanner decodes the
  escapes of a line with ``\\u`` before it looks for the needles (see :mod:`.prefilter`);
- caseless needles are compared on the line lowered as the matcher lowers, with ``str.lower()``:
  ASCII case folding, and two non-ASCII characters that become ASCII letters (U+0130 into ``i``
  plus a combining dot, U+212A KELVIN SIGN into ``k``), which the scanner spells needles with too;
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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import combinations

from sigma.conditions import ConditionAND
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import SigmaBool, SigmaExpansion, SigmaString, SigmaType

from sigma.backends.okta.engine.matcher import fold_condition, is_case_sensitive

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


def necessary_clauses(
    rule: SigmaRule, supplied: Callable[[str | None], bool] | None = None
) -> frozenset[Clause] | None:
    """Clauses of which every event matched by ``rule`` satisfies one in its raw line, or None.

    An empty set means that the rule can match nothing; a clause is never empty. ``supplied`` names
    the fields (None: keyword detections) whose values may come from elsewhere than the line (``--geoip``
    enrichment): their items give no clause, as if they were a regex.
    """
    return fold_condition(
        rule,
        lambda _name, detection: _detection_clauses(detection, supplied),
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


def _detection_clauses(detection: SigmaDetection, supplied: Callable[[str | None], bool] | None) -> Clauses:
    children = [
        _detection_clauses(item, supplied)
        if isinstance(item, SigmaDetection)
        else None
        if supplied is not None and supplied(item.field)
        else _item_clauses(item)
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
    return minimal_clauses(frozenset().union(*children))


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
        product = minimal_clauses(frozenset(merged))
    return product


def _weakness(clauses: frozenset[Clause]) -> tuple[int, int]:
    """The order of preference among an AND's children (the single best child was the old choice)."""
    strongest = (max(len(needle.text) for needle in clause) for clause in clauses)
    return len(clauses), -min(strongest, default=0)


def minimal_clauses(clauses: frozenset[Clause]) -> frozenset[Clause]:
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
