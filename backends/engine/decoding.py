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
- ``(None, Reason.MALFORMED_JSON)`` / ``(None, Reason.NOT_AN_OBJECT)``: dropped;
- ``(None, None)``: a blank line (JSON whitespace only, BOM included): not an offence.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

from sigma.backends.okta.engine.input_report import Reason
from sigma.pipelines.okta.semantics import finite

BOM = b"\xef\xbb\xbf"
JSON_WHITESPACE = b" \t\r\n"

_NOT_AN_OBJECT = Reason.NOT_AN_OBJECT
_FAILED: Any = object()


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


__all__ = ["BOM", "JSON_WHITESPACE", "decode_line"]
