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
  without the key (or with null there) gives null, which every predicate checks with ``isnotnull``.
- **ES|QL** (:class:`ESQLListMembers`): Elastic keeps the lists as ``flattened`` fields, whose every key
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
from sigma.types import (
    SigmaCasedString,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaString,
    SpecialChars,
)

from sigma.pipelines.okta.okta_schemas import StoredList, stored_member

#: the name of one element inside the ``mv-apply`` subquery (never a column of the Okta tables)
KQL_ELEMENT = "okta_element"


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
    """The any-element tests of one KQL query, as ``mv-apply`` stages: per stored list, its dynamic
    value (``OriginalTarget``, ``parse_json(target_s)``) and the count column of each predicate."""

    #: stored list field -> (its dynamic value, [(count column, per-element predicate)])
    lists: dict[str, tuple[str, list[tuple[str, str]]]] = field(default_factory=dict)
    count: int = 0

    @staticmethod
    def element_path(keys: tuple[str, ...]) -> str:
        """``okta_element.displayName``; keys KQL cannot read bare are indexed: ``['a b']``, ``['title']``."""
        from sigma.backends.okta.targets.kusto import kql_member_path  # kusto imports this module

        return kql_member_path(".".join((KQL_ELEMENT, *keys)))

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

    def read_by(self, expressions: list[str]) -> bool:
        """Whether any of ``expressions`` reads a count column."""
        read = {name for expression in expressions for name in re.findall(r"\bokta_member_\d+\b", expression)}
        return not read.isdisjoint(self.columns)

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


class _ListMemberItems:
    """What both mixins share: a detection item on a member is one of its own, never part of an
    ``in`` list, which would read the member path as one value."""

    def member_of(self, field: str) -> tuple[StoredList, tuple[str, ...]] | None:
        raise NotImplementedError

    def decide_convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> bool:
        return (
            super().decide_convert_condition_as_in_expression(cond, state)
            and self.member_of(cond.args[0].field) is None
        )


class KustoListMembers(_ListMemberItems):
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
        # an element without the key has no value, even where its text ("") would match (`|re: '.*'`)
        return f"{self._member_count(stored, f'isnotnull({element}) and ({predicate})')} > 0"

    def _member_count(self, stored: StoredList, predicate: str) -> str:
        value = self.column(stored.field).reference  # a column the workspace may lack is read if it exists
        if stored.form == "json_text":
            value = f"parse_json({value})"
        elif stored.form != "dynamic":
            raise ValueError(
                f"KQL reads lists of objects stored as dynamic values or JSON text, not {stored.form}"
            )
        return self._members.column_for(stored, value, predicate)


# --- ES|QL -----------------------------------------------------------------------------------------------

#: joins the values of a member for a `|contains` test: a needle without it can only match inside a value
ESQL_SEPARATOR = "\n"


class ESQLListMembers(_ListMemberItems):
    """Mixin of the ES|QL backend: detection items on members of stored lists over ``FIELD_EXTRACT``.

    Elastic keeps ``target`` and ``request.ipChain`` as ``flattened`` fields; a key of one holds the
    values of every element, which ``FIELD_EXTRACT`` (Elasticsearch 9.5 preview, 9.6 GA) reads as a
    multi-valued keyword (sorted, without duplicates; null when no element has one). ES|QL compares a
    multi-value with nothing but the ``MV_`` functions, so an item holds when:

    - a whole value: ``MV_CONTAINS(TO_LOWER(values), "okta verify")`` (``|cased``: without TO_LOWER);
    - ``|contains``: ``TO_LOWER(MV_CONCAT(values, "\\n")) LIKE "*text*"``, exact for a text without a
      line break (a match cannot span two values then);
    - ``null`` / ``|exists``: ``values IS NULL`` / ``IS NOT NULL``.

    Every other use (other wildcards, numbers, booleans, CIDR, ``|re``, ``|fieldref``) has no exact
    any-element form and is refused naming the field. The backend provides ``schema()`` and
    ``_filled`` (the collapse columns a metric's `where` reads).
    """

    def member_of(self, field: str) -> tuple[StoredList, tuple[str, ...]] | None:
        member = stored_member(self.schema(), field)
        if member is not None and getattr(self, "_filled", None):
            raise refuse_member_use(field, member[0], "a `where` after a collapse", "ES|QL")
        return member

    def member_values(self, stored: StoredList, keys: tuple[str, ...]) -> str:
        from sigma.backends.okta.targets.esql import identifier, string_literal  # esql imports this module

        if stored.form != "flattened":
            raise ValueError(f"ES|QL reads lists of objects stored as flattened fields, not {stored.form}")
        return f"FIELD_EXTRACT({identifier(stored.field)}, {string_literal('.'.join(keys))})"

    def convert_condition_field_eq_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        member = self.member_of(cond.field)
        if member is None or isinstance(cond.value, SigmaExpansion):
            return super().convert_condition_field_eq_val(cond, state)
        values = self.member_values(*member)
        value = cond.value
        if isinstance(value, SigmaNull) or (isinstance(value, SigmaExists) and not value.exists):
            return f"{values} IS NULL"
        if isinstance(value, SigmaExists):
            return f"{values} IS NOT NULL"
        string = isinstance(value, SigmaString) and not value.contains_placeholder()
        if string and (test := self._member_string_test(values, value)) is not None:
            return test
        raise refuse_member_use(
            cond.field,
            member[0],
            f"`{value}` ({type(value).__name__})",
            "ES|QL (a member is a multi-valued keyword there: whole values, |contains, null and |exists only)",
        )

    @staticmethod
    def _member_string_test(values: str, value: SigmaString) -> str | None:
        from sigma.backends.okta.targets.esql import like_pattern, string_literal

        caseless = not isinstance(value, SigmaCasedString)
        if not value.contains_special():
            text = "".join(value.s)
            if caseless:
                return f"MV_CONTAINS(TO_LOWER({values}), {string_literal(text.lower())})"
            return f"MV_CONTAINS({values}, {string_literal(text)})"
        star = SpecialChars.WILDCARD_MULTI
        inner = value[1:-1] if len(value.s) > 2 and value.startswith(star) and value.endswith(star) else None
        if inner is None or inner.contains_special() or ESQL_SEPARATOR in "".join(inner.s):
            return None
        joined = f"MV_CONCAT({values}, {string_literal(ESQL_SEPARATOR)})"
        return f"{f'TO_LOWER({joined})' if caseless else joined} LIKE {like_pattern(value, caseless)}"
