"""SQL targets: DuckDB and Spark SQL over raw Okta System Log JSON.

One generator, one dialect class per engine that overrides only what differs (sqlglot's model): DuckDB
is the base dialect, Spark changes quoting, string escapes, JSON access, time parsing, list functions
and rounding. Both read newline-delimited JSON with an explicit schema (every top-level key the rules
read, as JSON text, never inferred), flatten each field the rules read into one text column named by
its Sigma field name (nested objects first, then keys that contain dots, as the engine resolves them),
and then run the stages of :mod:`sigma.backends.okta.targets.aggregate_plan` as common table expressions.

These queries are executed by the tests on DuckDB and on Apache Spark and compared with the engine,
metric for metric (``sigma-okta run --engine duckdb|spark`` does the same on a user's files).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any, ClassVar

from sigma.conditions import ConditionFieldEqualsValueExpression, ConditionNOT
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError, SigmaValueError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    SigmaCasedString,
    SigmaExists,
    SigmaFieldReference,
    SigmaNull,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from sigma.pipelines.okta.expression import And, Comparison, Expression, Name, Not, Number, Or
from sigma.pipelines.okta.model import AggregateCorrelationRule, MetricKind, WindowKind, detection_fields
from sigma.pipelines.okta.okta_schemas import list_of_objects

from ..engine.matcher import rule_fields
from .aggregate_plan import (
    TIME_KINDS,
    AggregateConversionError,
    AggregateQuery,
    ExpressionDialect,
    RowField,
    plan_aggregate,
)
from .sql_events import DuckDBMembers, EventsQuery, SparkMembers

EVENTS_PATH = "okta-events.jsonl"  # the placeholder path of a converted query; `run --engine` sets it
US = 1_000_000
# the engine's reading of a number written as text (plugin/semantics.py: as_number)
DECIMAL_NUMBER = r"^[ \t\n\r]*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?[ \t\n\r]*$"


# --- dialects -------------------------------------------------------------------------------------


class SqlDialect(DuckDBMembers, ExpressionDialect):
    """DuckDB, and the base of the other SQL dialects."""

    # -- lexical -------------------------------------------------------------------------------------

    def quote(self, identifier: str) -> str:
        return '"' + identifier.replace('"', '""') + '"'

    def string(self, text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    # -- reading events ------------------------------------------------------------------------------

    def prelude(self, columns: list[str], path: str) -> list[str]:
        """Statements run before the query: DuckDB renders JSON values as Okta text with a macro."""
        return [
            "CREATE OR REPLACE TEMP MACRO okta_text(j) AS CASE json_type(j) "
            "WHEN 'NULL' THEN NULL "
            "WHEN 'VARCHAR' THEN json_extract_string(j, '$') "
            # an object where a string is expected reads in Okta's {key=value, ...} form, as in the engine
            "WHEN 'OBJECT' THEN '{' || array_to_string(list_transform(json_keys(j), lambda k: k || '=' || "
            "coalesce(json_extract_string(j, '$.\"' || replace(k, '\"', '\\\"') || '\"'), 'null')), ', ') || '}' "
            "ELSE json_extract_string(j, '$') END"
        ]

    def source(self, columns: list[str], path: Any) -> str:
        spec = ", ".join(f"{self.string(column)}: 'JSON'" for column in columns)
        paths = self.string(path) if isinstance(path, str) else "[" + ", ".join(map(self.string, path)) + "]"
        return (
            f"read_json({paths}, format = 'newline_delimited', ignore_errors = true, "
            f"maximum_object_size = 16777216, columns = {{{spec}}})"
        )

    def json_path(self, keys: Iterable[str]) -> str:
        return "$" + "".join(f'."{key}"' if re.search(r"[^A-Za-z0-9_]", key) else f".{key}" for key in keys)

    def field_text(self, column: str, keys: tuple[str, ...]) -> str:
        """The text of the value at ``keys`` inside a top-level column, or NULL (missing or JSON null)."""
        value = (
            self.quote(column)
            if not keys
            else f"json_extract({self.quote(column)}, {self.string(self.json_path(keys))})"
        )
        return f"okta_text({value})"

    def event_time(self, column: str) -> str:
        """Epoch microseconds of the time field: ISO 8601 text, or a JSON number of seconds or milliseconds."""
        raw = self.quote(column)
        number = f"CAST(json_extract_string({raw}, '$') AS DOUBLE)"
        return (
            f"CASE WHEN json_type({raw}) IN ('UBIGINT', 'BIGINT', 'DOUBLE') "
            f"THEN CAST(floor(CASE WHEN abs({number}) >= 1e11 THEN {number} * 1000 ELSE {number} * 1000000 END) AS BIGINT) "
            f"WHEN json_type({raw}) = 'VARCHAR' "
            f"THEN epoch_us(TRY_CAST(json_extract_string({raw}, '$') AS TIMESTAMPTZ)) END"
        )

    # -- functions -----------------------------------------------------------------------------------

    def floor_div(self, value: str, divisor: int) -> str:
        return f"({value} // {divisor})"

    def timestamp(self, microseconds: str) -> str:
        return f"make_timestamp({microseconds})"

    def number_of(self, text: str) -> str:
        """The engine's number of a text: finite decimal numbers only, NULL for anything else."""
        number = f"CAST(trim({text}) AS DOUBLE)"
        return f"CASE WHEN regexp_full_match({text}, {self.string(DECIMAL_NUMBER[1:-1])}) THEN {self.finite(number)} END"

    def finite(self, value: str) -> str:
        """``value`` (a DOUBLE), NULL when it is infinite or NaN (semantics.finite); ``value`` once, so that
        nesting stays linear in size."""
        for special in ("Infinity", "-Infinity", "NaN"):
            value = f"nullif({value}, CAST('{special}' AS DOUBLE))"
        return value

    def regex_match(self, text: str, pattern: str) -> str:
        return f"regexp_matches({text}, {self.string(pattern)})"

    def starts_with(self, text: str, prefix: str) -> str:
        return f"starts_with({text}, {prefix})"

    def ends_with(self, text: str, suffix: str) -> str:
        return f"ends_with({text}, {suffix})"

    def contains(self, text: str, part: str) -> str:
        return f"contains({text}, {part})"

    def sorted_texts(self, value: str, condition: str | None) -> str:
        """The sorted distinct non-null texts of an aggregated column (optionally filtered)."""
        return f"coalesce(list_sort(list_distinct(list({value}){self.filter(condition)})), [])"

    def collected(self, value: str) -> str:
        return f"list({value})"

    def sorted_ids(self, lists: str) -> str:
        return f"list_sort(list_distinct(flatten(list({lists}))))"

    def filter(self, condition: str | None) -> str:
        return f" FILTER (WHERE {condition})" if condition else ""

    # -- the condition language (SQL has three-valued logic: render it natively) --------------------

    def null(self) -> str:
        return "NULL"

    def is_not_null(self, value: str) -> str:
        return f"{value} IS NOT NULL"

    def is_null(self, value: str) -> str:
        return f"{value} IS NULL"

    def name(self, name: str) -> str:
        return self.quote(name)

    def number(self, literal: Number) -> str:
        return f"CAST({literal.text} AS DOUBLE)"

    def divide(self, numerator: str, denominator: str) -> str:
        return self.finite(f"(CAST({numerator} AS DOUBLE) / NULLIF({denominator}, 0))")

    def round(self, value: str, digits: int) -> str:
        # the shortest decimal of the double, rounded half away from zero (DuckDB's DECIMAL rounding);
        # beyond DECIMAL(38,18) the plain double rounding is the fallback
        decimal = f"TRY_CAST(CAST(CAST({value} AS DOUBLE) AS VARCHAR) AS DECIMAL(38, 18))"
        return f"CAST(coalesce(round({decimal}, {digits}), round({value}, {digits})) AS DOUBLE)"

    def condition(self, expression: Expression) -> str:
        return self.boolean(expression)

    def boolean(self, expression: Expression) -> str:
        match expression:
            case Name(name):  # a boolean derived value
                return self.quote(name)
            case Comparison(operator, left, right):
                return f"({self.compare(operator, self.value(left), self.value(right))})"
            case Not(operand):
                return f"(NOT {self.boolean(operand)})"
            case And(operands):
                return "(" + " AND ".join(self.boolean(operand) for operand in operands) + ")"
            case Or(operands):
                return "(" + " OR ".join(self.boolean(operand) for operand in operands) + ")"
        raise TypeError(f"not a condition: {expression!r}")


