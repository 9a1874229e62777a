"""Okta System Log events as a SIEM stores them, emulated from its :class:`OktaSchema`: every field the
schema maps moved to its target field, values translated where the schema says the SIEM translates
them, fields it does not keep dropped. For tests of rules run on events in a SIEM's schema."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

from sigma.pipelines.okta.okta_schemas import (
    EnumValues,
    PositiveBehaviorNames,
    UnmappedFieldError,
    get_schema,
    map_field,
)

_BEHAVIOR = re.compile(r"([^{}=,]+?)=(\w+)")


def stored_as(schema_id: str, event: dict) -> dict:
    """``event`` as the SIEM of ``schema_id`` stores it: the mapped fields only, at their target paths."""
    schema = get_schema(schema_id)
    if schema.passthrough:  # the SIEM keeps the raw JSON (Splunk): nothing moves
        return event
    stored: dict[str, Any] = {}
    for raw, value in _leaves(event):
        target = _target(schema_id, raw)
        if target is None:
            continue
        mapping = schema.value_mappings.get(raw)
        if isinstance(mapping, EnumValues) and isinstance(value, str):
            value = {k.upper(): v for k, v in mapping.values.items()}.get(value.upper(), value)
        elif isinstance(mapping, PositiveBehaviorNames) and isinstance(value, str):
            names = [name.strip() for name, verdict in _BEHAVIOR.findall(value) if verdict == "POSITIVE"]
            if not names:
                continue  # Elastic: absent when no behavior was positive
            value = names
        elif raw in schema.boolean_fields and isinstance(value, str):
            value = value.lower() == "true"
        _put(stored, target, value)
    return stored


@functools.cache
def _target(schema_id: str, raw: str) -> str | None:
    try:
        return map_field(get_schema(schema_id), raw)
    except UnmappedFieldError:  # the SIEM does not keep it
        return None


def _leaves(event: dict, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted path, value) of the event's values that are not objects."""
    for key, value in event.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield prefix + key, value


def _put(stored: dict, path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for key in parents:
        stored = stored.setdefault(key, {})
    stored[leaf] = value
