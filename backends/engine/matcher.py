"""Sigma rules compiled into predicates over decoded Okta System Log events (dicts from orjson).

Everything that depends only on the rule happens once, in :func:`compile_rule`: pySigma parses the
condition, detections are resolved, field paths are split, rule strings are lowered and sorted into
equality, prefix, suffix, infix and wildcard shapes, regular expressions and networks are compiled.
The returned closure only reads the event.

Value semantics (Sigma specification on pySigma 1.5.1's value types):

- Strings compare case-insensitively as ``event_text.lower()`` against the pre-lowered rule value.
  Equality, prefix, suffix, infix and wildcard patterns share this one definition (the ``LOWER()``
  of the SQL targets), so a wildcard pattern runs on lowered text rather than with ``re.IGNORECASE``.
  ``|cased`` values and base64-encoded values (``|base64``, ``|base64offset``: a lowered encoding
  is another encoding) compare exactly. ``*`` and ``?`` are wildcards, ``\\*`` a literal star.
- An event value that is a list matches when any element matches. An object never matches a string
  (the caller renders the values of :func:`string_fields` first). Numbers and booleans compare with
  strings through their text (:func:`~sigma.pipelines.okta.semantics.text_of`): event ``5`` matches
  ``'5'``.
- Numbers (``field: 5``) match equal JSON numbers and numeric strings; ``|gt|gte|lt|lte`` compare
  them; non-numeric values never match. Booleans match JSON booleans and the strings true/false in
  any case.
- ``null`` (or an empty value list) matches a missing field or JSON null; ``|exists: true`` a field
  that is present and not null, ``|exists: false`` the opposite.
- ``|re`` uses Python ``re.search`` (unanchored), case-sensitive unless ``|i``; ``|m`` and ``|s``
  set MULTILINE and DOTALL.
- ``|cidr`` is :mod:`ipaddress` membership (IPv4 and IPv6); values that are not addresses never match.
- ``|fieldref`` compares the text of two fields of the same event (case-insensitively unless
  ``|cased``), whole or as prefix, suffix or infix (``|startswith``, ``|endswith``, ``|contains``).
- ``|neq`` (pySigma's negation modifier) negates its detection item.
- Field-less keywords match when any scalar anywhere in the event matches.

What cannot be evaluated faithfully raises :class:`UnsupportedRuleError`: ``|expand`` placeholders
(they need a processing pipeline), timestamp-part modifiers (``|minute``, ``|hour``, ...), query
expressions, and ``null``/``|exists``/``|fieldref`` on keywords.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any, TypeVar

from sigma.conditions import (
    ConditionAND,
    ConditionIdentifier,
    ConditionNOT,
    ConditionOR,
    ConditionSelector,
)
from sigma.exceptions import SigmaConditionError
from sigma.modifiers import SigmaBase64Modifier, SigmaBase64OffsetModifier, SigmaCaseSensitiveModifier
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaQueryExpression,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SigmaType,
    SpecialChars,
)

from sigma.backends.okta.engine.fields import MISSING, compile_field
from sigma.pipelines.okta.errors import AggregateRuleError
from sigma.pipelines.okta.semantics import finite, text_of

Predicate = Callable[[dict], bool]
ValueTest = Callable[[Any], bool]  # over a resolved field value: MISSING, None, scalar, list or dict
TextTest = Callable[[str], bool]
T = TypeVar("T")


class UnsupportedRuleError(AggregateRuleError):
    """A rule uses a construct the engine cannot evaluate faithfully (never matched more weakly)."""


# ----------------------------------------------------------------------------------------------
# Rule structure, shared with the prefilter


def fold_condition(
    rule: SigmaRule,
    detection: Callable[[str, SigmaDetection], T],
    all_of: Callable[[list[T]], T],
    any_of: Callable[[list[T]], T],
    negate: Callable[[T], T],
) -> T:
    """Fold the rule's condition(s), parsed by pySigma, bottom-up; several conditions are OR-ed."""
    detections = rule.detection

    def fold(node: Any) -> T:
        if isinstance(node, ConditionIdentifier):
            if node.identifier not in detections.detections:
                raise SigmaConditionError(
                    f"Detection '{node.identifier}' not defined in detections", source=rule.source
                )
            return detection(node.identifier, detections.detections[node.identifier])
        if isinstance(node, ConditionSelector):
            names = [found.identifier for found in node.resolve_referenced_detections(detections)]
            if not names:
                raise SigmaConditionError(
                    f"'{' of '.join(node.args)}' matches no detection", source=rule.source
                )
            children = [detection(name, detections.detections[name]) for name in names]
            return all_of(children) if node.cond_class is ConditionAND else any_of(children)
        if isinstance(node, ConditionNOT):
            return negate(fold(node.args[0]))
        if isinstance(node, ConditionAND):
            return all_of([fold(arg) for arg in node.args])
        if isinstance(node, ConditionOR):
            return any_of([fold(arg) for arg in node.args])
        raise _unsupported(rule, f"condition element {node!r}")

    return any_of([fold(condition.parse(postprocess=False)) for condition in detections.parsed_condition])