class SparkDialect(SparkMembers, SqlDialect):
    """Spark SQL: what differs from DuckDB."""

    VIEW = "okta_events"

    def quote(self, identifier: str) -> str:
        return "`" + identifier.replace("`", "``") + "`"

    def string(self, text: str) -> str:
        # backslash is an escape character in Spark's string literals
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def prelude(self, columns: list[str], path: str) -> list[str]:
        # an explicit schema: Spark would otherwise infer one; STRING keeps nested objects as JSON text
        schema = ", ".join(f"{self.quote(column)} STRING" for column in columns)
        return [
            f"CREATE OR REPLACE TEMPORARY VIEW {self.VIEW} ({schema}) USING json "
            f"OPTIONS (path {self.string(path)}, mode 'PERMISSIVE')"
        ]

    def source(self, columns: list[str], path: str) -> str:
        return self.VIEW

    def json_path(self, keys: Iterable[str]) -> str:
        return "$" + "".join(f"['{key}']" if re.search(r"[^A-Za-z0-9_]", key) else f".{key}" for key in keys)

    def field_text(self, column: str, keys: tuple[str, ...]) -> str:
        value = (
            self.quote(column)
            if not keys
            else f"get_json_object({self.quote(column)}, {self.string(self.json_path(keys))})"
        )
        return self.okta_text(value)

    @staticmethod
    def okta_text(value: str) -> str:
        # get_json_object gives objects as JSON text and strings unquoted; an object (text starting
        # with {") reads in Okta's {key=value, ...} form, as in the engine
        return (
            f"CASE WHEN {value} LIKE '{{\"%' THEN concat('{{', array_join(transform(map_entries("
            f"from_json({value}, 'map<string,string>')), e -> concat(e.key, '=', coalesce(e.value, 'null'))), ', '), '}}') "
            f"ELSE {value} END"
        )

    def event_time(self, column: str) -> str:
        raw = self.quote(column)
        number = f"try_cast({raw} AS DOUBLE)"
        return (
            f"CASE WHEN {number} IS NOT NULL "
            f"THEN CAST(floor(CASE WHEN abs({number}) >= 1e11 THEN {number} * 1000 ELSE {number} * 1000000 END) AS BIGINT) "
            f"ELSE unix_micros(try_cast({raw} AS TIMESTAMP)) END"
        )

    def floor_div(self, value: str, divisor: int) -> str:
        return f"({value} DIV {divisor})"

    def timestamp(self, microseconds: str) -> str:
        return f"timestamp_micros({microseconds})"

    def number_of(self, text: str) -> str:
        number = f"CAST(trim({text}) AS DOUBLE)"
        return f"CASE WHEN {text} RLIKE {self.string(DECIMAL_NUMBER)} THEN {self.finite(number)} END"

    def regex_match(self, text: str, pattern: str) -> str:
        return f"{text} RLIKE {self.string(pattern)}"

    def starts_with(self, text: str, prefix: str) -> str:
        return f"startswith({text}, {prefix})"

    def ends_with(self, text: str, suffix: str) -> str:
        return f"endswith({text}, {suffix})"

    def sorted_texts(self, value: str, condition: str | None) -> str:
        return f"coalesce(array_sort(collect_set({value}){self.filter(condition)}), array())"

    def collected(self, value: str) -> str:
        return f"collect_list({value})"

    def sorted_ids(self, lists: str) -> str:
        return f"array_sort(array_distinct(flatten(collect_list({lists}))))"

    def round(self, value: str, digits: int) -> str:
        # Spark rounds a double through BigDecimal(Double.toString(x)): the shortest decimal, half up
        return f"CAST(round(CAST({value} AS DOUBLE), {digits}) AS DOUBLE)"


