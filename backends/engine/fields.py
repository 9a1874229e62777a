"""Field access on decoded events: Sigma field names (``client.ipAddress``) compiled once into getters.

A dotted name addresses nested objects first; a literal key that contains dots (``{"client.ipAddress":
...}``, as some exports flatten events) resolves too. A list met on the way is mapped over its
elements (``target.alternateId`` on Okta's ``target`` list gives the list of their ``alternateId``);
elements without the key, or with null there, give no value, and a list that gives none resolves to
:data:`MISSING` (so ``null`` matches it and ``|exists: true`` does not: any-element semantics,
docs/semantics.md). A field that is absent resolves to :data:`MISSING`; JSON null resolves to ``None``.

:func:`compile_field` gives one getter; :func:`compile_extractor` reads several fields in one call,
sharing the lookups of common prefixes, for the per-event path of correlations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Getter = Callable[[dict], Any]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


def event_path(name: str) -> str:
    """The path of a field name in the event: Splunk's ``{}`` after an array's name (``target{}.type``,
    the name its JSON extraction gives a member of every element, which ``run -p okta_splunk_ta``
    rules use) is dropped, since a path maps over the lists it meets anyway."""
    return name.replace("{}.", ".").removesuffix("{}") if "{}" in name else name


def compile_field(name: str) -> Getter:
    """Compile a field name into a getter over a decoded event (done once per rule, never per event)."""
    name = event_path(name)
    segments = name.split(".")
    steps = _steps(segments)
    if len(segments) == 1:
        return lambda event: event.get(name, MISSING)

    literal_spellings = _spellings(segments)[1:]

    def get(event: dict) -> Any:
        # the common case first: nested objects all the way down
        value: Any = event
        for segment in segments:
            if value.__class__ is not dict:
                return (
                    _resolve(event, steps, 0)
                    if value.__class__ is list
                    else _literal(event, literal_spellings, steps)
                )
            value = value.get(segment, MISSING)
            if value is MISSING:
                return _literal(event, literal_spellings, steps)
        return value

    return get


def compile_extractor(
    names: Sequence[str], finish: Callable[[Any], Any] | None = None
) -> Callable[[dict], tuple]:
    """One function returning the values of ``names`` as a tuple, same results as :func:`compile_field`.

    The function is generated: nested lookups of shared prefixes are done once, inline, and only a
    value not found that way goes through the general resolution. With ``finish``, every value that is
    not already a ``str`` is passed through it (e.g. to turn it into text).
    """
    names = [event_path(name) for name in names]
    tree: dict[str, Any] = {}
    lines = ["def extract(event):"]
    for index, name in enumerate(names):
        *parents, leaf = name.split(".")
        node: dict[str, Any] | None = tree
        for segment in parents:
            child = node.setdefault(segment, {})
            node = child if isinstance(child, dict) else None
            if node is None:
                break
        if node is None or isinstance(node.get(leaf), dict):
            lines.append(f"    v{index} = MISSING")  # a name that is also a prefix: general resolution only
        else:
            node.setdefault(leaf, []).append(index)
    _emit(tree, "event", lines, "    ", iter(range(1 << 30)))
    for index in range(len(names)):
        lines.append(f"    if v{index} is MISSING: v{index} = slow{index}(event)")
    values = [
        f"v{i}" if finish is None else f"(v{i} if v{i}.__class__ is str else finish(v{i}))"
        for i in range(len(names))
    ]
    lines.append(f"    return ({', '.join(values)}{',' if len(names) == 1 else ''})")
    scope: dict[str, Any] = {"MISSING": MISSING, "finish": finish}
    scope.update({f"slow{i}": compile_field(name) for i, name in enumerate(names)})
    exec("\n".join(lines), scope)  # generated from field names only: no rule or event text is executed
    return scope["extract"]


def _emit(tree: dict[str, Any], holder: str, lines: list[str], indent: str, counter: Any) -> None:
    for key, child in tree.items():
        if isinstance(child, list):  # leaf: the indexes of the names that end here
            first, *others = child
            lines.append(f"{indent}v{first} = {holder}.get({key!r}, MISSING)")
            lines.extend(f"{indent}v{other} = v{first}" for other in others)
            continue
        node = f"n{next(counter)}"
        lines.append(f"{indent}{node} = {holder}.get({key!r})")
        lines.append(f"{indent}if {node}.__class__ is dict:")
        _emit(child, node, lines, indent + "    ", counter)
        leaves = _leaf_indexes(child)
        lines.append(f"{indent}else:")
        lines.append(f"{indent}    {' = '.join(f'v{i}' for i in leaves)} = MISSING")


def _leaf_indexes(tree: dict[str, Any]) -> list[int]:
    found: list[int] = []
    for child in tree.values():
        found.extend(child if isinstance(child, list) else _leaf_indexes(child))
    return found


def _spellings(segments: list[str]) -> list[tuple[str, ...]]:
    """Every way of grouping the segments into keys, the nested one (one key per segment) first."""
    if len(segments) == 1:
        return [(segments[0],)]
    spellings: list[tuple[str, ...]] = []
    for head_length in range(1, len(segments) + 1):
        head = ".".join(segments[:head_length])
        rest = segments[head_length:]
        spellings.extend([(head, *tail) for tail in _spellings(rest)] if rest else [(head,)])
    return spellings


def _literal(event: dict, spellings: list[tuple[str, ...]], steps: list[list[tuple[str, int]]]) -> Any:
    """A field not found as nested objects: try the spellings with dotted keys; lists need the full walk."""
    for spelling in spellings:
        value: Any = event
        for key in spelling:
            if value.__class__ is not dict:
                if value.__class__ is list:
                    return _resolve(event, steps, 0)
                break
            value = value.get(key, MISSING)
            if value is MISSING:
                break
        else:
            return value
    return MISSING


def _steps(segments: list[str]) -> list[list[tuple[str, int]]]:
    """For each segment position, the keys that may start there: nested first, longer literal keys after."""
    return [
        [(".".join(segments[start:end]), end) for end in range(start + 1, len(segments) + 1)]
        for start in range(len(segments))
    ]


def _resolve(value: Any, steps: list[list[tuple[str, int]]], position: int) -> Any:
    if position == len(steps):
        return value
    if type(value) is dict:
        for key, following in steps[position]:
            if key in value:
                found = _resolve(value[key], steps, following)
                if found is not MISSING:
                    return found
        return MISSING
    if type(value) is list:
        found_values = []
        for element in value:
            found = _resolve(element, steps, position)
            if found is MISSING or found is None:  # an element without the key, or with null: no value
                continue
            if type(found) is list:
                found_values.extend(found)
            else:
                found_values.append(found)
        return found_values if found_values else MISSING
    return MISSING