def detection_items(rule: SigmaRule) -> Iterator[SigmaDetectionItem]:
    """Every detection item of the rule, nested detections included."""

    def walk(detection: SigmaDetection) -> Iterator[SigmaDetectionItem]:
        for item in detection.detection_items:
            if isinstance(item, SigmaDetection):
                yield from walk(item)
            else:
                yield item

    for detection in rule.detection.detections.values():
        yield from walk(detection)


def flat_values(values: list[SigmaType]) -> Iterator[SigmaType]:
    """The values of an OR-linked value list with pySigma's expansions (OR groups) flattened."""
    for value in values:
        if isinstance(value, SigmaExpansion):
            yield from flat_values(value.values)
        else:
            yield value


_CASE_SENSITIVE_MODIFIERS = (SigmaCaseSensitiveModifier, SigmaBase64Modifier, SigmaBase64OffsetModifier)


def is_case_sensitive(item: SigmaDetectionItem, value: SigmaType) -> bool:
    """Whether a string value of the item compares exactly.

    Checked on the item's modifiers too: pySigma turns ``|cased|windash`` values back into plain
    SigmaStrings, and it does not mark base64 encodings at all.
    """
    return isinstance(value, SigmaCasedString) or any(
        modifier in _CASE_SENSITIVE_MODIFIERS for modifier in item.modifiers
    )


def rule_fields(rule: SigmaRule) -> frozenset[str]:
    """The event fields the rule reads (fields of its detection items and of field references)."""
    fields = set()
    for item in detection_items(rule):
        if item.field is not None:
            fields.add(item.field)
        fields.update(
            value.field for value in flat_values(item.value) if isinstance(value, SigmaFieldReference)
        )
    return frozenset(fields)


def uses_keywords(rule: SigmaRule) -> bool:
    """Whether the rule has field-less keyword detections (they read the whole event)."""
    return any(item.field is None for item in detection_items(rule))


def string_fields(rule: SigmaRule) -> frozenset[str]:
    """Fields the rule compares as text: the caller renders object values of these before matching."""
    fields = set()
    for item in detection_items(rule):
        for value in flat_values(item.value):
            if isinstance(value, SigmaString | SigmaRegularExpression) and item.field is not None:
                fields.add(item.field)
            elif isinstance(value, SigmaFieldReference):
                fields.update((item.field, value.field))
    return frozenset(fields)


# ----------------------------------------------------------------------------------------------
# Compilation


def compile_rule(rule: SigmaRule) -> Predicate:
    """Compile the rule's detections and condition once into a predicate over decoded events."""
    compiled: dict[str, Predicate] = {}

    def detection(name: str, definition: SigmaDetection) -> Predicate:
        if name not in compiled:
            compiled[name] = compile_detection(rule, definition)
        return compiled[name]

    return fold_condition(rule, detection, _all_of, _any_of, _negate)


def _unsupported(rule: SigmaRule, what: str) -> UnsupportedRuleError:
    return UnsupportedRuleError(f"the engine cannot evaluate {what}", source=rule.source, rule=rule.title)


def compile_detection(rule: SigmaRule, detection: SigmaDetection) -> Predicate:
    if not detection.detection_items:
        raise _unsupported(rule, "an empty detection")
    parts = [
        compile_detection(rule, item) if isinstance(item, SigmaDetection) else compile_item(rule, item)
        for item in detection.detection_items
    ]
    return _all_of(parts) if detection.item_linking is ConditionAND else _any_of(parts)


def compile_item(rule: SigmaRule, item: SigmaDetectionItem) -> Predicate:
    values: list[SigmaType] = item.value or [SigmaNull()]  # pySigma: an empty value list means null
    if item.value_linking is ConditionAND and len(values) > 1:  # |all: every value, each on its own
        predicate = _all_of([_compile_values(rule, item, [value]) for value in values])
    else:
        predicate = _compile_values(rule, item, values)
    return _negate(predicate) if item.negated else predicate