# --- base rules -----------------------------------------------------------------------------------


class OktaSqlBackend(TextQueryBackend):
    """Sigma rules as SQL conditions over the flattened event columns (one per Sigma field name).

    Matching follows the engine: case-insensitive unless ``|cased``, wildcards as LIKE patterns, and
    two-valued: a missing field does not match, so ``not`` of it does (every ``NOT`` guards its
    operand with ``coalesce(..., false)``).
    """

    dialect: ClassVar[SqlDialect] = SqlDialect()
    target: ClassVar[str] = "duckdb"
    default_time_field: ClassVar[str] = "published"
    # the SQL runs where sigma-okta writes the risk stream (`run --risk-output`), so it can read it
    reads_risk_stream: ClassVar[bool] = True

    precedence = (ConditionNOT, *TextQueryBackend.precedence[1:])
    group_expression = "({expr})"
    token_separator = " "
    or_token = "OR"
    and_token = "AND"
    not_token = "NOT"
    eq_token = " = "
    field_quote = '"'
    field_quote_pattern = re.compile("^$")  # quote every name (Sigma names contain dots)
    str_quote = "'"
    escape_char = "'"
    wildcard_multi = "%"
    wildcard_single = "_"
    field_null_expression = "{field} IS NULL"
    field_exists_expression = "{field} IS NOT NULL"
    field_not_exists_expression = "{field} IS NULL"
    compare_op_expression = "{field} {operator} {value}"
    compare_operators: ClassVar[dict[CompareOperators, str]] = {
        CompareOperators.LT: "<",
        CompareOperators.LTE: "<=",
        CompareOperators.GT: ">",
        CompareOperators.GTE: ">=",
    }

    def __init__(
        self,
        processing_pipeline: ProcessingPipeline | None = None,
        collect_errors: bool = False,
        events_path: str = EVENTS_PATH,
        **options: Any,
    ):
        super().__init__(processing_pipeline, collect_errors, **options)
        self.events_path = events_path

    # -- names and values ------------------------------------------------------------------------------

    def escape_and_quote_field(self, field_name: str) -> str:
        if field_name == _ELEMENT_FIELD:
            return self.dialect.ELEMENT
        return self.dialect.quote(field_name)

    def convert_condition_field_eq_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        """A member of a list of objects (``target.displayName``) is a list column: the item holds when
        any element's text matches; null when no element has a value (docs/semantics.md)."""
        if list_of_objects(cond.field) is None:
            return super().convert_condition_field_eq_val(cond, state)
        texts = self.escape_and_quote_field(cond.field)
        value = cond.value
        if isinstance(value, SigmaNull) or (isinstance(value, SigmaExists) and not value.exists):
            return f"{self.dialect.list_size(texts)} = 0"
        if isinstance(value, SigmaExists):
            return f"{self.dialect.list_size(texts)} > 0"
        if isinstance(value, SigmaFieldReference):
            raise SigmaFeatureNotSupportedByBackendError(
                f"|fieldref on '{cond.field}', a member of a list of objects, is not supported by the "
                f"{self.target} target",
                source=cond.source,
            )
        element = copy.copy(cond)
        element.field = _ELEMENT_FIELD
        return self.dialect.any_element(texts, super().convert_condition_field_eq_val(element, state))

    def _text(self, value: SigmaString, cased: bool) -> tuple[str, bool]:
        """A SQL string literal for a Sigma string, and whether it is a LIKE pattern (has wildcards)."""
        parts = []
        pattern = value.contains_special()
        for part in value:
            if part is SpecialChars.WILDCARD_MULTI:
                parts.append("%")
            elif part is SpecialChars.WILDCARD_SINGLE:
                parts.append("_")
            else:
                text = part if cased else part.lower()
                parts.append(re.sub(r"([\\%_])", r"\\\1", text) if pattern else text)
        return self.dialect.string("".join(parts)), pattern

    def _string_match(self, field: str, value: SigmaString, cased: bool) -> str:
        if value.contains_placeholder():
            raise SigmaValueError(
                f"Attempt to convert unhandled placeholder '{value.to_plain()}' into query: fill it with a "
                "processing pipeline first",
                source=value.source if hasattr(value, "source") else None,
            )
        column = self.escape_and_quote_field(field)
        subject = column if cased else f"lower({column})"
        literal, pattern = self._text(value, cased)
        if pattern:
            return f"{subject} LIKE {literal} ESCAPE {self.dialect.string(chr(92))}"
        return f"{subject} = {literal}"

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self._string_match(cond.field, cond.value, isinstance(cond.value, SigmaCasedString))

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self._string_match(cond.field, cond.value, True)

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        column = self.escape_and_quote_field(cond.field)
        return f"{self.dialect.number_of(column)} = {cond.value.number}"

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        column = self.escape_and_quote_field(cond.field)
        return f"lower({column}) = {self.dialect.string('true' if cond.value.boolean else 'false')}"

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        column = self.escape_and_quote_field(cond.field)
        operator = self.compare_operators[cond.value.op]
        return f"{self.dialect.number_of(column)} {operator} {cond.value.number.number}"

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        flags = {
            SigmaRegularExpressionFlag.IGNORECASE: "i",
            SigmaRegularExpressionFlag.MULTILINE: "m",
            SigmaRegularExpressionFlag.DOTALL: "s",
        }
        prefix = "".join(flags[flag] for flag in sorted(cond.value.flags, key=lambda flag: flags[flag]))
        pattern = (f"(?{prefix})" if prefix else "") + str(cond.value.regexp)
        return self.dialect.regex_match(self.escape_and_quote_field(cond.field), pattern)

    def convert_condition_field_eq_field(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        if list_of_objects(cond.value.field) is not None:
            raise SigmaFeatureNotSupportedByBackendError(
                f"|fieldref to '{cond.value.field}', a member of a list of objects, is not supported by "
                f"the {self.target} target",
                source=cond.source,
            )
        left = f"lower({self.escape_and_quote_field(cond.field)})"
        right = f"lower({self.escape_and_quote_field(cond.value.field)})"
        reference = cond.value
        if reference.starts_with and reference.ends_with:
            return self.dialect.contains(left, right)
        if reference.starts_with:
            return self.dialect.starts_with(left, right)
        if reference.ends_with:
            return self.dialect.ends_with(left, right)
        return f"{left} = {right}"

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> str:
        # Sigma matching is two-valued: a comparison on a missing field is false, so its negation is true
        inner = self.convert_condition(cond.args[0], state)
        return f"NOT coalesce({inner}, false)"

    def convert_condition_val_str(self, cond: Any, state: ConversionState) -> str:
        raise SigmaFeatureNotSupportedByBackendError(
            f"keyword (field-less) detections are not supported by the {self.target} target",
            source=cond.source,
        )

    convert_condition_val_num = convert_condition_val_str
    convert_condition_val_re = convert_condition_val_str

    # -- whole queries -------------------------------------------------------------------------------

    def finalize_query_default(self, rule: SigmaRule, query: str, index: int, state: ConversionState) -> str:
        # the rule's `fields` too: a match alert carries them, as the engine's does
        columns = sorted(rule_fields(rule) | set(rule.fields) | {"uuid", self.default_time_field})
        events = EventsQuery(self.dialect, columns, self.default_time_field, self.events_path)
        return script(
            events.statements(
                f"SELECT * FROM events\nWHERE event_us IS NOT NULL AND coalesce({query}, false)\nORDER BY event_us"
            )
        )

    def convert_aggregate(self, rule: AggregateCorrelationRule, *, every_group: bool = False) -> str:
        """The SQL script of an `aggregate` correlation (with ``every_group``, every group is returned
        with a ``condition`` column instead of only those whose condition holds)."""
        return script(self.aggregate_statements(rule, every_group=every_group))

    def aggregate_statements(
        self, rule: AggregateCorrelationRule, *, every_group: bool = False, timestamps: bool = True
    ) -> list[str]:
        query = plan_aggregate(
            rule, self, self.target, default_time_field=self.default_time_field, exact_ranking=True
        )
        renderer = _AggregateSql
        if needs_ranking(rule):  # percentiles, rule order, sliding windows: their own stages
            from .sql_ranking import RankingSql

            renderer = RankingSql
        return renderer(self.dialect, query, rule, self.events_path, every_group, timestamps).statements()

    def match_statements(self, rule: SigmaRule) -> list[str]:
        """The statements selecting the events a base rule matches (``convert_rule`` as a list)."""
        queries = self.convert_rule(rule)
        if rule._backreferences and not self.finalize_correlation_subqueries:
            # pySigma leaves a correlation's input rule unfinalized (its condition only); a rule that is
            # also run for its own matches needs its whole statement
            states = rule.get_conversion_states()
            queries = [
                self.finalize_query(rule, query, index, states[index], self.default_format)
                for index, query in enumerate(queries)
            ]
        return split_script(queries[0])


_ELEMENT_FIELD = "\x00element"  # the field name of one element's text inside `any_element` (by identity)


def script(statements: list[str]) -> str:
    return ";\n".join(statements) + ";\n"


def split_script(text: str) -> list[str]:
    """The statements of a converted script (they end with ';' at the end of a line)."""
    return [statement for statement in text.split(";\n") if statement.strip()]


class OktaDuckDBBackend(OktaSqlBackend):
    """DuckDB SQL over Okta System Log NDJSON files (``read_json``)."""

    name = "DuckDB SQL for Okta System Log JSON"
    identifier = "okta_duckdb"
    formats: ClassVar[dict[str, str]] = {"default": "DuckDB SQL script"}
    target = "duckdb"
    dialect = SqlDialect()


class OktaSparkBackend(OktaSqlBackend):
    """Spark SQL over Okta System Log NDJSON (a temporary view with an explicit schema)."""

    name = "Spark SQL for Okta System Log JSON"
    identifier = "okta_spark"
    formats: ClassVar[dict[str, str]] = {"default": "Spark SQL script"}
    target = "spark"
    dialect = SparkDialect()
    field_quote = "`"


# --- queries --------------------------------------------------------------------------------------


class _AggregateSql:
    """Renders an :class:`AggregateQuery` as a SQL script (see the stages in aggregate_query.py)."""

    def __init__(
        self,
        dialect: SqlDialect,
        query: AggregateQuery,
        rule: AggregateCorrelationRule,
        path: Any,
        every_group: bool,
        timestamps: bool = True,
    ):
        self.timestamps = timestamps  # False: times as epoch microseconds (for `run --engine`)
        self.d = dialect
        self.q = query
        self.rule = rule
        self.every_group = every_group
        for ref in query.fields_read:
            if ref.single is None:
                raise AggregateConversionError(
                    f"alias '{ref.name}' with different fields per rule",
                    query.target,
                    "SQL targets read one column per field",
                    source=rule.source,
                )
        for ref in query.fields_read:
            if list_of_objects(ref.single) is not None:
                raise AggregateConversionError(
                    f"'{ref.single}' as a group-by, metric or output field",
                    query.target,
                    "it is a member of a list of objects, with one value per element; only detections "
                    "(and a metric's `where`) test it",
                    source=rule.source,
                )
        fields = set(rule_fields_of(rule)) | {ref.single for ref in query.fields_read} | {"uuid"}
        self.events = EventsQuery(dialect, sorted(fields), query.time_field, path)

    def col(self, name: str) -> str:
        return self.d.quote(name)

    def event_ctes(self) -> list[str]:
        """Stages 1 and 2: the events, their rule flags, the selected events and their filter flags."""
        q = self.q
        flags = [
            f"coalesce({condition}, false) AS {flag}"
            for condition, flag in zip(q.rule_conditions, q.rule_flags, strict=False)
        ]
        ctes = [self.events.cte()]
        ctes.append(
            "flagged AS (\n  SELECT *,\n    "
            + ",\n    ".join(flags)
            + "\n  FROM events\n  WHERE event_us IS NOT NULL\n)"
        )
        selected = " OR ".join(q.rule_flags)
        # with a collapse, group-by and collapse values as texts with missing filled: filters then see
        # the filled rows; without, the events as they are
        filled = {field: self.filled(row) for field, row in q.where_fields.items()}
        kept = sorted(set(self._columns_kept()))
        projected = [f"{filled.get(name, self.col(name))} AS {self.col(name)}" for name in kept]
        ctes.append(
            "selected AS (\n  SELECT "
            + ", ".join(q.rule_flags)
            + ", event_us, "
            + self.col("uuid")
            + ",\n    "
            + ",\n    ".join(projected)
            + f"\n  FROM flagged\n  WHERE {selected}\n)"
        )
        filters = []
        for plan in q.filters:
            parts = []
            if plan.rule_index is not None:
                parts.append(q.rule_flags[plan.rule_index])
            if plan.where is not None:
                parts.append(f"coalesce({plan.where}, false)")
            filters.append(f"{' AND '.join(parts)} AS {plan.name}")
        ctes.append(
            "filtered AS (\n  SELECT *" + "".join(f",\n    {f}" for f in filters) + "\n  FROM selected\n)"
        )
        return ctes

    def statements(self) -> list[str]:
        q, d = self.q, self.d
        ctes = self.event_ctes()
        group_columns = [f"coalesce({self.col(ref.single)}, {d.string(q.null_text)})" for ref in q.group_by]
        window = d.floor_div("event_us", q.timespan_seconds * US)
        if q.collapse is not None:
            keys = [
                *q.rule_flags,
                *[plan.name for plan in q.filters],
                *sorted({self.col(field) for field in q.where_fields}),
            ]
            bucket = d.floor_div("event_us", q.collapse.span_seconds * US)
            ctes.append(
                "rows AS (\n  SELECT " + ", ".join(keys) + f", {window} AS window_number,\n"
                f"    min(event_us) AS event_us, {d.collected(self.col('uuid'))} AS ids\n  FROM filtered\n"
                f"  GROUP BY " + ", ".join([*keys, window, bucket]) + "\n)"
            )
            rows, window_column, ids = "rows", "window_number", d.sorted_ids("ids")
        else:
            rows, window_column = "filtered", window
            ids = f"{d.sorted_texts(self.col('uuid'), None)}"
        aggregates = [self._aggregate(metric) for metric in q.all_metrics]
        group_select = [
            f"{ref_col} AS {self.col(ref.name)}"
            for ref, ref_col in zip(q.group_by, group_columns, strict=False)
        ]
        ctes.append(
            "groups AS (\n  SELECT "
            + f"{window_column} AS window_number,\n    "
            + "".join(f"{c},\n    " for c in group_select)
            + "min(event_us) AS first_us,\n    "
            + ",\n    ".join(aggregates)
            + f",\n    {ids} AS event_ids\n  FROM {rows}\n  GROUP BY "
            + ", ".join([window_column, *group_columns])
            + "\n)"
        )
        derived = [
            f"{(d.boolean if name in q.booleans else d.value)(q.inlined(expression))} AS {self.col(name)}"
            for name, expression in q.derived
        ]
        ctes.append(
            "derived AS (\n  SELECT *" + "".join(f",\n    {c}" for c in derived) + "\n  FROM groups\n)"
        )
        ctes.append(
            f"evaluated AS (\n  SELECT *,\n    coalesce({d.condition(q.condition)}, false) AS condition\n"
            "  FROM derived\n)"
        )
        output = [
            f"{self.time(f'window_number * {q.timespan_seconds * US}')} AS window_start",
            f"{self.time(f'(window_number + 1) * {q.timespan_seconds * US}')} AS window_end",
            *[self.col(ref.name) for ref in q.group_by],
            f"{self.time('first_us')} AS first_seen",
            *[self._metric_output(metric) for metric in q.metrics],
            *[self.col(name) for name, _ in q.derived],
            *[self.col(metric.name) for metric in q.outputs],
            "event_ids",
            "condition",
        ]
        select = "SELECT\n  " + ",\n  ".join(output) + "\nFROM evaluated"
        if not self.every_group:
            select += "\nWHERE condition"
        select += "\nORDER BY window_number, " + ", ".join(
            [self.col(ref.name) for ref in q.group_by] or ["first_us"]
        )
        return [
            *d.prelude(self.events.top_level, self.events.path),
            "WITH " + ",\n".join(ctes) + "\n" + select,
        ]

    def time(self, microseconds: str) -> str:
        return self.d.timestamp(microseconds) if self.timestamps else microseconds

    def filled(self, row: RowField) -> str:
        column = self.col(row.field.single)
        return column if row.fill is None else f"coalesce({column}, {self.d.string(row.fill)})"

    def _columns_kept(self) -> Iterable[str]:
        for ref in self.q.fields_read:
            yield ref.single
        yield from rule_fields_of(self.rule)

    def _aggregate(self, metric) -> str:
        d = self.d
        condition = metric.filter
        value = self.col(metric.field.single) if metric.field else None
        time = "event_us"
        match metric.kind:
            case MetricKind.COUNT:
                expression = f"count(*){d.filter(condition)}"
            case MetricKind.DISTINCT:
                expression = f"count(DISTINCT {value}){d.filter(condition)}"
            case MetricKind.VALUES:
                expression = d.sorted_texts(value, condition)
            case MetricKind.SUM:
                # finite numbers can sum beyond the double range: null, as in the engine
                expression = d.finite(f"sum({d.number_of(value)}){d.filter(condition)}")
            case MetricKind.MIN:
                expression = f"min({d.number_of(value)}){d.filter(condition)}"
            case MetricKind.MAX:
                expression = f"max({d.number_of(value)}){d.filter(condition)}"
            case MetricKind.AVG:
                expression = d.finite(f"avg({d.number_of(value)}){d.filter(condition)}")
            case MetricKind.FIRST_SEEN:  # seconds as a double, as the engine's expressions see them
                expression = f"(CAST(min({time}){d.filter(condition)} AS DOUBLE) / 1000000)"
            case MetricKind.LAST_SEEN:
                expression = f"(CAST(max({time}){d.filter(condition)} AS DOUBLE) / 1000000)"
            case _:
                raise AggregateConversionError(f"metric type {metric.kind.value}", self.q.target)
        return f"{expression} AS {self.col(metric.name)}"

    def _metric_output(self, metric) -> str:
        # times are seconds in expressions and timestamps in the output
        if metric.kind in TIME_KINDS:
            microseconds = f"CAST(round({self.col(metric.name)} * 1000000) AS BIGINT)"
            return f"{self.time(microseconds)} AS {self.col(metric.name)}"
        return self.col(metric.name)


def needs_ranking(rule: AggregateCorrelationRule) -> bool:
    """Whether a rule needs :mod:`.sql_ranking`: a percentile, the order of its rules or a sliding window."""
    ranked = (MetricKind.PERCENTILE, MetricKind.IN_ORDER)
    return rule.window is not WindowKind.TUMBLING or any(m.kind in ranked for m in rule.metrics)


def rule_fields_of(rule: AggregateCorrelationRule) -> set[str]:
    """Fields the referenced rules and the metrics' `where` read (their conditions use these columns)."""
    fields: set[str] = set()
    for referenced in rule.referenced_rules:
        fields |= rule_fields(referenced)
    for metric in (*rule.metrics, *rule.outputs):
        if metric.where is not None:
            fields |= set(detection_fields(metric.where.detection))
    return fields


__all__ = ["OktaDuckDBBackend", "OktaSparkBackend"]
