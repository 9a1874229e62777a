"""JSON-document sources (the Okta API's page format: an array of events; pretty-printed or concatenated
objects): :func:`iter_document_events` decodes one element by element, resynchronising after a
malformed element so that the good ones around it survive."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from enum import Enum

from .decoding import BOM, decode_line, recursion_headroom
from .input_report import EXCERPT_BYTES, InputReport, Reason
from .sources import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_LINE_BYTES,
    READ_ERRORS,
    Source,
    decoded_blocks,
    describe_error,
)


def iter_document_events(
    source: Source, report: InputReport, *, max_element_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> Iterator[tuple[int, dict]]:
    """Events of a JSON-document source with their byte offsets, element by element.

    A top-level array gives its elements (``NOT_AN_OBJECT`` for those that are not objects); top-level
    objects are events; several top-level values may follow each other (concatenated pages or objects).
    A malformed element is counted and skipped: parsing resumes at the next element boundary found, so
    the good elements around it survive. The document is read whole into memory.
    """
    data = _read_whole(source, report)
    if data:
        yield from _DocumentParser(data, source, report, max_element_bytes).events()


def _read_whole(source: Source, report: InputReport) -> bytes:
    parts: list[bytes] = []
    blocks = decoded_blocks(source, DEFAULT_CHUNK_SIZE)
    try:
        for block in blocks:
            parts.append(block)
    except READ_ERRORS as error:
        report.add(Reason.UNREADABLE_SOURCE, source, sum(map(len, parts)), describe_error(error))
    data = b"".join(parts)
    report.bytes_read += len(data)
    return data


_BLANK = re.compile(rb"(?:[ \t\r\n]|\xef\xbb\xbf)*".decode("latin-1"))
_BOM_TEXT = BOM.decode("latin-1")
# Strings (or a lone quote: an unterminated string) and brackets, to find where a broken value ends.
_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|"|[{}\[\]]', re.DOTALL)
_CLOSER_OF = {"{": "}", "[": "]"}
# Resynchronisation points after a broken value. Inside an array: the next `},{` boundary, or a closing
# bracket directly followed by an opening one (only valid between top-level values). At the top level:
# the latter, or an opening bracket at a line start (pretty-printed objects start unindented).
_NEXT_ELEMENT = re.compile(r"\}[ \t\r\n]*,[ \t\r\n]*(\{)")
_NEXT_TOP_AFTER_ARRAY = re.compile(r"\][ \t\r\n]*([{\[])")
_NEXT_TOP = re.compile(r"[}\]][ \t\r\n]*([{\[])|\n([{\[])")
_LINE_START_OPENER = re.compile(r"\n([{\[])")
_NEXT_OPENING_BRACE = re.compile(r"\{")


class _Resume(Enum):
    ELEMENT = "an array element starts here"
    AFTER_ELEMENT = "a separator or the array's end is expected here"
    TOP_LEVEL = "a top-level value starts here (or the text ends)"


class _DocumentParser:
    """Walks a document's values with the stdlib's ``raw_decode`` to find each element's span, then
    decodes the span's bytes with :func:`decode_line`, so elements get the same repairs as NDJSON lines.
    The text is the bytes decoded as Latin-1: one character per byte, so positions are byte offsets and
    no byte can fail to decode (UTF-8 is checked per element by :func:`decode_line`)."""

    def __init__(self, data: bytes, source: Source, report: InputReport, max_element_bytes: int) -> None:
        self.data = data
        self.text = data.decode("latin-1")
        self.source = source
        self.report = report
        self.max_element_bytes = max_element_bytes
        self.decoder = json.JSONDecoder()

    def events(self) -> Iterator[tuple[int, dict]]:
        text = self.text
        position = self._skip_blank(0)
        while position < len(text):
            if text[position] == "[":
                position = yield from self._array(position)
            else:
                end = self._value_end(position)
                if end is None:
                    position, _ = self._resync(position, in_array=False)
                else:
                    event = self._decode(position, end)
                    if event is not None:
                        yield position, event
                    position = end
            position = self._skip_blank(position)

    def _array(self, opening: int) -> Iterator[tuple[int, dict]]:
        """Yield the events of the array at ``opening``; return where parsing goes on at the top level."""
        text = self.text
        position = self._skip_blank(opening + 1)
        if text.startswith("]", position):
            return position + 1
        state = _Resume.ELEMENT
        while position < len(text):
            if state is _Resume.ELEMENT:
                end = self._value_end(position)
                if end is None:
                    position, state = self._resync(position, in_array=True)
                else:
                    event = self._decode(position, end)
                    if event is not None:
                        yield position, event
                    position, state = self._skip_blank(end), _Resume.AFTER_ELEMENT
            elif text[position] == "]":
                return position + 1
            elif text[position] == ",":
                position, state = self._skip_blank(position + 1), _Resume.ELEMENT
                if text.startswith("]", position):  # a trailing comma
                    self._count(Reason.MALFORMED_JSON, position, position + 1)
                    return position + 1
            else:
                self._count(Reason.MALFORMED_JSON, position, position + EXCERPT_BYTES)
                if text[position] == "{":
                    state = _Resume.ELEMENT  # a missing comma: `{...} {...}` loses nothing
                else:
                    position, state = self._resync(position, in_array=True)
            if state is _Resume.TOP_LEVEL:
                return position  # the rest of the array could not be found again
        if state is _Resume.AFTER_ELEMENT:
            self._count(Reason.MALFORMED_JSON, opening, opening + EXCERPT_BYTES)  # the array never closes
        return position

    def _value_end(self, position: int) -> int | None:
        """The end of the JSON value starting at ``position``, or None (counted) when it is malformed or
        nested too deep (with decode_line's headroom, the stdlib gives up only past decoding.MAX_DEPTH;
        a shallower value that decode_line then finds too deep is counted by _decode)."""
        try:
            with recursion_headroom():
                _, end = self.decoder.raw_decode(self.text, position)
        except ValueError:
            self._count(Reason.MALFORMED_JSON, position, position + EXCERPT_BYTES)
            return None
        except RecursionError:
            self._count(Reason.TOO_DEEP, position, position + EXCERPT_BYTES)
            return None
        return end

    def _decode(self, start: int, end: int) -> dict | None:
        event, reason = decode_line(self.data[start:end])
        if reason is not None:
            self._count(reason, start, end)
        if event is not None:
            self.report.events_decoded += 1
        return event

    def _resync(self, start: int, *, in_array: bool) -> tuple[int, _Resume]:
        """Where to go on after the broken value (or stray text) at ``start``: right after it when its
        brackets still balance, else at the next boundary found; the end of the text when there is none.

        At the top level a balanced end is only trusted up to the next line that starts with a bracket
        (pretty-printed and line-per-object documents start each value on a new line). Stray text that
        is not a bracket resumes at the next ``{``.
        """
        here = _Resume.ELEMENT if in_array else _Resume.TOP_LEVEL
        if self.text[start] not in _CLOSER_OF:
            return min([(len(self.text), _Resume.TOP_LEVEL), *self._found(_NEXT_OPENING_BRACE, start, here)])
        end = self._structural_end(start)
        if end is not None and self._is_followed_by_separator(end, in_array):
            next_line = self._found(_LINE_START_OPENER, start, here)
            if in_array or not next_line or end <= next_line[0][0]:
                return self._skip_blank(end), _Resume.AFTER_ELEMENT if in_array else _Resume.TOP_LEVEL
        candidates = [(len(self.text), _Resume.TOP_LEVEL)]
        if in_array:
            candidates += self._found(_NEXT_ELEMENT, start, _Resume.ELEMENT)
            candidates += self._found(_NEXT_TOP_AFTER_ARRAY, start, _Resume.TOP_LEVEL)
        else:
            candidates += self._found(_NEXT_TOP, start, _Resume.TOP_LEVEL)
        return min(candidates, key=lambda candidate: candidate[0])

    def _found(self, pattern: re.Pattern[str], start: int, resume: _Resume) -> list[tuple[int, _Resume]]:
        match = pattern.search(self.text, start + 1)
        if match is None:
            return []
        return [(match.start(match.lastindex or 0), resume)]

    def _is_followed_by_separator(self, end: int, in_array: bool) -> bool:
        following = self._skip_blank(end, count=False)
        if following == len(self.text):
            return True
        return self.text[following] in (",]" if in_array else "{[")

    def _structural_end(self, start: int) -> int | None:
        """The end of the object or array at ``start`` by matching brackets outside strings, or None."""
        if self.text[start] not in _CLOSER_OF:
            return None
        expected: list[str] = []
        limit = min(len(self.text), start + self.max_element_bytes)
        for match in _STRUCTURE.finditer(self.text, start, limit):
            token = match.group()
            if token[0] == '"':
                if len(token) == 1:
                    return None  # an unterminated string: the structure cannot be trusted
                continue
            if token in _CLOSER_OF:
                expected.append(_CLOSER_OF[token])
            elif expected.pop() != token:
                return None
            if not expected:
                return match.end()
        return None

    def _skip_blank(self, position: int, *, count: bool = True) -> int:
        """Skip JSON whitespace and byte-order marks (each counted as BOM, a repair)."""
        end = _BLANK.match(self.text, position).end()  # type: ignore[union-attr]
        found = self.text.find(_BOM_TEXT, position, end) if count else -1
        while found >= 0:
            self._count(Reason.BOM, found, found + len(BOM) + EXCERPT_BYTES)
            found = self.text.find(_BOM_TEXT, found + len(BOM), end)
        return end

    def _count(self, reason: Reason, start: int, end: int) -> None:
        line = None
        if self.report.is_earliest(reason, self.source, start):
            line = self.text.count("\n", 0, start) + 1  # documents are in memory: the line is cheap now
        self.report.add(reason, self.source, start, self.data[start:end], line)


__all__ = ["iter_document_events"]
