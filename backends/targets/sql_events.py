"""The `events` relation of the SQL targets: one column per Sigma field the query reads.

A field is read as its text, from the first of its spellings an event holds (nested objects, then keys
that contain dots, as the engine resolves it). A member of a list of objects (``target.displayName``:
``LISTS_OF_OBJECTS`` of the Okta schema) is read as the list of its elements' non-null texts, and the
detections on it test any element (docs/semantics.md, Members of lists of objects). The dialect mixins
render that list in DuckDB and in Spark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sigma.pipelines.okta.okta_schemas import list_of_objects


class DuckDBMembers:
    """Members of lists of objects in DuckDB (a mixin of the SQL dialect: quote, string, json_path)."""

    ELEMENT = "okta_element"  # the lambda variable of one element (never a column: those are quoted)

    def json_at(self, column: str, keys: tuple[str, ...]) -> str:
        """The JSON value at ``keys`` inside a top-level column."""
        if not keys:
            return self.quote(column)
        return f"json_extract({self.quote(column)}, {self.string(self.json_path(keys))})"

    def member_texts(self, column: str, to_list: tuple[str, ...], in_element: tuple[str, ...]) -> str:
        """The non-null texts at ``in_element`` in every element of the list at ``to_list`` inside a
        top-level column, as a list ([] when there is none); a value that is not a list is one element."""
        container = self.json_at(column, to_list)
        elements = (
            f"CASE WHEN json_type({container}) = 'ARRAY' THEN json_extract({container}, '$[*]') "
            f"ELSE [{container}] END"
        )
        value = (
            f"okta_text(json_extract({self.ELEMENT}, {self.string(self.json_path(in_element))}))"
            if in_element
            else f"okta_text({self.ELEMENT})"
        )
        return (
            f"list_filter(list_transform({elements}, lambda {self.ELEMENT}: {value}), "
            "lambda okta_value: okta_value IS NOT NULL)"
        )

    def list_size(self, texts: str) -> str:
        return f"len({texts})"

    def any_element(self, texts: str, condition: str) -> str:
        """Whether some element of a list of texts satisfies ``condition`` (over :attr:`ELEMENT`)."""
        return f"(len(list_filter({texts}, lambda {self.ELEMENT}: coalesce({condition}, false))) > 0)"


class SparkMembers:
    """Members of lists of objects in Spark SQL, whose columns hold JSON text."""

    ELEMENT = "okta_element"

    def json_at(self, column: str, keys: tuple[str, ...]) -> str:
        if not keys:
            return self.quote(column)
        return f"get_json_object({self.quote(column)}, {self.string(self.json_path(keys))})"

    def member_texts(self, column: str, to_list: tuple[str, ...], in_element: tuple[str, ...]) -> str:
        # the column holds JSON text: an array is read as the JSON texts of its elements
        container = self.json_at(column, to_list)
        elements = (
            f"CASE WHEN {container} LIKE '[%' THEN from_json({container}, 'array<string>') "
            f"ELSE array({container}) END"
        )
        value = self.okta_text(
            f"get_json_object({self.ELEMENT}, {self.string(self.json_path(in_element))})"
            if in_element
            else self.ELEMENT
        )
        return (
            f"coalesce(filter(transform({elements}, {self.ELEMENT} -> {value}), "
            "okta_value -> okta_value IS NOT NULL), array())"
        )

    def list_size(self, texts: str) -> str:
        return f"size({texts})"

    def any_element(self, texts: str, condition: str) -> str:
        return f"exists({texts}, {self.ELEMENT} -> coalesce({condition}, false))"


def _spellings(name: str) -> list[tuple[str, tuple[str, ...]]]:
    """(top-level key, keys inside it) for every way an event may hold a dotted field, nested first."""
    segments = name.split(".")
    return [(".".join(segments[:cut]), tuple(segments[cut:])) for cut in range(1, len(segments) + 1)]


@dataclass
class EventsQuery:
    """The `events` relation: one text column per Sigma field, plus the event time in microseconds."""

    dialect: Any  # sql.SqlDialect
    fields: list[str]
    time_field: str
    path: str

    @property
    def top_level(self) -> list[str]:
        keys = {key for name in self.fields for key, _ in _spellings(name)}
        return sorted(keys | {self.time_field})

    def column(self, name: str) -> str:
        if list_of_objects(name) is not None:
            return f"{self.member_column(name)} AS {self.dialect.quote(name)}"
        texts = [self.dialect.field_text(key, inner) for key, inner in _spellings(name)]
        value = texts[0] if len(texts) == 1 else f"coalesce({', '.join(texts)})"
        return f"{value} AS {self.dialect.quote(name)}"

    def member_column(self, name: str) -> str:
        """The list of texts of a member of a list of objects: the first spelling that gives any, as the
        engine resolves it (nested keys first; a key holding the list's name with dots works too)."""
        depth = len(list_of_objects(name).split("."))  # segments up to the list
        lists = []
        for key, inner in _spellings(name):
            before = depth - len(key.split("."))  # keys inside the column up to the list
            if before >= 0:
                lists.append(self.dialect.member_texts(key, inner[:before], inner[before:]))
            else:  # a key past the list ({"target.displayName": ...}): its value is the element's
                lists.append(self.dialect.member_texts(key, inner, ()))
        *firsts, last = lists
        size = self.dialect.list_size
        return "CASE " + "".join(f"WHEN {size(t)} > 0 THEN {t} " for t in firsts) + f"ELSE {last} END"

    def cte(self) -> str:
        columns = [self.column(name) for name in self.fields]
        columns.append(f"{self.dialect.event_time(self.time_field)} AS event_us")
        body = ",\n    ".join(columns)
        return (
            f"events AS (\n  SELECT\n    {body}\n  FROM {self.dialect.source(self.top_level, self.path)}\n)"
        )

    def statements(self, select: str) -> list[str]:
        return [*self.dialect.prelude(self.top_level, self.path), f"WITH {self.cte()}\n{select}"]
