"""The value semantics of sigma-okta, in one place.

Every consumer of the rule model obeys these rules: the Python engine calls these functions, the SQL
targets render their equivalents, and ``docs/aggregate-correlation.md`` documents them. Tests compare
the targets against these functions, so a change here is a change of the language.

- Text of a value (group keys, collapse keys, ``distinct`` and ``values``): strings are themselves;
  booleans are ``true``/``false``; integers their decimal digits; other numbers their shortest
  round-trip repr; an object is rendered in Okta's own ``{key=value, ...}`` map form (how the System
  Log serialises ``debugData.behaviors``); a list as ``[a, b]``; JSON null has no text (``None``).
- Numeric metrics (sum, min, max, avg) read JSON numbers and strings that are decimal numbers
  (``"42"``, ``"-1.5e3"``); booleans and other values are ignored, as SQL's ``TRY_CAST`` ignores them.
- A percentile P of n numbers (their doubles, sorted x[0..n-1]) interpolates linearly between the
  closest ranks: h = (n - 1) * (P / 100), l = floor(h); x[l] when h == l, else
  x[l] + (h - l) * (x[l + 1] - x[l]), each step an IEEE-754 double operation (DuckDB's quantile_cont
  and Spark's percentile rank the same way; the SQL targets write this formula out so that the last
  bit agrees too). No numbers: null.
- Arithmetic is IEEE-754 double. Null in, null out; ``x / 0`` is null.
- ``round(x, n)`` rounds the shortest decimal representation of ``x`` half away from zero, so
  ``round(99 / 200, 2)`` is 0.5 although the double nearest 0.495 lies below it.
- Comparisons with null are unknown; and/or/not follow SQL's three-valued logic; a condition holds
  only when it is true (unknown counts as false).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Context, Decimal
from math import isfinite
from typing import Any

NULL_TEXT = "NULL"  # Splunk's `fillnull value=NULL`, the text of a missing group-by or collapse value


def text_of(value: Any) -> str | None:
    """The canonical text of a JSON value, or None for JSON null."""
    kind = type(value)
    if kind is str:
        return value
    if value is None:
        return None
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return repr(value)
    if kind is dict:
        return "{" + ", ".join(f"{k}={_inner_text(v)}" for k, v in value.items()) + "}"
    if kind is list:
        return "[" + ", ".join(_inner_text(v) for v in value) + "]"
    return str(value)


def _inner_text(value: Any) -> str:
    text = text_of(value)
    return "null" if text is None else text


# ASCII digits, padded by ASCII space, tab, line feed or carriage return only: the one reading that
# every target's regular-expression engine spells the same way (Python's \d and \s take Unicode).
_DECIMAL_NUMBER = re.compile(r"[ \t\n\r]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t\n\r]*")
_INTEGER = re.compile(r"[ \t\n\r]*[+-]?[0-9]+[ \t\n\r]*")


def as_number(value: Any) -> int | float | None:
    """The number a value stands for in numeric metrics, or None when it is not one.

    Numbers are finite doubles: text that spells a number beyond the double range (``"1e999"``) is not
    a number, as no target can hold it (a JSON number like that is kept as its text by the decoder).
    """
    kind = type(value)
    if kind is int:
        return value if -_DOUBLE_LIMIT < value < _DOUBLE_LIMIT else None
    if kind is float:
        return value if isfinite(value) else None
    if kind is str and _DECIMAL_NUMBER.fullmatch(value):
        if _INTEGER.fullmatch(value):
            return as_number(int(value))
        number = float(value)
        return number if isfinite(number) else None
    return None


# Integers from here on round to an infinite double.
_DOUBLE_LIMIT = 2**1024 - 2**970


def finite(value: int | float | None) -> int | float | None:
    """A computed number, or None when it is not finite (an overflowing sum or product): the pack's
    values have no infinities and no NaN, in every engine and target."""
    kind = value.__class__
    if kind is float:
        return value if isfinite(value) else None
    if kind is int and not -_DOUBLE_LIMIT < value < _DOUBLE_LIMIT:
        return None
    return value


def divide(numerator: float | None, denominator: float | None) -> float | None:
    """Division with the language's null rules: null operands and a zero denominator give null, and so
    does a quotient beyond the double range."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    try:
        return finite(numerator / denominator)
    except OverflowError:  # int / int beyond the double range
        return None


def interpolated_percentile(numbers: list[float], percentile: float) -> float | None:
    """The ``percentile`` (0 to 100) of ``numbers``, sorted in place, as the module docstring defines it."""
    if not numbers:
        return None
    numbers.sort()
    rank = (len(numbers) - 1) * (percentile / 100)
    low = int(rank)  # floor: rank is not negative
    if rank == low:
        return numbers[low]
    return numbers[low] + (rank - low) * (numbers[low + 1] - numbers[low])


def round_half_away(value: float | None, digits: int) -> float | None:
    """Round the shortest decimal representation of ``value`` to ``digits`` places, half away from zero."""
    if value is None:
        return None
    if value != value or value in (float("inf"), float("-inf")):
        return value
    quantum = Decimal(1).scaleb(-digits)
    # enough precision for any double's digits plus the requested places (the default 28 is not)
    return float(Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP, context=_ROUNDING))


_ROUNDING = Context(prec=400)


# --- SQL's three-valued logic: True, False, or None (unknown) ----------------------------------------
# The engine evaluates conditions with these; the targets render the same truth tables into their
# languages (``ExpressionDialect.truth`` in the conversion targets).


def conjunction(values: Iterable[bool | None]) -> bool | None:
    """``a and b and ...``: false if any is false, else unknown if any is unknown, else true. Reads
    ``values`` lazily and stops at the first false."""
    result: bool | None = True
    for value in values:
        if value is False:
            return False
        if value is None:
            result = None
    return result


def disjunction(values: Iterable[bool | None]) -> bool | None:
    """``a or b or ...``: true if any is true, else unknown if any is unknown, else false. Reads
    ``values`` lazily and stops at the first true."""
    result: bool | None = False
    for value in values:
        if value is True:
            return True
        if value is None:
            result = None
    return result


def negation(value: bool | None) -> bool | None:
    """``not a``: unknown stays unknown."""
    return None if value is None else not value
