"""Base rules of caseless literal tests evaluated in C, when the native kernel is built.

A rule qualifies when every detection item its condition reads is a field compared with caseless ASCII
strings that are equal, prefix (``|startswith``), suffix (``|endswith``) or infix (``|contains``)
shapes, in any AND/OR/NOT of detections, ``|all`` and ``1 of``/``all of`` included. Its program (see
``rule_predicates.c``) is built from the same pySigma parse and the same string shapes as
:mod:`.matcher`, and the C predicate calls the rule's Python predicate for every event it is not sure
of (a list, number, boolean or non-ASCII text where a literal is tested, a field reached only through a
dotted key or a list). So the rule's answer is matcher.py's; only the common case runs in C.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sigma.conditions import ConditionAND
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import SigmaString

from .fields import _spellings, event_path
from .matcher import _StringShapes, flat_values, fold_condition, is_case_sensitive
from .native_projection import _kernel, native_enabled

Predicate = Callable[[dict], bool]


class NotNative(Exception):
    """The rule has a test the C predicate does not evaluate: it keeps its Python predicate."""


def native_predicates(rules: Sequence[SigmaRule], predicates: list[Predicate]) -> list[Predicate]:
    """``predicates`` with those of the qualifying rules replaced by C predicates (each falling back on
    the Python one); unchanged when the kernel is not built or is switched off."""
    if not native_enabled():
        return predicates
    result = []
    for rule, predicate in zip(rules, predicates, strict=True):
        program = rule_program(rule)
        result.append(predicate if program is None else _kernel.RulePredicate(program, predicate))
    return result


def rule_program(rule: SigmaRule) -> tuple | None:
    """The rule's program for ``RulePredicate``, or None when it does not qualify."""
    try:
        return fold_condition(
            rule,
            lambda _name, detection: _detection(detection),
            lambda parts: ("and", tuple(parts)),
            lambda parts: ("or", tuple(parts)),
            lambda part: ("not", part),
        )
    except NotNative:
        return None


def _detection(detection: SigmaDetection) -> tuple:
    if not detection.detection_items:
        raise NotNative
    parts = tuple(
        _detection(item) if isinstance(item, SigmaDetection) else _item(item)
        for item in detection.detection_items
    )
    return ("and" if detection.item_linking is ConditionAND else "or", parts)


def _item(item: SigmaDetectionItem) -> tuple:
    values = item.value
    if item.field is None or not values:
        raise NotNative  # keywords; null
    if item.value_linking is ConditionAND and len(values) > 1:  # |all: every value, each on its own
        program: tuple = ("and", tuple(_test(item, list(flat_values([value]))) for value in values))
    else:
        program = _test(item, list(flat_values(values)))
    return ("not", program) if item.negated else program


def _test(item: SigmaDetectionItem, values: list[Any]) -> tuple:
    for value in values:
        if (
            not isinstance(value, SigmaString)
            or value.contains_placeholder()
            or is_case_sensitive(item, value)
        ):
            raise NotNative
    shapes = _StringShapes(values, lower=True)
    if shapes.any_text or shapes.patterns:
        raise NotNative
    literals = [sorted(shapes.equals), shapes.prefixes, shapes.suffixes, shapes.infixes]
    if not all(text.isascii() for texts in literals for text in texts):
        raise NotNative  # the C side lowers ASCII only
    segments = event_path(item.field).split(".")
    dotted = tuple(_spellings(segments)[1:]) if len(segments) > 1 else ()
    return ("item", tuple(segments), dotted, *(tuple(text.encode() for text in texts) for texts in literals))
