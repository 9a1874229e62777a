"""KQL for Microsoft Sentinel and Microsoft Defender: Okta base rules and the `aggregate` correlation.

:class:`OktaKustoBackend` is pySigma's :class:`~sigma.backends.kusto.KustoBackend` (pysigma-backend-kusto
1.0) with the base-rule conversion fixed where it departs from Sigma's semantics, which the Python engine
implements (``backends/engine/matcher.py``):

- a dotted name is a member of a dynamic column (``DebugData.factor``), not a single-quoted string
  literal (``'DebugData.factor'``), and is compared through ``tostring()``;
- ``a*b*c`` keeps its order (a case-insensitive ``matches regex``, anchored where no ``*`` is), not
  ``contains "a" and contains "b" and contains "c"``; ``?`` matches one character, not any number;
- ``|cased`` values use KQL's case-sensitive operators (the official backend raises);
- booleans compare with ``==``; numbers compare with ``todouble()`` so that numeric strings count;
- comparisons that KQL can answer with null (numbers, booleans, CIDR ranges) are made definite with
  ``coalesce(..., false)``, so that ``not`` over them is true where Sigma says so;
- ``field: null`` and ``|exists`` test ``isempty()`` / ``isnotempty()``: KQL strings are never null;
- a query starts with its table (``OktaV2_CL | where ...``), as the official Microsoft pipelines do;
- a member of a list of objects (``target.displayName``) matches on any element, through ``mv-apply``
  (:mod:`~sigma.backends.okta.targets.list_members`).

:meth:`OktaKustoBackend.convert_aggregate` renders an `aggregate` correlation as one KQL query, stage by
stage as planned by :func:`~sigma.backends.okta.targets.aggregate_plan.plan_aggregate`. ``docs/target-kusto.md``
explains every stage and every semantic choice, with the Microsoft documentation it relies on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from sigma.backends.kusto import KustoBackend
from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionOR
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

from sigma.backends.okta.targets.aggregate_plan import (
    AggregateConversionError,
    AggregateQuery,
    ExpressionDialect,
    FieldRef,
    MetricPlan,
    RowField,
    detection_expression,
    plan_aggregate,
)
from sigma.backends.okta.targets.base_values import plain_text, processing_pipeline
from sigma.backends.okta.targets.list_members import KustoListMembers, KustoMembers
from sigma.pipelines.okta.expression import Expression, Number
from sigma.pipelines.okta.model import AggregateCorrelationRule, MetricKind
from sigma.pipelines.okta.okta_pipelines import schema_of
from sigma.pipelines.okta.okta_schemas import OktaSchema, reading_lists_of_objects

TARGET = "kusto"
SUPPORTED_SCHEMAS = ("okta_sentinel", "okta_sentinel_legacy")
EPOCH = "datetime(1970-01-01)"

# --- names and literals ------------------------------------------------------------------------------

#: Words that a KQL name can only use bracketed (``['last']``): the keywords for which Kusto.Language
#: 12.4.1 (npm @kusto/language-service-next, Microsoft's parser) answers ``KustoFacts.CanBeIdentifier``
#: with false. Metric names such as ``first`` or ``last`` are among them.
KQL_RESERVED = frozenset(
    """
    __contextual_datatable __crossCluster __crossDB __executeAndCache __id __isFuzzy __noWithSource
    __packedColumn __projectAway __sourceColumnIndex accumulate and anomalychart areachart as asc
    bagexpansion barchart between boolean by byte cachingpolicy callout cancel card char columnchart
    contains contains_cs containscs cycles dataexport datascope datatable date datetime decimal
    decodeblocks desc double dynamic earliest encodingpolicy endswith endswith_cs expandoutput
    extent_tags_retention external_data externaldata find first flags float force_remote harddelete
    hardretention has has_all has_any has_cs hasprefix hasprefix_cs hassuffix hassuffix_cs hotcache in
    int int16 int32 int64 int8 invoke isfuzzy journal kind ladderchart last latest like likecs linechart
    long materialize mdm missing nooptimization notcontains notcontainscs notlike notlikecs of or others
    pathformat piechart pivotchart print project queries query_results real relaxed
    restricted_view_access row_level_security rowstore rowstore_references rowstore_sealinfo
    rowstorepolicy rowstores sample scatterchart seal seals search set shards simple softdelete
    softretention sql stackedareachart startswith startswith_cs statistics storedqueryresultcontainers
    string tablepurge time timechart timeline timepivot timespan title to toscalar totable treemap uint
    uint16 uint32 uint64 uint8 ulong union uniqueid unrestrictedviewers verbose viewers views where
    with_itemindex with_match_id with_source with_step_name withsource writeaheadlog
    """.split()  # noqa: SIM905 (a word list reads better than 190 quoted strings)
)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def kql_string(text: str, quote: str = '"') -> str:
    """A quoted KQL string literal: backslash escapes for the quote, the backslash and control
    characters (a literal cannot hold a raw newline)."""
    escapes = {**_ESCAPES, quote: "\\" + quote}
    escaped = "".join(escapes.get(char, f"\\u{ord(char):04x}" if ord(char) < 0x20 else char) for char in text)
    return f"{quote}{escaped}{quote}"


def bracketed(name: str) -> str:
    """``['name']``: a column name or a dynamic key that is not an identifier."""
    return "[" + kql_string(name, quote="'") + "]"


def kql_name(name: str) -> str:
    """A column name as KQL reads it: bare when it can be an identifier, else ``['name']``."""
    if _IDENTIFIER.fullmatch(name) and name not in KQL_RESERVED:
        return name
    return bracketed(name)


def kql_member_path(field: str) -> str:
    """``Column.key.key`` of a dynamic column; keys that are not identifiers are indexed: ``["New IP"]``."""
    column, *keys = field.split(".")
    return kql_name(column) + "".join(
        f".{key}" if _IDENTIFIER.fullmatch(key) and key not in KQL_RESERVED else bracketed(key)
        for key in keys
    )


#: the null of each column kind (a string's null is the empty string)
_TYPED_NULL = {
    "string": '""',
    "number": "real(null)",
    "bool": "bool(null)",
    "datetime": "datetime(null)",
    "guid": "guid(null)",
    "dynamic": "dynamic(null)",
}


def kql_timespan(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def kql_bin(time: str, seconds: int) -> str:
    """Epoch-aligned buckets. ``bin()`` aligns to midnight (its documented ``1d`` example rounds down to
    00:00), so every span that divides a day is aligned to the Unix epoch as well; other spans name the
    epoch explicitly with ``bin_at()``."""
    if 86400 % seconds == 0:
        return f"bin({time}, {kql_timespan(seconds)})"
    return f"bin_at({time}, {kql_timespan(seconds)}, {EPOCH})"


# --- column types ------------------------------------------------------------------------------------

#: OktaV2_CL columns that are not strings (Azure/Azure-Sentinel, Solutions/Okta Single Sign-On/Data
#: Connectors/OktaNativePollerConnectorV2/OktaSSOv2_Tables.json @ 173a9024).
_OKTAV2_TYPES = {
    "ActorDetailEntry": "dynamic",
    "AuthenticationContextAuthenticationStep": "number",
    "DebugData": "dynamic",
    "OriginalTarget": "dynamic",
    "Request": "dynamic",
    "SecurityContextAsNumber": "number",
    "SecurityContextIsProxy": "bool",
    "SrcGeoLatitude": "number",
    "SrcGeoLongtitude": "number",
    "TimeGenerated": "datetime",
    "TransactionDetail": "dynamic",
    "TenantId": "guid",
}
#: Okta_CL: the HTTP Data Collector API gives each column a suffix naming its type.
_DATA_COLLECTOR_SUFFIXES = {"_s": "string", "_d": "number", "_b": "bool", "_t": "datetime", "_g": "guid"}


def column_kind(schema_id: str, column: str) -> str:
    """string, number, bool, datetime, guid or dynamic."""
    if column == "TimeGenerated":
        return "datetime"
    if schema_id == "okta_sentinel_legacy":
        return _DATA_COLLECTOR_SUFFIXES.get(column[-2:], "string")
    return _OKTAV2_TYPES.get(column, "string")


@dataclass(frozen=True)
class ColumnRef:
    """How a query refers to a field, and what type it holds."""

    reference: str
    kind: str

    @property
    def text(self) -> str:
        """The field as a string: every string operator needs one, and ``tostring(null)`` is ``""``."""
        return self.reference if self.kind == "string" else f"tostring({self.reference})"

    @property
    def number(self) -> str:
        """The field as a number: strings that spell a finite number count, anything else is null."""
        return self.reference if self.kind == "number" else finite(f"todouble({self.reference})")


def finite(value: str) -> str:
    """``value``, null when it is not finite: the pack has no infinities ("1e999" is not a number)."""
    return f"iff(isfinite({value}), {value}, real(null))"


def definite(comparison: str) -> str:
    """A comparison that KQL may answer with null (a null number, a string that is not an address) made
    true or false, so that ``not(...)`` over it stays two-valued as Sigma's matching is."""
    return f"coalesce({comparison}, false)"