def _compile_values(rule: SigmaRule, item: SigmaDetectionItem, values: list[SigmaType]) -> Predicate:
    """OR over values of one item: the values are grouped by kind so that each kind is one test."""
    groups = _ValueGroups(rule, item)
    for value in flat_values(values):
        groups.add(value)
    if item.field is None:
        return _keyword_predicate(groups.value_test())
    get = compile_field(item.field)
    parts = [groups.field_predicate(get, item.field)]
    parts.extend(_field_reference_predicate(get, reference, groups.cased) for reference in groups.references)
    return _any_of([part for part in parts if part is not None])


class _ValueGroups:
    """The values of one detection item, sorted by how they are tested."""

    def __init__(self, rule: SigmaRule, item: SigmaDetectionItem):
        self.rule = rule
        self.item = item
        # field references compare exactly under |cased (pySigma's SigmaFieldReference has no case flag)
        self.cased = any(modifier in _CASE_SENSITIVE_MODIFIERS for modifier in item.modifiers)
        self.caseless_strings: list[SigmaString] = []
        self.cased_strings: list[SigmaString] = []
        self.regexes: list[re.Pattern[str]] = []
        self.numbers: list[int | float] = []
        self.comparisons: list[Callable[[Any], bool]] = []
        self.booleans: set[bool] = set()
        self.networks: list[IPv4Network | IPv6Network] = []
        self.presence: list[ValueTest] = []
        self.references: list[SigmaFieldReference] = []
        self._text_tests: tuple[_StringShapes | None, TextTest | None] | None = None

    def add(self, value: SigmaType) -> None:
        keyword = self.item.field is None
        if isinstance(value, SigmaString):
            if value.contains_placeholder():
                raise self._unsupported(
                    value, "an |expand placeholder (resolve it with a processing pipeline)"
                )
            strings = self.cased_strings if is_case_sensitive(self.item, value) else self.caseless_strings
            strings.append(value)
        elif isinstance(value, SigmaRegularExpression):
            if value.contains_placeholder():
                raise self._unsupported(
                    value, "an |expand placeholder (resolve it with a processing pipeline)"
                )
            self.regexes.append(_compile_regex(value))
        elif isinstance(value, SigmaTimestampPart):  # before SigmaNumber: it is one
            raise self._unsupported(value, f"the timestamp modifier |{value.timestamp_part.name.lower()}")
        elif isinstance(value, SigmaNumber):
            self.numbers.append(value.number)
        elif isinstance(value, SigmaCompareExpression):
            self.comparisons.append(_comparison(value))
        elif isinstance(value, SigmaBool):
            self.booleans.add(value.boolean)
        elif isinstance(value, SigmaCIDRExpression):
            self.networks.append(value.network)
        elif isinstance(value, SigmaNull) and not keyword:
            self.presence.append(_is_absent)
        elif isinstance(value, SigmaExists) and not keyword:
            self.presence.append(_is_present if value.exists else _is_absent)
        elif isinstance(value, SigmaFieldReference) and not keyword:
            self.references.append(value)
        elif isinstance(value, SigmaQueryExpression):
            raise self._unsupported(value, "a query expression")
        else:
            raise self._unsupported(value, f"the value type {type(value).__name__}")

    def _unsupported(self, value: SigmaType, what: str) -> UnsupportedRuleError:
        where = f"field '{self.item.field}'" if self.item.field is not None else "a keyword"
        return _unsupported(self.rule, f"{what} ({where}, value '{value}')")

    def text_tests(self) -> tuple[_StringShapes | None, TextTest | None]:
        """The caseless string shapes (over lowered text) and the exact test (over original text)."""
        if self._text_tests is None:
            self._text_tests = self._build_text_tests()
        return self._text_tests

    def _build_text_tests(self) -> tuple[_StringShapes | None, TextTest | None]:
        caseless = _StringShapes(self.caseless_strings, lower=True) if self.caseless_strings else None
        exact = _first_true(
            [
                _StringShapes(self.cased_strings, lower=False).test if self.cased_strings else None,
                *(_regex_test(pattern) for pattern in self.regexes),
            ]
        )
        return caseless, exact

    def value_test(self) -> ValueTest:
        """One test over a resolved value (any JSON value, MISSING included)."""
        caseless, exact = self.text_tests()
        text = _text_test(caseless.test if caseless else None, exact)
        number = _first_true([_number_equality(self.numbers), *self.comparisons])
        boolean = self.booleans.__contains__ if self.booleans else None
        address = _network_test(self.networks)
        scalar = _scalar_test(text, number, boolean, address)
        return _first_true([*self.presence, scalar]) or _never

    def field_predicate(self, get: Callable[[dict], Any], field: str) -> Predicate | None:
        """The predicate over the event for everything except field references (None: nothing else)."""
        caseless, exact = self.text_tests()
        other_kinds = self.numbers or self.comparisons or self.booleans or self.networks or self.presence
        if caseless is None and exact is None and not other_kinds:
            return None
        test = self.value_test()
        if caseless is not None and exact is None and not other_kinds:
            return _caseless_string_predicate(get, field, caseless, test)
        return lambda event: test(get(event))


