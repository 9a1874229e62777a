"""Members of lists of objects (``target.displayName`` on Okta's ``target`` list) in KQL and ES|QL.

A detection item on a member holds when **any** element's value matches (docs/semantics.md, Members of
lists of objects). The Okta schema says where each SIEM keeps the list whole
(:class:`~sigma.pipelines.okta.okta_schemas.StoredList`); while one of these backends converts, the
pipeline maps a member to ``<stored list>.<key>`` (:func:`~sigma.pipelines.okta.okta_schemas.reading_lists_of_objects`)
and the backend renders it here:

- **KQL** (:class:`KustoMembers`): one ``mv-apply`` stage per list, over the dynamic column
  (``OriginalTarget``, ``Request.ipChain``) or the parsed JSON text (``parse_json(target_s)``), counts the
  elements each item's predicate holds for (``summarize okta_member_0 = countif(...)``); the item is then
  ``okta_member_0 > 0``. A list that is not an array with elements (an object, a string, null, ``[]``)
  is read as the one-element array of it, because ``mv-expand`` expands a property bag into its
  properties and an empty array into no row at all (Microsoft's mv-expand reference); an element
  without the key gives null, which no predicate matches and ``isnotnull`` does not count.
- **ES|QL** (:func:`esql_member_column`): Elastic keeps the lists as ``flattened`` fields, whose every key
  holds the values of all elements; ``FIELD_EXTRACT(okta.target, "display_name")`` (Elasticsearch 9.5
  preview, 9.6 GA) reads them as a multi-valued keyword, tested with ``MV_CONTAINS`` (docs/semantics.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionOR
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.types import SigmaExists, SigmaExpansion, SigmaFieldReference, SigmaNull

from sigma.pipelines.okta.okta_schemas import StoredList, stored_member

#: the name of one element inside the ``mv-apply`` subquery (never a column of the Okta tables)
KQL_ELEMENT = "okta_element"
_KQL_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def refuse_member_use(
    field: str, stored: StoredList, construct: str, target: str
) -> SigmaFeatureNotSupportedByBackendError:
    """The error for a use of a member that has no any-element reading in ``target``."""
    return SigmaFeatureNotSupportedByBackendError(
        f"{construct} on '{field}', a member of the list of objects stored in {stored.field}, is not "
        f"supported by the {target} target: a member has one value per element, and only detection items "
        "on it (any element matches) can be expressed"
    )


@dataclass
class KustoMembers:
    """The any-element tests of one KQL query, as ``mv-apply`` stages.

    ``list_expression`` renders a stored list as a dynamic value (given by the backend, which knows the
    table's columns); ``element_path`` the path of a key inside one element.
    """

    #: stored list field -> (its dynamic value, [(count column, per-element predicate)])
    lists: dict[str, tuple[str, list[tuple[str, str]]]] = field(default_factory=dict)
    count: int = 0

    @staticmethod
    def element_path(keys: tuple[str, ...]) -> str:
        """``okta_element.displayName``; keys that are not identifiers are indexed: ``["a b"]``."""
        return KQL_ELEMENT + "".join(
            f".{key}" if _KQL_IDENTIFIER.fullmatch(key) else "[" + _single_quoted(key) + "]" for key in keys
        )

    def column_for(self, stored: StoredList, list_value: str, predicate: str) -> str:
        """The column counting the elements of ``stored`` that satisfy ``predicate`` (over
        :data:`KQL_ELEMENT`); the same predicate on the same list shares one column."""
        _, tests = self.lists.setdefault(stored.field, (list_value, []))
        for column, known in tests:
            if known == predicate:
                return column
        column = f"okta_member_{self.count}"
        self.count += 1
        tests.append((column, predicate))
        return column

    @property
    def columns(self) -> list[str]:
        return [column for _, tests in self.lists.values() for column, _ in tests]

    def stages(self) -> list[str]:
        """One ``| mv-apply`` per list, each giving every row its count columns (exactly one row per row:
        the expanded array is never empty, and ``summarize`` without ``by`` gives one row)."""
        stages = []
        for value, tests in self.lists.values():
            elements = f"iff(array_length({value}) > 0, {value}, pack_array({value}))"
            counts = ",\n        ".join(f"{column} = countif({predicate})" for column, predicate in tests)
            stages.append(
                f"| mv-apply {KQL_ELEMENT} = {elements} to typeof(dynamic) on (\n"
                f"    summarize\n        {counts}\n)"
            )
        return stages

    def dropped(self) -> list[str]:
        """``| project-away`` of the count columns (a base rule's rows keep the table's columns only)."""
        columns = self.columns
        return [f"| project-away {', '.join(columns)}"] if columns else []


class KustoListMembers:
    """Mixin of the KQL backend: detection items on members of stored lists as :class:`KustoMembers`
    counts. The backend provides ``_schema()``, ``column()`` (which asks :meth:`member_element` first)
    and ``_row_columns``; it resets ``_members`` for every query it converts."""

    _members: KustoMembers
    _element: tuple[str, str] | None = None  # (field, element path) while an item's predicate is rendered

    def member_of(self, field: str) -> tuple[StoredList, tuple[str, ...]] | None:
        if getattr(self, "_row_columns", None) is not None:
            return None  # a collapsed row holds no lists: column() refuses the field
        return stored_member(self._schema(), field)

    def member_element(self, field: str) -> str | None:
        """The element path standing for ``field`` inside a predicate being rendered; None for a field
        that is no member. A member anywhere else (a field reference, an output) is refused."""
        if self._element is not None and self._element[0] == field:
            return self._element[1]
        if (member := self.member_of(field)) is not None:
            raise refuse_member_use(field, member[0], "a use other than a detection item", "KQL")
        return None

    def convert_condition_field_eq_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        member = self.member_of(cond.field)
        if member is None or isinstance(cond.value, SigmaExpansion):  # an expansion converts item by item
            return super().convert_condition_field_eq_val(cond, state)
        stored, keys = member
        element = KustoMembers.element_path(keys)
        value = cond.value
        if isinstance(value, SigmaNull) or (isinstance(value, SigmaExists) and not value.exists):
            return f"{self._member_count(stored, f'isnotnull({element})')} == 0"  # no element has a value
        if isinstance(value, SigmaExists):
            return f"{self._member_count(stored, f'isnotnull({element})')} > 0"
        if isinstance(value, SigmaFieldReference):
            raise refuse_member_use(cond.field, stored, "|fieldref", "KQL")
        self._element = (cond.field, element)
        try:
            predicate = super().convert_condition_field_eq_val(cond, state)
        finally:
            self._element = None
        return f"{self._member_count(stored, str(predicate))} > 0"

    def decide_convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> bool:
        # `x in~ (...)` would read the member path as one value: each value is an item of its own
        return (
            super().decide_convert_condition_as_in_expression(cond, state)
            and self.member_of(cond.args[0].field) is None
        )

    def _member_count(self, stored: StoredList, predicate: str) -> str:
        value = self.column(stored.field).reference  # a column the workspace may lack is read if it exists
        if stored.form == "json_text":
            value = f"parse_json({value})"
        elif stored.form != "dynamic":
            raise ValueError(
                f"KQL reads lists of objects stored as dynamic values or JSON text, not {stored.form}"
            )
        return self._members.column_for(stored, value, predicate)


def _single_quoted(key: str) -> str:
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


# --- ES|QL -----------------------------------------------------------------------------------------------


def esql_member_column(stored: StoredList, keys: tuple[str, ...], string_literal) -> str:
    """The values of one key of every element of a flattened list, as a multi-valued keyword (null when
    no element has one). ``FIELD_EXTRACT``'s path is the flattened key, dots included."""
    if stored.form != "flattened":
        raise ValueError(f"ES|QL reads lists of objects stored as flattened fields, not {stored.form}")
    root = ".".join(
        f"`{part}`" if not re.fullmatch(r"[A-Za-z_@][A-Za-z0-9_]*", part) else part
        for part in stored.field.split(".")
    )
    return f"FIELD_EXTRACT({root}, {string_literal('.'.join(keys))})"