# --- regular expressions -----------------------------------------------------------------------------

_RE2_METACHARACTERS = frozenset("\\.+*?()|[]{}^$")
# Python `re` features that RE2 (KQL's regular expression engine) does not have.
_RE2_UNSUPPORTED = (
    (re.compile(r"\(\?<?[=!]"), "lookaround"),
    (re.compile(r"\(\?>"), "atomic group"),
    (re.compile(r"\(\?\("), "conditional group"),
    (re.compile(r"\(\?P="), "named backreference"),
    (re.compile(r"\\[1-9]"), "backreference"),
    (re.compile(r"\\Z"), r"\Z (RE2 writes \z)"),
    (re.compile(r"[*+?}]\+"), "possessive quantifier"),
)


def re2_problem(regex: str) -> str | None:
    """The first construct of a Python regular expression that RE2 lacks, or None. Escaped characters
    and character classes are skipped, so that ``\\(?=`` is not taken for a lookahead."""
    significant = re.sub(r"\\[^1-9Z]|\[(?:\\.|[^\]])*\]", "_", regex)
    for pattern, construct in _RE2_UNSUPPORTED:
        if pattern.search(significant):
            return construct
    return None


def wildcard_regex(value: SigmaString) -> str:
    """A Sigma wildcard string as a RE2 pattern for ``matches regex`` (which searches): ``*`` any run,
    ``?`` one character, other characters literally; anchored at each end that is not a ``*``."""
    parts = ["" if value.startswith(SpecialChars.WILDCARD_MULTI) else "^"]
    for part in value.s:
        if isinstance(part, str):
            parts.append("".join(f"\\{c}" if c in _RE2_METACHARACTERS else c for c in part))
        elif part is SpecialChars.WILDCARD_MULTI:
            parts.append(".*")
        elif part is SpecialChars.WILDCARD_SINGLE:
            parts.append(".")
        else:
            raise SigmaFeatureNotSupportedByBackendError(f"unresolved placeholder in value '{value}'")
    parts.append("" if value.endswith(SpecialChars.WILDCARD_MULTI) else "$")
    pattern = "".join(parts)
    return pattern.removeprefix(".*").removesuffix(".*")  # a search needs no leading or trailing `.*`