# ----------------------------------------------------------------------------------------------
# Strings


class _StringShapes:
    """A set of Sigma strings (OR), sorted into shapes that need no regular expression.

    ``test(text)`` gets the event text already lowered when ``lower`` is set.
    """

    def __init__(self, strings: list[SigmaString], *, lower: bool):
        self.equals: set[str] = set()
        self.prefixes: list[str] = []
        self.suffixes: list[str] = []
        self.infixes: list[str] = []
        self.patterns: list[str] = []
        self.any_text = False
        for string in strings:
            self._add(_normalised_parts(string, lower))
        self.test = self._build_test()

    def _add(self, parts: list[str | SpecialChars]) -> None:
        multi = SpecialChars.WILDCARD_MULTI
        literal_parts = [part for part in parts if isinstance(part, str)]
        if len(literal_parts) == len(parts):
            self.equals.add("".join(literal_parts))
        elif parts == [multi]:
            self.any_text = True
        elif len(parts) == 2 and parts[1] is multi and isinstance(parts[0], str):
            self.prefixes.append(parts[0])
        elif len(parts) == 2 and parts[0] is multi and isinstance(parts[1], str):
            self.suffixes.append(parts[1])
        elif len(parts) == 3 and parts[0] is multi and parts[2] is multi and isinstance(parts[1], str):
            self.infixes.append(parts[1])
        else:
            self.patterns.append("".join(_wildcard_regex(part) for part in parts))

    def _build_test(self) -> TextTest:
        if self.any_text:
            return _always
        tests: list[TextTest | None] = []
        if self.equals:
            tests.append(
                next(iter(self.equals)).__eq__
                if len(self.equals) == 1
                else frozenset(self.equals).__contains__
            )
        if self.prefixes:
            prefixes = tuple(self.prefixes)
            tests.append(lambda text: text.startswith(prefixes))
        if self.suffixes:
            suffixes = tuple(self.suffixes)
            tests.append(lambda text: text.endswith(suffixes))
        if self.infixes:
            tests.append(_infix_test(self.infixes))
        if self.patterns:
            # One alternation, fullmatch: anchored at both ends; DOTALL so that * spans newlines.
            combined = re.compile("|".join(f"(?:{pattern})" for pattern in self.patterns), re.DOTALL)
            tests.append(_regex_fullmatch_test(combined))
        return _first_true(tests) or _never

    @property
    def only_equals(self) -> bool:
        return not (self.any_text or self.prefixes or self.suffixes or self.infixes or self.patterns)


def _normalised_parts(string: SigmaString, lower: bool) -> list[str | SpecialChars]:
    """Adjacent literal parts merged, repeated ``*`` collapsed, literals lowered if caseless."""
    parts: list[str | SpecialChars] = []
    for part in string.s:
        if isinstance(part, Placeholder):  # pragma: no cover - rejected before
            raise TypeError("placeholder")
        if isinstance(part, str):
            part = part.lower() if lower else part
            if parts and isinstance(parts[-1], str):
                parts[-1] += part
                continue
        elif part is SpecialChars.WILDCARD_MULTI and parts and parts[-1] is SpecialChars.WILDCARD_MULTI:
            continue
        parts.append(part)
    return parts


def _wildcard_regex(part: str | SpecialChars) -> str:
    if part is SpecialChars.WILDCARD_MULTI:
        return ".*"
    if part is SpecialChars.WILDCARD_SINGLE:
        return "."
    return re.escape(part)


