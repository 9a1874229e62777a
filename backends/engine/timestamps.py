"""Event time: a field compiled once into a getter that returns epoch microseconds (int, UTC).

Accepted values:

- ISO 8601 text ``YYYY-MM-DD[T| ]HH:MM:SS[.f]`` with 1 to 9 fraction digits (``,`` also accepted as
  the decimal mark; digits past the microsecond are truncated), then ``Z``, ``+hh:mm``, ``+hhmm``,
  ``+hh`` (or ``-``), or nothing: naive times are UTC. ``T`` and ``Z`` may be lower case (RFC 3339).
  Okta's own form is ``2024-03-01T12:34:56.789Z``; Panther's tests use ``2022-06-22 18:18:29.015`` and
  ``2020-11-25 21:27:03.496000000``.
- JSON numbers, as epoch seconds, or milliseconds when their absolute value is at least 1e11 (1e11 s is
  the year 5138, 1e11 ms is 1973-03-03). Floats allowed. Booleans are not numbers here.

Everything else is bad: numeric *strings* (no exporter of Okta events writes epochs as text, as far as
we found), dates without a time, impossible dates (``2017-09-31``, seen in a published sample), leap
seconds, values outside the years 1 to 9999, surrounding whitespace.

The getter never raises: it returns :data:`MISSING_TIME` when the field is absent or null and
:data:`BAD_TIME` when its value cannot be read. Both are ints far below any real time (``t <=
MISSING_TIME`` tests for either), and the getter returns these very objects, so ``t is MISSING_TIME``
works too.

Speed: Okta's events come in time order, so a small dict maps the ``YYYY-MM-DDTHH:MM:SS`` prefix to its
epoch and another maps the common tails (``.mmmZ``, ``.mmm``, ``Z``, none) to microseconds: the usual
string costs two slices and two dict lookups. Other strings take the regular expression path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Final

from sigma.backends.okta.engine.fields import MISSING, compile_field

MISSING_TIME: Final[int] = -(1 << 62)
BAD_TIME: Final[int] = MISSING_TIME - 1

MICROS_PER_SECOND = 1_000_000
MILLISECONDS_THRESHOLD = 10**11  # a JSON number at least this large (in absolute value) is milliseconds
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
EARLIEST_TIME = (date.min.toordinal() - _EPOCH_ORDINAL) * 86400 * MICROS_PER_SECOND
END_OF_TIME = (date.max.toordinal() + 1 - _EPOCH_ORDINAL) * 86400 * MICROS_PER_SECOND  # exclusive

_ISO_8601 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?"
    r"(?:[Zz]|([+-])(\d{2})(?::?(\d{2}))?)?",
    re.ASCII,
)
_PREFIX_LENGTH = len("2024-03-01T12:34:56")
# Wall-clock prefix -> its epoch in microseconds; only prefixes that parsed are ever stored.
_SECOND_OF_PREFIX: dict[str, int] = {}
_PREFIX_CACHE_LIMIT = 1 << 16
# The tails of the usual forms -> microseconds past the second.
_MICROS_OF_TAIL: dict[str, int] = {"": 0, "Z": 0}
for _millis in range(1000):
    _MICROS_OF_TAIL[f".{_millis:03d}Z"] = _MICROS_OF_TAIL[f".{_millis:03d}"] = _millis * 1000
del _millis


def compile_time_getter(field: str = "published") -> Callable[[dict], int]:
    """A getter from an event to its time in epoch microseconds, or MISSING_TIME / BAD_TIME."""
    second_of_prefix = _SECOND_OF_PREFIX
    micros_of_tail = _MICROS_OF_TAIL

    if "." in field:
        get = compile_field(field)

        def time_at_path(event: dict) -> int:
            value = get(event)
            if value is MISSING or value is None:
                return MISSING_TIME
            return parse_time(value)

        return time_at_path

    # A plain key: compile_field's getter is event.get(key), inlined here (null is missing alike).
    def time_of(event: dict) -> int:
        value = event.get(field)
        if type(value) is str:
            second = second_of_prefix.get(value[:19])
            if second is not None:
                micros = micros_of_tail.get(value[19:])
                if micros is not None:
                    return second + micros
            return _parse_text(value)
        if value is None:
            return MISSING_TIME
        return parse_time(value)

    return time_of


def parse_time(value: Any) -> int:
    """Epoch microseconds of a JSON value (see the module's docstring), or BAD_TIME / MISSING_TIME."""
    if type(value) is str:
        return _parse_text(value)
    if type(value) is int or type(value) is float:
        return _parse_number(value)
    if value is None or value is MISSING:
        return MISSING_TIME
    return BAD_TIME


def _parse_text(text: str) -> int:
    match = _ISO_8601.fullmatch(text)
    if match is None:
        return BAD_TIME
    second = _second_of_prefix(text[:_PREFIX_LENGTH], match)
    if second is None:
        return BAD_TIME
    _, _, _, _, _, _, fraction, sign, offset_hours, offset_minutes = match.groups()
    micros = int(fraction[:6].ljust(6, "0")) if fraction else 0
    offset = 0
    if sign:
        hours, minutes = int(offset_hours), int(offset_minutes or 0)
        if hours > 23 or minutes > 59:
            return BAD_TIME
        offset = (hours * 3600 + minutes * 60) * MICROS_PER_SECOND
        if sign == "-":
            offset = -offset
    return _checked(second + micros - offset)


def _second_of_prefix(prefix: str, match: re.Match[str]) -> int | None:
    second = _SECOND_OF_PREFIX.get(prefix)
    if second is not None:
        return second
    year, month, day, hour, minute, sec = (int(part) for part in match.groups()[:6])
    try:
        moment = datetime(year, month, day, hour, minute, sec)  # validates: no 2017-09-31, no 24:00
    except ValueError:
        return None
    days = moment.toordinal() - _EPOCH_ORDINAL
    second = ((days * 24 + hour) * 60 + minute) * 60 + sec
    if len(_SECOND_OF_PREFIX) >= _PREFIX_CACHE_LIMIT:
        _SECOND_OF_PREFIX.clear()  # events are in time order: old seconds are not coming back
    _SECOND_OF_PREFIX[prefix] = second * MICROS_PER_SECOND
    return second * MICROS_PER_SECOND


def _parse_number(value: float) -> int:
    if type(value) is float and not math.isfinite(value):
        return BAD_TIME
    scale = 1000 if abs(value) >= MILLISECONDS_THRESHOLD else MICROS_PER_SECOND
    micros = value * scale if type(value) is int else round(value * scale)
    return _checked(micros)


def _checked(micros: int) -> int:
    return micros if EARLIEST_TIME <= micros < END_OF_TIME else BAD_TIME


def format_time(micros: int) -> str:
    """ISO 8601 UTC: ``2024-03-01T12:34:56.789Z``, or six fraction digits when not whole milliseconds."""
    if not EARLIEST_TIME <= micros < END_OF_TIME:
        raise ValueError(f"not a time: {micros}")
    seconds, fraction = divmod(micros, MICROS_PER_SECOND)
    days, second_of_day = divmod(seconds, 86400)
    day = date.fromordinal(_EPOCH_ORDINAL + days)
    hour, rest = divmod(second_of_day, 3600)
    minute, second = divmod(rest, 60)
    digits = f"{fraction // 1000:03d}" if fraction % 1000 == 0 else f"{fraction:06d}"
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{digits}Z"


__all__ = [
    "BAD_TIME",
    "EARLIEST_TIME",
    "END_OF_TIME",
    "MILLISECONDS_THRESHOLD",
    "MISSING_TIME",
    "compile_time_getter",
    "format_time",
    "parse_time",
]