# --- the condition language --------------------------------------------------------------------------

ROUND_HALF_AWAY = """\
let round_half_away = (value: real, scale: real) {
    // round(value, digits), scale = 10^digits: half away from zero on the shortest decimal that reads
    // as value. (floored + 0.5) / scale is the double nearest to the decimal midpoint, and value reaches
    // it when its shortest decimal is that midpoint or above: exact while |value| * scale < 2^48.
    // From 2^52 on, the value is kept as it is.
    let magnitude = abs(value);
    let floored = floor(magnitude * scale, 1.0);
    iff(magnitude * scale >= 4503599627370496.0, value,
        sign(value) * iff(magnitude >= (floored + 0.5) / scale, floored + 1.0, floored) / scale)
};"""
DIVIDE_OR_NULL = """\
let divide_or_null = (numerator: real, denominator: real) {
    // real division; null when dividing by zero (KQL gives infinity or NaN)
    iff(denominator == 0, real(null), numerator / denominator)
};"""
HELPER_FUNCTIONS = {"divide_or_null": DIVIDE_OR_NULL, "round_half_away": ROUND_HALF_AWAY}


class KustoDialect(ExpressionDialect):
    """The condition language in KQL.

    Every comparison is guarded by ``isnotnull()`` on the operands that can be null (sum, min, max, avg,
    first/last seen, division: the plan's ``never_null`` names are not), so that each atom is true or
    false and ``and``/``or``/``not`` need no null semantics of their own: unknown counts as false at the
    top, exactly as SQL's three-valued logic decides (see
    :class:`~sigma.backends.okta.targets.aggregate_plan.ExpressionDialect`). A boolean derived value holds
    true, false or null (unknown). Division and rounding call the functions of
    :data:`HELPER_FUNCTIONS`; :attr:`helpers_used` names those the query must define.
    """

    and_word = "and"
    or_word = "or"
    not_word = "not"

    def __init__(self, time_names: Iterable[str] = (), **knowledge: Any):
        super().__init__(**knowledge)
        self.time_names = frozenset(time_names)
        self.helpers_used: set[str] = set()

    def name(self, name: str) -> str:
        if name in self.time_names:  # epoch seconds in expressions, a datetime in the output
            return f"(({kql_name(name)} - {EPOCH}) / 1s)"
        return kql_name(name)

    def number(self, literal: Number) -> str:
        if re.fullmatch(r"-?\d+", literal.text) and abs(int(literal.text)) < 2**63:
            return literal.text  # a long, as written
        if math.isinf(literal.value):
            return "real(+inf)"
        return repr(literal.value)

    def is_null(self, value: str) -> str:
        return f"isnull({value})"

    def is_not_null(self, value: str) -> str:
        return f"isnotnull({value})"

    def null(self) -> str:
        return "real(null)"

    def divide(self, numerator: str, denominator: str) -> str:
        self.helpers_used.add("divide_or_null")
        return f"divide_or_null({numerator}, {denominator})"

    def round(self, value: str, digits: int) -> str:
        self.helpers_used.add("round_half_away")
        return f"round_half_away({value}, {10**digits}.0)"

    def compare(self, operator: str, left: str, right: str) -> str:
        return f"{left} {operator} {right}"

    def negation(self, part: str) -> str:
        return f"not({part})"

    def boolean_truth(self, value: str, wanted: bool) -> str:
        return f"coalesce({value}, false)" if wanted else f"not(coalesce({value}, true))"

    def boolean_value(self, expression: Expression) -> str:
        is_true, is_false = self.truth(expression, True), self.truth(expression, False)
        return f"iff({is_true}, true, iff({is_false}, false, bool(null)))"


