"""One NDJSON line to one event: orjson on the raw bytes, and a repair path that only runs on failure.

:func:`decode_line` never raises. Its answers:

- ``(event, None)``: a good line (the fast path: ``orjson.loads`` straight on the bytes; orjson accepts
  the surrounding JSON whitespace, so a CRLF line's ``\\r`` costs nothing);
- ``(event, Reason.BOM)``: the line started with a UTF-8 byte-order mark, stripped;
- ``(event, Reason.INVALID_UTF8)``: bytes that are not UTF-8 were replaced by U+FFFD, or string escapes
  that are lone UTF-16 surrogates (``"\\ud83d"`` cut from its pair, which orjson rejects) were. When a
  line has both a BOM and invalid UTF-8, INVALID_UTF8 is reported: it is the repair that changed data;
- ``(event, Reason.NON_FINITE_NUMBER)``: a JSON number beyond the double range (``1e999``, which
  orjson rejects) is kept as its text, which is not a number (``semantics.as_number``): the event
  stays, the value is ignored by numeric tests and metrics;
- ``(None, Reason.TOO_DEEP)``: the line nests deeper than :data:`MAX_DEPTH` levels (orjson's limit), so
  no decoder of the engine takes it; checked before any repair, so it wins over the line's other faults;
- ``(None, Reason.MALFORMED_JSON)`` / ``(None, Reason.NOT_AN_OBJECT)``: dropped;
- ``(None, None)``: a blank line (JSON whitespace only, BOM included): not an offence.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from sigma.backends.okta.engine.input_report import Reason
from sigma.pipelines.okta.semantics import finite

BOM = b"\xef\xbb\xbf"
JSON_WHITESPACE = b" \t\r\n"

#: The deepest nesting an event may have: orjson's own limit (it refuses the 1,025th level), so that
#: the fast path and the repairs agree. The stdlib decoder of the repairs recurses in Python and is
#: given the headroom it needs for this depth (:func:`recursion_headroom`), whatever the caller's stack.
MAX_DEPTH = 1024
# a value nested MAX_DEPTH deep takes the stdlib's scanner (and _replace_lone_surrogates, whose
# comprehensions are frames of their own) up to about three frames a level
_HEADROOM = 3 * MAX_DEPTH + 100

_NOT_AN_OBJECT = Reason.NOT_AN_OBJECT
_FAILED: Any = object()
# strings (possessive: no backtracking on long ones) and brackets, to measure nesting outside strings
_STRUCTURE = re.compile(rb'"(?:[^"\\]++|\\.)*+"|[\[\]{}]', re.DOTALL)
_OPENERS = frozenset(b"[{")


def decode_line(line: bytes) -> tuple[dict | None, Reason | None]:
    """Decode one line into an event; see the module's docstring for the answers."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return _decode_failed_line(line)
    if type(value) is dict:
        return value, None
    return None, _NOT_AN_OBJECT


def _decode_failed_line(line: bytes) -> tuple[dict | None, Reason | None]:
    """The slow path: find out why orjson refused the line, repair what can be repaired."""
    body = line[len(BOM) :] if line.startswith(BOM) else line
    if not body.strip(JSON_WHITESPACE):
        return None, None
    if nests_deeper(body, MAX_DEPTH):
        return None, Reason.TOO_DEEP
    with recursion_headroom():
        return _repaired(line, body)


def _repaired(line: bytes, body: bytes) -> tuple[dict | None, Reason | None]:
    repair = Reason.BOM if body is not line else None
    value = _loads(body) if repair else _FAILED
    if value is _FAILED:
        text = _valid_text(body)
        if text is None:
            text = body.decode("utf-8", "replace")
            repair = Reason.INVALID_UTF8
            value = _loads(text)
        if value is _FAILED and "\\u" in text:
            value = _loads_with_lone_surrogates(text)
            if value is not _FAILED:
                repair = Reason.INVALID_UTF8
    if value is _FAILED:
        value = _loads_keeping_non_finite_numbers(body)
        if value is _FAILED:
            return None, Reason.MALFORMED_JSON
        repair = Reason.NON_FINITE_NUMBER
    if type(value) is not dict:
        return None, _NOT_AN_OBJECT
    return value, repair


def nests_deeper(data: bytes, limit: int) -> bool:
    """Whether brackets outside strings nest more than ``limit`` levels deep (a bracket count rules
    most lines out first: it costs a microsecond where the scan costs tens)."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    depth = 0
    for match in _STRUCTURE.finditer(data):
        token = match.group()
        if len(token) != 1:
            continue  # a string
        if token[0] in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        elif depth:
            depth -= 1
    return False


_headroom_lock = threading.Lock()
_headroom_users = 0
_saved_recursion_limit = 0


@contextmanager
def recursion_headroom() -> Iterator[None]:
    """Raise the interpreter's recursion limit by enough for a value :data:`MAX_DEPTH` deep, so that
    the stdlib decoder's verdict on such a value does not depend on how deep the caller's stack is.
    Nested and concurrent uses share one raise; the last one out restores the limit."""
    global _headroom_users, _saved_recursion_limit
    with _headroom_lock:
        if _headroom_users == 0:
            _saved_recursion_limit = sys.getrecursionlimit()
            sys.setrecursionlimit(_saved_recursion_limit + _HEADROOM)
        _headroom_users += 1
    try:
        yield
    finally:
        with _headroom_lock:
            _headroom_users -= 1
            if _headroom_users == 0:
                sys.setrecursionlimit(_saved_recursion_limit)


def _loads(data: bytes | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return _FAILED


def _valid_text(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # the stdlib accepts NaN and Infinity; orjson does not


def _loads_with_lone_surrogates(text: str) -> Any:
    """The stdlib accepts lone surrogate escapes where orjson does not: decode, then replace them."""
    try:
        return _replace_lone_surrogates(json.loads(text, parse_constant=_reject_constant))
    except (ValueError, RecursionError):
        return _FAILED


def _loads_keeping_non_finite_numbers(body: bytes) -> Any:
    """The stdlib, with numbers beyond the double range kept as their text; _FAILED when the line has
    none (then it is malformed for another reason) or is not JSON."""
    found = []

    def number(text: str, convert: Callable[[str], Any]) -> Any:
        value = convert(text)
        if finite(value) is None:
            found.append(text)
            return text
        return float(value) if type(value) is int and not -(2**63) <= value < 2**64 else value

    try:
        value = json.loads(
            body,
            parse_float=lambda text: number(text, float),
            parse_int=lambda text: number(text, int),
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError):
        return _FAILED
    return value if found else _FAILED


def _replace_lone_surrogates(value: Any) -> Any:
    if type(value) is str:
        # UTF-16 round trip: a valid pair joins into one character, a lone surrogate becomes U+FFFD.
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if type(value) is dict:
        return {_replace_lone_surrogates(key): _replace_lone_surrogates(item) for key, item in value.items()}
    if type(value) is list:
        return [_replace_lone_surrogates(item) for item in value]
    return value


__all__ = ["BOM", "JSON_WHITESPACE", "MAX_DEPTH", "decode_line", "nests_deeper", "recursion_headroom"]
