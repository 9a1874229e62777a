"""Field access on decoded events: a Sigma field name (``client.ipAddress``) compiled once into a getter.

A dotted name addresses nested objects first; a literal key that contains dots (``{"client.ipAddress":
...}``, as some exports flatten events) resolves too. A list met on the way is mapped over its
elements (``target.alternateId`` on Okta's ``target`` list gives the list of their ``alternateId``).
A field that is absent resolves to :data:`MISSING`; JSON null resolves to ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Getter = Callable[[dict], Any]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


def compile_field(name: str) -> Getter:
    """Compile a field name into a getter over a decoded event (done once per rule, never per event)."""
    segments = name.split(".")
    if len(segments) == 1:
        return lambda event: event.get(name, MISSING)
    if len(segments) == 2:
        head, leaf = segments

        def get_pair(event: dict) -> Any:
            inner = event.get(head, MISSING)
            if type(inner) is dict:
                value = inner.get(leaf, MISSING)
                if value is not MISSING:
                    return value
            elif type(inner) is list:
                value = _resolve(inner, steps, 1)
                if value is not MISSING:
                    return value
            return event.get(name, MISSING)

        steps = _steps(segments)
        return get_pair

    steps = _steps(segments)
    return lambda event: _resolve(event, steps, 0)


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
            if found is MISSING:
                continue
            if type(found) is list:
                found_values.extend(found)
            else:
                found_values.append(found)
        return found_values if found_values else MISSING
    return MISSING