# --- the backend -------------------------------------------------------------------------------------


class OktaKustoBackend(KustoListMembers, KustoBackend):
    """KQL for Microsoft Sentinel and Defender on the OktaV2_CL and Okta_CL tables."""

    name: ClassVar[str] = "sigma-okta KQL (Microsoft Sentinel / Defender)"
    identifier: ClassVar[str] = "okta_kusto"
    formats: ClassVar[dict[str, str]] = {"default": "KQL queries, each starting with its table"}

    # In-lists only for plain strings (``in~``, or ``in`` when cased); wildcard values keep their own
    # operator, and an AND of values is never ``has_all``, which tests terms, not equality.
    in_expressions_allow_wildcards: ClassVar[bool] = False
    convert_and_as_in: ClassVar[bool] = False

    # The official backend writes a keyword as a bare literal (`"foo"`), which is not a KQL condition;
    # the Okta pipelines reject keywords, and without them a keyword raises rather than mis-converts.
    unbound_value_str_expression: ClassVar[str | None] = None
    unbound_value_num_expression: ClassVar[str | None] = None
    unbound_value_re_expression: ClassVar[str | None] = None

    field_null_expression: ClassVar[str] = "isempty({field})"
    field_exists_expression: ClassVar[str] = "isnotempty({field})"
    field_not_exists_expression: ClassVar[str] = "isempty({field})"
    field_equals_field_expression: ClassVar[str] = "{field1} =~ {field2}"
    field_equals_field_startswith_expression: ClassVar[str] = "{field1} startswith {field2}"
    field_equals_field_endswith_expression: ClassVar[str] = "{field1} endswith {field2}"
    field_equals_field_contains_expression: ClassVar[str] = "{field1} contains {field2}"

    # value shape -> operator, case-insensitive (Sigma's default) and |cased
    string_operators: ClassVar[dict[str, tuple[str, str]]] = {
        "equals": ("=~", "=="),
        "startswith": ("startswith", "startswith_cs"),
        "endswith": ("endswith", "endswith_cs"),
        "contains": ("contains", "contains_cs"),
    }
    wildcard_regex_flags: ClassVar[tuple[str, str]] = ("(?is)", "(?s)")  # `*` spans newlines, as in Sigma

    _row_columns: dict[str, str] | None = None
    #: columns read by the query being converted that a workspace may lack (schema.always_present)
    _optional_columns_read: dict[str, str]

    # -- pipeline -------------------------------------------------------------------------------------

    def _schema(self) -> OktaSchema | None:
        return schema_of(processing_pipeline(self))

    def _require_supported_schema(self, construct: str) -> OktaSchema:
        schema = self._schema()
        if schema is None or schema.id not in SUPPORTED_SCHEMAS:
            found = f"the pipeline {schema.id}" if schema is not None else "no Okta pipeline"
            raise AggregateConversionError(
                construct,
                TARGET,
                f"KQL queries read Microsoft Sentinel's tables: use the pipeline okta_sentinel (OktaV2_CL) "
                f"or okta_sentinel_legacy (Okta_CL), not {found}",
            )
        return schema

    def convert_rule(
        self, rule: SigmaRule, output_format: str | None = None, callback: Any = None
    ) -> list[Any]:
        schema = self._schema()
        if schema is not None:  # a rule without an Okta schema converts as plain KQL
            self._require_supported_schema(f"rule '{rule.name or rule.title}'")
        self._optional_columns_read, self._members = {}, KustoMembers()
        with reading_lists_of_objects():
            return super().convert_rule(rule, output_format, callback)

    def finalize_query_default(self, rule: SigmaRule, query: str, index: int, state: ConversionState) -> str:
        table = state.processing_state.get("query_table")
        if not table:
            return query
        members = self._members
        return "\n".join(
            [table, *self.optional_columns_stage(), *members.stages(), f"| where {query}", *members.dropped()]
        )

    def optional_columns_stage(self) -> list[str]:
        """``| extend c = column_ifexists("c", null)`` for each column read that a workspace may lack, so
        that a rule runs (and reads nulls) in a workspace where no event has carried that field yet."""
        columns = sorted(self._optional_columns_read.items())
        if not columns:
            return []
        return [
            _listing(
                "| extend",
                [
                    f"{kql_name(c)} = column_ifexists({kql_string(c)}, {_TYPED_NULL[kind]})"
                    for c, kind in columns
                ],
            )
        ]

    # -- fields ---------------------------------------------------------------------------------------

    def column(self, field: str) -> ColumnRef:
        """A field of an event, or of a collapsed row while :meth:`reading_rows` is active."""
        if self._row_columns is not None:
            if field not in self._row_columns:
                raise AggregateConversionError(
                    f"a `where` on field '{field}' after the collapse",
                    TARGET,
                    "a collapsed row holds only the group-by and collapse fields",
                )
            return ColumnRef(self._row_columns[field], "string")
        if (element := self.member_element(field)) is not None:
            return ColumnRef(element, "dynamic")
        if "." in field:
            return ColumnRef(kql_member_path(field), "dynamic")
        schema = self._schema()
        kind = column_kind(schema.id if schema else "", field)
        if schema is not None and schema.always_present is not None and field not in schema.always_present:
            self._optional_columns_read[field] = kind
        return ColumnRef(kql_name(field), kind)

    @contextmanager
    def reading_rows(self, columns: dict[str, str]) -> Iterator[None]:
        """Render field references as the columns of collapsed rows (target field -> row column)."""
        self._row_columns = columns
        try:
            yield
        finally:
            self._row_columns = None

    def escape_and_quote_field(self, field_name: str) -> str:
        # the templates that use this (null, exists, field references) compare text
        return self.column(field_name).text

    # -- values ---------------------------------------------------------------------------------------

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self.string_match(self.column(cond.field).text, cond.value, cased=False)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self.string_match(self.column(cond.field).text, cond.value, cased=True)

    def string_match(self, text: str, value: SigmaString, cased: bool) -> str:
        """Sigma's string matching: whole value, prefix, suffix or infix with KQL's operators, any other
        wildcard pattern as an anchored regular expression (which keeps the order of the parts)."""
        pick = 1 if cased else 0
        if not value.contains_special():
            return f"{text} {self.string_operators['equals'][pick]} {kql_string(plain_text(value))}"
        if all(part is SpecialChars.WILDCARD_MULTI for part in value.s):
            return f"isnotempty({text})"  # `*`: any value; KQL cannot tell a missing string from ""
        for shape, inner in self._shapes(value):
            if inner is not None and not inner.contains_special():
                return f"{text} {self.string_operators[shape][pick]} {kql_string(plain_text(inner))}"
        pattern = self.wildcard_regex_flags[pick] + wildcard_regex(value)
        return f"{text} matches regex {kql_string(pattern)}"

    @staticmethod
    def _shapes(value: SigmaString) -> list[tuple[str, SigmaString | None]]:
        star = SpecialChars.WILDCARD_MULTI
        starts, ends = value.startswith(star), value.endswith(star)
        return [
            ("contains", value[1:-1] if starts and ends and len(value.s) > 2 else None),
            ("startswith", value[:-1] if ends and not starts else None),
            ("endswith", value[1:] if starts and not ends else None),
        ]

    def decide_convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> bool:
        if not super().decide_convert_condition_as_in_expression(cond, state):
            return False
        values = [arg.value for arg in cond.args]
        return all(isinstance(value, SigmaString) for value in values) and (
            len({isinstance(value, SigmaCasedString) for value in values}) == 1
        )

    def convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> str:
        first = cond.args[0]
        operator = "in" if isinstance(first.value, SigmaCasedString) else "in~"
        values = ", ".join(kql_string(plain_text(arg.value)) for arg in cond.args)
        return f"{self.column(first.field).text} {operator} ({values})"

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return definite(f"{self.column(cond.field).number} == {cond.value}")

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        value: SigmaCompareExpression = cond.value
        return definite(f"{self.column(cond.field).number} {self.compare_operators[value.op]} {value.number}")

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        value: SigmaBool = cond.value
        literal = "true" if value.boolean else "false"
        column = self.column(cond.field)
        if column.kind == "bool":
            return definite(f"{column.reference} == {literal}")
        return f"{column.text} =~ {kql_string(literal)}"  # JSON booleans and the strings true/false

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        value: SigmaRegularExpression = cond.value
        regex = str(value.regexp)
        if (problem := re2_problem(regex)) is not None:
            raise SigmaFeatureNotSupportedByBackendError(
                f"regular expression '{regex}' of field '{cond.field}': KQL's RE2 engine has no {problem}"
            )
        flags = "".join(sorted(SigmaRegularExpression.sigma_to_re_flag[flag] for flag in value.flags))
        pattern = f"(?{flags}){regex}" if flags else regex
        return f"{self.column(cond.field).text} matches regex {kql_string(pattern)}"

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        value: SigmaCIDRExpression = cond.value
        function = "ipv4_is_in_range" if value.network.version == 4 else "ipv6_is_in_range"
        return definite(f"{function}({self.column(cond.field).text}, {kql_string(str(value.network))})")

    # -- the aggregate correlation --------------------------------------------------------------------

    def convert_aggregate(self, rule: AggregateCorrelationRule) -> str:
        """The whole KQL query of an `aggregate` correlation."""
        self._require_supported_schema(f"aggregate correlation '{rule.name or rule.title}'")

        def render_where(where: SigmaRule, plan: AggregateQuery) -> str:
            # after a collapse a metric's `where` reads the collapsed rows, whose missing values are filled
            if plan.collapse is None:
                return detection_expression(self, where, TARGET)
            with self.reading_rows({field: row_column(row) for field, row in plan.where_fields.items()}):
                return detection_expression(self, where, TARGET)

        self._optional_columns_read, self._members = {}, KustoMembers()
        with reading_lists_of_objects():
            plan = plan_aggregate(
                rule, self, TARGET, default_time_field="TimeGenerated", render_where=render_where
            )
            return _AggregateKql(self, plan).render()