def _infix_test(infixes: list[str]) -> TextTest:
    if len(infixes) == 1:
        (infix,) = infixes
        return lambda text: infix in text
    candidates = tuple(infixes)
    return lambda text: any(infix in text for infix in candidates)


def _regex_fullmatch_test(pattern: re.Pattern[str]) -> TextTest:
    fullmatch = pattern.fullmatch
    return lambda text: fullmatch(text) is not None


def _regex_test(pattern: re.Pattern[str]) -> TextTest:
    search = pattern.search
    return lambda text: search(text) is not None


_REGEX_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}


def _compile_regex(value: SigmaRegularExpression) -> re.Pattern[str]:
    flags = 0
    for flag in value.flags:
        flags |= _REGEX_FLAGS[flag]
    return re.compile(str(value.regexp), flags)


def _text_test(caseless: TextTest | None, exact: TextTest | None) -> TextTest | None:
    """One test over the original event text."""
    if caseless and exact:
        return lambda text: caseless(text.lower()) or exact(text)
    if caseless:
        return lambda text: caseless(text.lower())
    return exact


def _caseless_string_predicate(
    get: Callable[[dict], Any], field: str, shapes: _StringShapes, test: ValueTest
) -> Predicate:
    """The hot path: a str event value is lowered and tested inline; anything else takes ``test``."""
    if shapes.only_equals and len(shapes.equals) == 1:
        (literal,) = shapes.equals
        if "." not in field:

            def equals_top_level(event: dict) -> bool:
                value = event.get(field, MISSING)
                if value.__class__ is str:
                    return value.lower() == literal
                return test(value)

            return equals_top_level

        def equals(event: dict) -> bool:
            value = get(event)
            if value.__class__ is str:
                return value.lower() == literal
            return test(value)

        return equals

    if shapes.only_equals:
        literals = frozenset(shapes.equals)

        def one_of(event: dict) -> bool:
            value = get(event)
            if value.__class__ is str:
                return value.lower() in literals
            return test(value)

        return one_of

    text_test = shapes.test

    def matches_text(event: dict) -> bool:
        value = get(event)
        if value.__class__ is str:
            return text_test(value.lower())
        return test(value)

    return matches_text


# ----------------------------------------------------------------------------------------------
# Scalars, numbers, booleans, networks, presence


_NUMERIC_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_BOOLEAN_TEXT = {"true": True, "false": False}


def number_of_text(text: str) -> int | float | None:
    """The number a numeric string spells (``"5"``, ``"-1.5e3"``), else None."""
    if _NUMERIC_TEXT.fullmatch(text) is None:
        return None
    try:
        number: int | float = int(text)
    except ValueError:  # a fraction or an exponent, or more digits than int() accepts: a float
        number = float(text)
    return finite(number)  # "1e999" is not a number (semantics.as_number)


def _scalar_test(
    text: TextTest | None,
    number: Callable[[Any], bool] | None,
    boolean: Callable[[bool], bool] | None,
    address: TextTest | None,
) -> ValueTest | None:
    """Dispatch on the event value's JSON type once; lists match when any element matches."""
    on_string = _first_true(
        [
            text,
            (lambda value: (found := number_of_text(value)) is not None and number(found))
            if number
            else None,
            (lambda value: (found := _BOOLEAN_TEXT.get(value.lower())) is not None and boolean(found))
            if boolean
            else None,
            address,
        ]
    )
    via_text = (lambda value: text(text_of(value))) if text else None
    on_number = _first_true([via_text, number])
    on_boolean = _first_true([via_text, boolean])
    if on_string is None and on_number is None and on_boolean is None:
        return None
    on_string = on_string or _never
    on_number = on_number or _never
    on_boolean = on_boolean or _never

    def test(value: Any) -> bool:
        kind = value.__class__
        if kind is str:
            return on_string(value)
        if kind is list:
            for element in value:  # noqa: SIM110 - no generator per event
                if test(element):
                    return True
            return False
        if kind is int or kind is float:
            return on_number(value)
        if kind is bool:
            return on_boolean(value)
        return False  # MISSING, None and objects

    return test


def _number_equality(numbers: list[int | float]) -> Callable[[Any], bool] | None:
    if not numbers:
        return None
    if len(numbers) == 1:
        (number,) = numbers
        return lambda value: value == number
    return frozenset(numbers).__contains__  # hash(5) == hash(5.0): numeric equality holds


