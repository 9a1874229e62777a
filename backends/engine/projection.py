"""Decode only the fields the rules read.

A JSON line of the Okta System Log is ~2 KB of which a rule set reads a dozen values. msgspec decodes
straight into a *typed* shape (nested ``TypedDict`` s built from the rules' field names) and skips every
other key in C, which is 2-3x faster than building the whole object. The result is an ordinary nested
dict holding only those fields, so matching and correlation code cannot tell the difference.

A line whose values do not fit the shape (a list or number where a string is compared, an object
where a string is expected, a list where an object is expected, an integer that orjson would make a
float), a malformed line, one with a BOM or one nested too deep for msgspec (``RecursionError``) falls
back to :func:`~.decoding.decode_line`, the full decode with its repairs and reasons; the rest of the
engine then sees exactly what it would see without projection.

What the typed decode does *not* look at: the UTF-8 and the numbers of the values it skips (msgspec
validates neither in skipped strings, and skips ``1e999``). Faults there change nothing the rules read;
the run reports them only under ``--strict`` (see :mod:`.offence_scope`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, TypedDict

import msgspec

from .decoding import decode_line
from .fields import event_path
from .input_report import Reason

# Leaves compared as strings must be strings (or lists of them): anything else takes the full path,
# where objects are rendered as text and counted.
_STRING_LEAF = str | list[str | None] | None
# Other leaves take any JSON value, except an integer beyond the signed 64-bit range: orjson decodes
# those (up to 2**64 - 1) as an int or else as a float where msgspec keeps a Python int, so they take
# the full path, as numbers beyond the double range do (msgspec refuses those itself).
_INT64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
_ANY_LEAF = _INT64 | float | str | bool | list | dict | None
#: what the typed decoder raises on a line that does not fit (RecursionError: nested beyond msgspec's
#: limit, the interpreter's recursion limit, which is below decoding.MAX_DEPTH on CPython 3.11)
TYPED_DECODE_ERRORS = (msgspec.ValidationError, msgspec.DecodeError, RecursionError)


class EventProjection:
    """Typed decoding of the given field names; ``decode(line)`` answers like ``decode_line``."""

    def __init__(self, fields: Iterable[str], string_fields: Iterable[str]):
        self.fields = sorted({event_path(name) for name in fields})
        string_set = {event_path(name) for name in string_fields}
        tree: dict[str, Any] = {}
        for name in self.fields:
            for path in _spellings(name):
                _insert(tree, path, _STRING_LEAF if name in string_set else _ANY_LEAF)
        self.decoder = msgspec.json.Decoder(_typed(tree, "Event"))
        self._decode = self.decoder.decode
        # objects in these fields are not caught by the shape: the caller renders them as on the full path
        self.unchecked_string_fields = _unchecked(tree, sorted(string_set))

    def decode(self, line: bytes) -> tuple[dict | None, Reason | None]:
        try:
            return self._decode(line), None
        except TYPED_DECODE_ERRORS:
            return decode_line(line)

    def accepts(self, line: bytes) -> bool:
        """Whether the typed decode takes ``line`` as it is (then the rules' view of it is sound)."""
        try:
            self._decode(line)
        except TYPED_DECODE_ERRORS:
            return False
        return True


def _spellings(name: str) -> list[tuple[str, ...]]:
    """Every way an event may hold a dotted field: nested objects, or keys that contain dots."""
    segments = name.split(".")
    if len(segments) == 1:
        return [(name,)]
    spellings = []
    for head_length in range(1, len(segments) + 1):
        head = ".".join(segments[:head_length])
        rest = segments[head_length:]
        if not rest:
            spellings.append((head,))
        else:
            spellings.extend((head, *tail) for tail in _spellings(".".join(rest)))
    return spellings


def _insert(tree: dict[str, Any], path: tuple[str, ...], leaf: Any) -> None:
    """Add one spelling to the shape. A key wanted both as a value and as an object keeps its whole value."""
    node = tree
    for key in path[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            node[key] = _ANY_LEAF
            return
        node = child
    last = path[-1]
    existing = node.get(last)
    if existing is None:
        node[last] = leaf
    elif isinstance(existing, dict) or leaf is _ANY_LEAF:
        node[last] = _ANY_LEAF


def _unchecked(tree: dict[str, Any], names: Iterable[str]) -> list[str]:
    """String-compared fields whose shape had to keep the whole value (so objects may get through)."""
    unchecked = []
    for name in names:
        for path in _spellings(name):
            node: Any = tree
            for key in path:
                node = node.get(key) if isinstance(node, dict) else _ANY_LEAF
            if node is not _STRING_LEAF:
                unchecked.append(name)
                break
    return unchecked


def _typed(tree: dict[str, Any], name: str) -> Any:
    fields = {
        key: (_typed(child, f"{name}_{index}") if isinstance(child, dict) else child)
        for index, (key, child) in enumerate(tree.items())
    }
    for key, value in list(fields.items()):
        if isinstance(tree[key], dict):
            # a nested object; a list of objects (Okta's `target`) or null are valid too
            fields[key] = value | list[value] | None
    return TypedDict(name, fields, total=False)