def row_column(row: RowField) -> str:
    """The column of a row field: a group-by column is named as in the rule (missing values as ``NULL``),
    a collapse column of its own after the target field (missing values as the collapse's text)."""
    return kql_name(row.name if row.group_by else row.field.single or row.name)


class _AggregateKql:
    """One `aggregate` plan as KQL, in the plan's stages."""

    def __init__(self, backend: OktaKustoBackend, plan: AggregateQuery):
        self.backend = backend
        self.plan = plan
        self.collapsed = plan.collapse is not None
        self.dialect = KustoDialect(plan.time_names, never_null=plan.never_null, booleans=plan.booleans)
        self.time = "row_time" if self.collapsed else kql_name(plan.time_field)
        self.groups = [row for row in plan.row_fields if row.group_by]
        self.collapse_columns = [row for row in plan.row_fields if not row.group_by]

    def render(self) -> str:
        # the any-element counts before the selection only where it reads them, else on its events only
        members = self.backend._members
        early = members.read_by(self.plan.rule_conditions)
        stages = [
            *self.select(),
            *([] if early else members.stages()),
            *self.collapse(),
            *self.flag_filters(),
            self.aggregate(),
            *self.decide(),
            self.output(),
            self.order(),
        ]
        self.check_names()
        helpers = [HELPER_FUNCTIONS[name] for name in sorted(self.dialect.helpers_used)]
        optional = self.backend.optional_columns_stage()  # after the stages: they name the columns read
        first = members.stages() if early else []
        return "\n".join([*helpers, self.plan.source or "", *optional, *first, *stages])

    # -- 1. select the events of the referenced rules, one flag per rule ------------------------------

    def select(self) -> list[str]:
        conditions = [f"({condition})" for condition in self.plan.rule_conditions]
        flags = [
            f"{flag} = {condition}" for flag, condition in zip(self.plan.rule_flags, conditions, strict=True)
        ]
        return ["| where " + "\n    or ".join(conditions), _listing("| extend", flags)]

    # -- 3 and 4. time buckets and the collapse -------------------------------------------------------

    def collapse(self) -> list[str]:
        collapse = self.plan.collapse
        if collapse is None:
            return []
        uuid = self.event_text(self.plan.uuid)
        bucket = f"bucket = {kql_bin(kql_name(self.plan.time_field), collapse.span_seconds)}"
        by = [
            ", ".join([*self.plan.rule_flags, bucket]),
            *(f"{row_column(row)} = {self.filled(row)}" for row in (*self.groups, *self.collapse_columns)),
        ]
        aggregates = [
            f"row_time = min({kql_name(self.plan.time_field)})",
            f"row_event_ids = make_set_if({uuid}, isnotempty({uuid}))",
        ]
        return [f"| summarize {', '.join(aggregates)}\n    by " + ",\n    ".join(by)]

    def filled(self, row: RowField) -> str:
        text = self.event_text(row.field)
        return text if row.fill is None else f"iff(isempty({text}), {kql_string(row.fill)}, {text})"

    # -- 2. metric filters (on collapsed rows when there is a collapse) -------------------------------

    def flag_filters(self) -> list[str]:
        flags = []
        for plan in self.plan.filters:
            if plan.where is None:
                continue  # the rule flag alone: AggregateQuery.flag_of
            parts = ([f"rule_{plan.rule_index}"] if plan.rule_index is not None else []) + [f"({plan.where})"]
            flags.append(f"{plan.name} = {' and '.join(parts)}")
        return [_listing("| extend", flags)] if flags else []

    # -- 5. aggregate per window and group ------------------------------------------------------------

    def aggregate(self) -> str:
        event_ids = (
            "make_set(row_event_ids)"  # make_set flattens the rows' arrays
            if self.collapsed
            else "make_set_if({0}, isnotempty({0}))".format(self.event_text(self.plan.uuid))
        )
        aggregates = [
            f"first_seen = min({self.time})",
            *(f"{kql_name(m.name)} = {self.metric(m)}" for m in self.plan.all_metrics),
            f"event_ids = {event_ids}",
        ]
        window = f"window_start = {kql_bin(self.time, self.plan.timespan_seconds)}"
        if self.collapsed:
            groups = [row_column(row) for row in self.groups]
        else:
            groups = [f"{row_column(row)} = {self.filled(row)}" for row in self.groups]
        return _listing("| summarize", aggregates) + "\n    by " + ",\n    ".join([window, *groups])

    def metric(self, metric: MetricPlan) -> str:
        when = self.plan.flag_of(metric)
        match metric.kind:
            case MetricKind.COUNT:
                return f"countif({when})" if when else "count()"
            case MetricKind.DISTINCT:
                return f"array_length({self.value_set(metric, when)})"
            case MetricKind.VALUES:
                return self.value_set(metric, when)  # sorted in the output stage
            case MetricKind.SUM | MetricKind.MIN | MetricKind.MAX | MetricKind.AVG:
                return self.numeric(metric, when)
            case MetricKind.FIRST_SEEN | MetricKind.LAST_SEEN:
                function = "min" if metric.kind is MetricKind.FIRST_SEEN else "max"
                if when is None:
                    return f"{function}({self.time})"
                return f"iff(countif({when}) == 0, datetime(null), {function}if({self.time}, {when}))"
        raise AggregateConversionError(f"metric type {metric.kind.value}", TARGET)

    def value_set(self, metric: MetricPlan, when: str | None) -> str:
        """The distinct texts of a field: exact (``make_set``), where ``dcount()`` would estimate."""
        text, filled = self.metric_text(metric)
        conditions = [c for c in (when, None if filled else f"isnotempty({text})") if c]
        return f"make_set_if({text}, {' and '.join(conditions)})" if conditions else f"make_set({text})"

    def numeric(self, metric: MetricPlan, when: str | None) -> str:
        """sum/min/max/avg of the values that are numbers; null when there is none."""
        number = self.metric_number(metric)
        counted = " and ".join(c for c in (when, f"isnotnull({number})") if c)
        function = metric.kind.value
        aggregate = f"{function}if({number}, {when})" if when else f"{function}({number})"
        if metric.kind in (MetricKind.SUM, MetricKind.AVG):  # finite numbers can sum beyond the range
            aggregate = finite(aggregate)
        return f"iff(countif({counted}) == 0, real(null), {aggregate})"

    def metric_text(self, metric: MetricPlan) -> tuple[str, bool]:
        """A metric's field as text, and whether missing values were filled (so none is empty)."""
        if self.collapsed:
            row = self.plan.row_field_of(metric)
            return row_column(row), row.fill is not None
        return self.event_text(metric.field), False

    def metric_number(self, metric: MetricPlan) -> str:
        if self.collapsed:
            return finite(f"todouble({row_column(self.plan.row_field_of(metric))})")
        return self.event_value(metric.field, lambda column: column.number)

    def event_text(self, ref: FieldRef) -> str:
        return self.event_value(ref, lambda column: column.text)

    def event_value(self, ref: FieldRef, form: Any) -> str:
        """A field of an event; an alias reads the field of the first rule the event matched."""
        values = [form(self.backend.column(field)) for field in ref.per_rule]
        if ref.single is not None:
            return values[0]
        branches = [f"rule_{index}, {value}" for index, value in enumerate(values[:-1])]
        return f"case({', '.join(branches)}, {values[-1]})"

    # -- 6. derived values and the condition ----------------------------------------------------------

    def decide(self) -> list[str]:
        # one extend each: a derived value may use the ones before it
        decision = self.dialect.decide(self.plan)
        assignments = [*(a for step in decision.derived for a in step), *decision.bindings]
        return [*(f"| extend {kql_name(n)} = {v}" for n, v in assignments), f"| where {decision.condition}"]

    # -- 7. output ------------------------------------------------------------------------------------

    def output(self) -> str:
        sorted_lists = {m.name for m in self.plan.all_metrics if m.kind is MetricKind.VALUES}
        columns = [
            "window_start",
            *(row_column(row) for row in self.groups),
            "first_seen",
            *(self.output_column(name, sorted_lists) for name in self.plan.output_names),
            "event_ids = array_sort_asc(event_ids)",
        ]
        return "| project " + ", ".join(columns)

    def order(self) -> str:
        # alerts in the engine's order; KQL sorts descending unless told otherwise
        keys = ["window_start", *(row_column(row) for row in self.groups)]
        return "| sort by " + ", ".join(f"{key} asc" for key in keys)

    @staticmethod
    def output_column(name: str, sorted_lists: set[str]) -> str:
        column = kql_name(name)
        return f"{column} = array_sort_asc({column})" if name in sorted_lists else column

    def check_names(self) -> None:
        """The rule's names become columns beside the query's own: they must not clash."""
        self.plan.check_columns(self.plan.output_columns("window_start"), key=kql_name)
        internal = {
            *self.plan.rule_flags,
            *(f.name for f in self.plan.filters),
            "row_time",
            "row_event_ids",
            "bucket",
            *self.backend._members.columns,
            *(row_column(row) for row in self.collapse_columns),
        }
        for name in self.plan.output_names:
            if kql_name(name) in internal:
                raise AggregateConversionError(
                    f"the name '{name}'", TARGET, "the query already has a column of that name: rename it"
                )


def _listing(operator: str, items: list[str]) -> str:
    """``| extend a = ..., b = ...`` with one item per line when there are several."""
    if len(items) == 1:
        return f"{operator} {items[0]}"
    return f"{operator}\n    " + ",\n    ".join(items)