_COMPARE_OPERATORS = {
    CompareOperators.LT: operator.lt,
    CompareOperators.LTE: operator.le,
    CompareOperators.GT: operator.gt,
    CompareOperators.GTE: operator.ge,
    CompareOperators.NEQ: operator.ne,
}


def _comparison(value: SigmaCompareExpression) -> Callable[[Any], bool]:
    compare = _COMPARE_OPERATORS[value.op]
    bound = value.number.number
    return lambda number: compare(number, bound)


def _network_test(networks: list[IPv4Network | IPv6Network]) -> TextTest | None:
    if not networks:
        return None
    candidates = tuple(networks)

    def in_networks(text: str) -> bool:
        try:
            address = ip_address(text)
        except ValueError:
            return False
        return any(address in network for network in candidates)  # other IP version: False

    return in_networks


def _is_absent(value: Any) -> bool:
    return value is MISSING or value is None


def _is_present(value: Any) -> bool:
    return value is not MISSING and value is not None


# ----------------------------------------------------------------------------------------------
# Field references and keywords


def _field_reference_predicate(
    get: Callable[[dict], Any], reference: SigmaFieldReference, cased: bool
) -> Predicate:
    """The field's text equals (or starts with, ends with, contains) the referenced field's text."""
    get_other = compile_field(reference.field)
    if reference.starts_with and reference.ends_with:
        compare = operator.contains  # contains(text, other): other in text
    elif reference.starts_with:
        compare = str.startswith
    elif reference.ends_with:
        compare = str.endswith
    else:
        compare = operator.eq

    def references(event: dict) -> bool:
        others = _texts(get_other(event), cased)
        if not others:
            return False
        return any(compare(text, other) for text in _texts(get(event), cased) for other in others)

    return references


def _texts(value: Any, cased: bool) -> list[str]:
    """The texts of a resolved value for comparisons (a list gives its elements' texts)."""
    kind = value.__class__
    if kind is list:
        return [text for element in value for text in _texts(element, cased)]
    if kind is str or kind is int or kind is float or kind is bool:
        text = text_of(value)
        return [text if cased else text.lower()]
    return []  # MISSING, None and objects


def _keyword_predicate(test: ValueTest) -> Predicate:
    """Any scalar anywhere in the event (object values, list elements, recursively) passes ``test``."""

    def anywhere(value: Any) -> bool:
        kind = value.__class__
        if kind is dict:
            for inner in value.values():  # noqa: SIM110 - no generator per event
                if anywhere(inner):
                    return True
            return False
        if kind is list:
            for inner in value:  # noqa: SIM110 - no generator per event
                if anywhere(inner):
                    return True
            return False
        return test(value)

    return anywhere


# ----------------------------------------------------------------------------------------------
# Boolean combinators: flat closures, short-circuiting, no per-event loops for up to three parts.
# Two-valued on purpose, and not the semantics module's three-valued conjunction/disjunction: a
# detection item is true or false (Sigma has no unknown), and these run once per event, where a
# generator or a loop per call costs more than the test itself. The `aggregate` condition, evaluated
# once per group, uses the three-valued ones (evaluate.py).


def _always(_: Any) -> bool:
    return True


def _never(_: Any) -> bool:
    return False


def _first_true(tests: list[Callable[[Any], bool] | None]) -> Callable[[Any], bool] | None:
    """OR over one-argument tests (None entries skipped); None when there is nothing to test."""
    present = [test for test in tests if test is not None]
    return _any_of(present) if present else None


def _any_of(parts: list[Callable[[Any], bool]]) -> Callable[[Any], bool]:
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        return lambda subject: first(subject) or second(subject)
    if len(parts) == 3:
        first, second, third = parts
        return lambda subject: first(subject) or second(subject) or third(subject)
    candidates = tuple(parts)

    def any_part(subject: Any) -> bool:
        for part in candidates:  # noqa: SIM110 - no generator per event
            if part(subject):
                return True
        return False

    return any_part


def _all_of(parts: list[Callable[[Any], bool]]) -> Callable[[Any], bool]:
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        return lambda subject: first(subject) and second(subject)
    if len(parts) == 3:
        first, second, third = parts
        return lambda subject: first(subject) and second(subject) and third(subject)
    required = tuple(parts)

    def all_parts(subject: Any) -> bool:
        for part in required:  # noqa: SIM110 - no generator per event
            if not part(subject):
                return False
        return True

    return all_parts


def _negate(part: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda subject: not part(subject)
