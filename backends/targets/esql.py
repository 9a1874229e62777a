"""Elastic ES|QL: Sigma base rules and `aggregate` correlations for Okta events in Elasticsearch.

:class:`OktaESQLBackend` extends pySigma's official ``ESQLBackend`` (pysigma-backend-elasticsearch) and
changes only what differs from Sigma's semantics (the Python engine is the reference):

- strings match case-insensitively (``TO_LOWER(field) == "value"``, ``TO_LOWER(field) LIKE "*value*"``;
  Elasticsearch 8.19/9.1 push both down to Lucene as case-insensitive queries); ``|cased`` stays exact;
- ``LIKE`` patterns escape a literal ``*``, ``?`` and ``\\`` for the pattern *and* then for the string
  literal (the official backend escapes only once, which Elasticsearch rejects for a backslash);
- ``not`` reads a missing field as false (``NOT COALESCE(x, false)``): in ES|QL ``NOT null`` is null and
  ``WHERE`` drops the event, where Sigma matches it;
- typed fields compare through their text (``TO_STRING``), IPs with ``TO_IP``, and the multi-valued
  ``okta.debug_context.debug_data.risk_behaviors`` with ``MV_CONTAINS`` (a comparison with a
  multi-valued field is null);
- names that are ES|QL keywords (``first``, ``last``, ...) are quoted with backticks;
- a member of a list of objects (``target.displayName``) matches on any element of the flattened list
  (``FIELD_EXTRACT``, :mod:`~sigma.backends.okta.targets.list_members`).

:meth:`OktaESQLBackend.convert_aggregate` renders the shared plan
(:mod:`sigma.backends.okta.targets.aggregate_plan`) as ``FROM | WHERE | EVAL | STATS | STATS | EVAL | WHERE |
KEEP | SORT``; ``docs/target-esql.md`` maps every stage and every semantic difference, with sources.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import ClassVar

from sigma.backends.elasticsearch import ESQLBackend
from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionNOT, ConditionOR
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaConfigurationError, SigmaFeatureNotSupportedByBackendError
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaBool,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaFieldReference,
    SigmaNumber,
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
from sigma.backends.okta.targets.list_members import ESQLListMembers, refuse_member_use
from sigma.pipelines.okta.expression import And, Comparison, Expression, Name, Not, Or
from sigma.pipelines.okta.model import AggregateCorrelationRule, MetricKind
from sigma.pipelines.okta.okta_pipelines import schema_of
from sigma.pipelines.okta.okta_schemas import OktaSchema, reading_lists_of_objects, stored_member

TARGET = "ES|QL"

# --- what the indices hold -----------------------------------------------------------------------------


class FieldKind(Enum):
    """How a target field is stored, as far as the query must know (everything else is a keyword)."""

    KEYWORD = "keyword"
    KEYWORD_MULTI = "multi-valued keyword"
    IP = "ip"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    EPOCH_MILLIS = "date or epoch milliseconds"


#: Non-keyword fields per supported pipeline. Elastic: the Okta integration's
#: packages/okta/data_stream/system/fields/fields.yml; OCSF: the mapping that docs/target-esql.md asks
#: for (OCSF 1.3 types: ip_t as ip, timestamp_t as date or epoch milliseconds).
FIELD_KINDS: dict[str, dict[str, FieldKind]] = {
    "okta_elastic": {
        "@timestamp": FieldKind.DATE,
        "okta.client.ip": FieldKind.IP,
        "okta.authentication_context.authentication_step": FieldKind.NUMBER,
        "okta.security_context.as.number": FieldKind.NUMBER,
        "okta.security_context.is_proxy": FieldKind.BOOLEAN,
        "okta.debug_context.debug_data.risk_behaviors": FieldKind.KEYWORD_MULTI,
    },
    "okta_ocsf": {
        "time": FieldKind.EPOCH_MILLIS,
        "src_endpoint.ip": FieldKind.IP,
        "src_endpoint.autonomous_system.number": FieldKind.NUMBER,
        "src_endpoint.location.lat": FieldKind.NUMBER,
        "src_endpoint.location.long": FieldKind.NUMBER,
        "unmapped.securityContext.isProxy": FieldKind.BOOLEAN,
    },
}
SUPPORTED_PIPELINES = tuple(FIELD_KINDS)

# --- ES|QL lexical rules ---------------------------------------------------------------------------------

#: Words of the ES|QL grammar (Elasticsearch 9.1 lexer) that cannot be unquoted identifiers.
KEYWORDS = frozenset(
    [
        "and",
        "as",
        "asc",
        "by",
        "completion",
        "desc",
        "dissect",
        "drop",
        "enrich",
        "eval",
        "explain",
        "false",
        "first",
        "fork",
        "from",
        "full",
        "grok",
        "in",
        "info",
        "inlinestats",
        "is",
        "join",
        "keep",
        "last",
        "left",
        "like",
        "limit",
        "lookup",
        "metadata",
        "not",
        "null",
        "nulls",
        "on",
        "or",
        "rename",
        "rerank",
        "right",
        "rlike",
        "row",
        "rrf",
        "sample",
        "show",
        "sort",
        "stats",
        "true",
        "ts",
        "using",
        "where",
        "with",
    ]
)
_UNQUOTED_PART = re.compile(r"(?:[A-Za-z][A-Za-z0-9_]*|[_@][A-Za-z0-9_]+)\Z")
_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_LIKE_SPECIAL = "*?\\"
#: The engine's numeric text (sigma.pipelines.okta.semantics.as_number) as a Lucene regular expression.
#: Lucene has no \t-style escapes (Lucene 9 rejects a backslash before most letters, Lucene 8 reads
#: it as the letter), so the padding class holds the characters themselves (string_literal escapes
#: them for the ES|QL lexer); and "[+-]" would read "+-]" as a range, so the minus is escaped.
NUMERIC_TEXT_REGEX = "[ \t\n\r]*[\\-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][\\-+]?[0-9]+)?[ \t\n\r]*"
_DURATION_UNITS = ((3600, "hour"), (60, "minute"), (1, "second"))
ROUND_PREFIX = "_round_"


def identifier(name: str) -> str:
    """A column or field name as ES|QL reads it: dotted names are plain, others backtick-quoted."""
    parts = name.split(".")
    if all(_UNQUOTED_PART.match(part) and part.lower() not in KEYWORDS for part in parts):
        return name
    return "`" + name.replace("`", "``") + "`"


def number_of_text(column: str) -> str:
    """The engine's number of a keyword column's text (semantics.as_number): the decimal syntax, and a
    finite double (text beyond the double range, "1e999", is not a number, whatever TO_DOUBLE makes of it)."""
    number = f"TO_DOUBLE({column})"
    return f"CASE({column} RLIKE {string_literal(NUMERIC_TEXT_REGEX)} AND ABS({number}) <= {MAX_DOUBLE}, {number})"


#: the largest finite double
MAX_DOUBLE = "1.7976931348623157E308"


def string_literal(text: str) -> str:
    """A double-quoted string literal (the lexer accepts only \\\\, \\", \\n, \\r and \\t escapes)."""
    return '"' + "".join(_STRING_ESCAPES.get(char, char) for char in text) + '"'


def like_pattern(value: SigmaString, lower: bool) -> str:
    """A Sigma string with wildcards as a LIKE pattern literal. A literal ``*``, ``?`` or ``\\`` gets a
    pattern escape (Elasticsearch rejects a backslash before any other character), then the whole
    pattern is escaped once more as a string literal."""
    pattern = []
    for part in value.s:
        if part is SpecialChars.WILDCARD_MULTI:
            pattern.append("*")
        elif part is SpecialChars.WILDCARD_SINGLE:
            pattern.append("?")
        elif isinstance(part, str):
            text = part.lower() if lower else part
            pattern.append("".join("\\" + char if char in _LIKE_SPECIAL else char for char in text))
        else:
            raise SigmaFeatureNotSupportedByBackendError(f"unexpanded placeholder {part} in a value")
    return string_literal("".join(pattern))


def duration(seconds: int) -> str:
    """A TIME_DURATION literal. Never a DATE_PERIOD (days, weeks): DATE_TRUNC rounds those on the
    calendar (weeks start on Monday), while a duration rounds to multiples since the Unix epoch."""
    for size, unit in _DURATION_UNITS:
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    raise AssertionError(seconds)  # pragma: no cover - a second divides everything


# --- the condition language ------------------------------------------------------------------------------


class ESQLDialect(ExpressionDialect):
    """The condition language in ES|QL. ``AND``, ``OR`` and ``NOT`` are SQL's three-valued logic and
    ``WHERE`` keeps a row only when the condition is true (docs: esql-null-values.md), so conditions
    are written natively. Division needs help, and rounding binds its operand to a column
    (``_round_<k>``) that the caller evaluates first."""

    def __init__(self, values: dict[str, str], **knowledge):
        super().__init__(**knowledge)
        self.values = values  # metric or derived name -> its value in an expression
        self.rounds = 0

    def name(self, name: str) -> str:
        return self.values[name]

    def null(self) -> str:
        return "null"

    def is_null(self, value: str) -> str:
        return f"{value} IS NULL"

    def is_not_null(self, value: str) -> str:
        return f"{value} IS NOT NULL"

    def divide(self, numerator: str, denominator: str) -> str:
        # `/` of two integers truncates, and x / 0 is null only with a warning: say both explicitly.
        return f"CASE({denominator} == 0, null, TO_DOUBLE({numerator}) / {denominator})"

    def round(self, value: str, digits: int) -> str:
        """Half away from zero on the shortest decimal. ES|QL's ROUND(x, n) rounds the double x * 10^n
        (Maths.round), which loses ties such as 0.285 -> 0.28. Here k = FLOOR(|x| * 10^n) and the tie
        point (k + 0.5) / 10^n is compared with |x| in doubles, which is exact below |x| * 10^n = 1e14;
        above it ROUND is kept."""
        column = self.bind(value, f"{ROUND_PREFIX}{self.rounds}")
        self.rounds += 1
        scale = f"{10**digits}.0"
        floor = f"FLOOR(ABS({column}) * {scale})"
        half_up = f"CASE(ABS({column}) >= ({floor} + 0.5) / {scale}, 1, 0)"
        return (
            f"CASE(ABS({column}) < 1e{14 - digits}, SIGNUM({column}) * ({floor} + {half_up}) / {scale}, "
            f"ROUND({column}, {digits}))"
        )

    def compare(self, operator: str, left: str, right: str) -> str:
        return f"{left} {operator} {right}"

    def boolean_value(self, expression: Expression) -> str:
        return self.native(expression)  # true, false or null natively, as the engine's value

    def condition(self, expression: Expression) -> str:
        """The condition as written: true, false or null exactly where the language says so."""
        text = self.native(expression)
        grouped = isinstance(expression, (And, Or)) and len(expression.operands) > 1
        return text[1:-1] if grouped else text  # no brackets around the whole WHERE

    def native(self, expression: Expression) -> str:
        match expression:
            case Comparison(operator, left, right):
                return self.compare(operator, self.value(left), self.value(right))
            case Not(And() | Or() as operand):
                return f"NOT {self.native(operand)}"
            case Not(operand):
                return f"NOT ({self.native(operand)})"
            case And(operands):
                return self.join("AND", [self.native(operand) for operand in operands])
            case Or(operands):
                return self.join("OR", [self.native(operand) for operand in operands])
            case Name(name):  # a boolean derived value (the type check lets no other name through)
                return self.name(name)
        raise TypeError(f"not a condition: {expression!r}")


# --- the backend -----------------------------------------------------------------------------------------


class OktaESQLBackend(ESQLListMembers, ESQLBackend):
    """ES|QL for Okta System Log events in Elasticsearch (pipelines ``okta_elastic`` and ``okta_ocsf``)."""

    name: ClassVar[str] = "Okta ES|QL (Sigma semantics, aggregate correlations)"
    identifier: ClassVar[str] = "okta_esql"

    # Case-insensitive wildcard matching is `TO_LOWER(field) LIKE pattern` for every shape: Elasticsearch
    # pushes that down as a case-insensitive wildcard query, STARTS_WITH(TO_LOWER(...)) it does not.
    or_token: ClassVar[str] = "OR"
    and_token: ClassVar[str] = "AND"
    not_token: ClassVar[str] = "NOT"
    field_null_expression: ClassVar[str] = "{field} IS NULL"
    field_exists_expression: ClassVar[str] = "{field} IS NOT NULL"
    field_not_exists_expression: ClassVar[str] = "{field} IS NULL"
    startswith_expression: ClassVar[str | None] = None
    endswith_expression: ClassVar[str | None] = None
    contains_expression: ClassVar[str | None] = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._filled: dict[str, str] = {}  # target field -> column holding its filled text (collapse)

    # -- pipeline and schema ----------------------------------------------------------------------------

    def schema(self) -> OktaSchema:
        """The Okta schema of the processing pipeline; raises for a pipeline this target cannot read."""
        schema = schema_of(processing_pipeline(self))
        if schema is None or schema.id not in FIELD_KINDS:
            found = f"'{schema.id}'" if schema is not None else "no Okta pipeline"
            raise SigmaConfigurationError(
                f"the {self.identifier} backend reads Okta events stored by the pipelines "
                f"{', '.join(SUPPORTED_PIPELINES)}; it was given {found}"
            )
        return schema

    def kind(self, field: str) -> FieldKind:
        if field in self._filled:
            return FieldKind.KEYWORD  # a filled collapse column holds text
        return FIELD_KINDS[self.schema().id].get(field, FieldKind.KEYWORD)

    def column(self, field: str) -> str:
        """The field, or the column holding its filled text while a collapse `where` is rendered."""
        if field not in self._filled and (member := stored_member(self.schema(), field)) is not None:
            raise refuse_member_use(field, member[0], "a use other than a detection item", TARGET)
        return identifier(self._filled.get(field, field))

    def text(self, field: str) -> str:
        """The field's value as text (the engine's text_of): typed values through TO_STRING."""
        match self.kind(field):
            case FieldKind.KEYWORD:
                return self.column(field)
            case FieldKind.KEYWORD_MULTI:
                # one text per event: a multi-value counts a row once per value in STATS ... BY
                return f'MV_CONCAT(MV_SORT({self.column(field)}), ",")'
            case _:
                return f"TO_STRING({self.column(field)})"

    def number(self, field: str) -> str:
        """The field's numeric value (numbers, and strings that spell a decimal number), else null."""
        match self.kind(field):
            case FieldKind.NUMBER:
                return self.column(field)
            case FieldKind.KEYWORD:
                return number_of_text(self.column(field))
        raise AggregateConversionError(
            f"a numeric value of '{field}'",
            TARGET,
            f"the field is a {self.kind(field).value}: never a number",
        )

    @contextmanager
    def filled_fields(self, columns: dict[str, str]) -> Iterator[None]:
        """Render conditions on filled collapse columns instead of the fields (the engine evaluates a
        `where` on the collapsed row, where a missing value is the `missing` text)."""
        previous, self._filled = self._filled, columns
        try:
            yield
        finally:
            self._filled = previous

    # -- base rules ---------------------------------------------------------------------------------------

    def convert_rule(self, rule: SigmaRule, output_format: str | None = None, callback=None):
        processing_pipeline(self, output_format)
        self.schema()
        with reading_lists_of_objects():
            return super().convert_rule(rule, output_format, callback)

    def finish_query(self, rule, query, state: ConversionState):
        # pySigma's backend defaults the source to `*`; the schema names it (OCSF sets no state).
        state.processing_state.setdefault("index", self.schema().table_or_index)
        return super().finish_query(rule, query, state)

    def escape_and_quote_field(self, field_name: str) -> str:
        return identifier(field_name)

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> str:
        # Sigma reads a condition on a missing field as false, so its negation is true; ES|QL's
        # NOT null is null and WHERE drops the event.
        return f"NOT COALESCE({self.convert_condition(cond.args[0], state)}, false)"

    def convert_condition_field_eq_val_str(self, cond: ConditionFieldEqualsValueExpression, state) -> str:
        return self._string_match(cond.field, cond.value, caseless=True)

    def convert_condition_field_eq_val_str_case_sensitive(self, cond, state) -> str:
        return self._string_match(cond.field, cond.value, caseless=False)

    def _string_match(self, field: str, value: SigmaString, caseless: bool) -> str:
        if value.contains_placeholder():
            raise SigmaFeatureNotSupportedByBackendError(
                f"the placeholder in the value of '{field}': fill it with a processing pipeline first"
            )
        kind = self.kind(field)
        wildcards = value.contains_special()
        if kind is FieldKind.KEYWORD_MULTI:
            return self._membership(field, value, caseless)
        if kind is FieldKind.IP and not wildcards and _is_ip(plain_text(value)):
            return f"{self.column(field)} == TO_IP({string_literal(plain_text(value))})"
        subject = self.text(field)
        if caseless and kind is FieldKind.KEYWORD:
            subject = f"TO_LOWER({subject})"  # TO_STRING of a typed value is lower case already
        lower = caseless
        if wildcards:
            return f"{subject} LIKE {like_pattern(value, lower)}"
        text = plain_text(value)
        return f"{subject} == {string_literal(text.lower() if lower else text)}"

    def _membership(self, field: str, value: SigmaString, caseless: bool) -> str:
        if value.contains_special():
            raise SigmaFeatureNotSupportedByBackendError(
                f"a wildcard value on the multi-valued field '{field}': only whole values can be tested"
            )
        text = plain_text(value)
        column = self.column(field)
        if caseless:
            return f"MV_CONTAINS(TO_LOWER({column}), {string_literal(text.lower())})"
        return f"MV_CONTAINS({column}, {string_literal(text)})"

    def decide_convert_condition_as_in_expression(self, cond: ConditionOR | ConditionAND, state) -> bool:
        if not super().decide_convert_condition_as_in_expression(cond, state):
            return False
        field = cond.args[0].field
        return self.kind(field) is FieldKind.KEYWORD and all(
            type(arg.value) is SigmaString for arg in cond.args
        )

    def convert_condition_as_in_expression(self, cond: ConditionOR | ConditionAND, state) -> str:
        field = cond.args[0].field
        values = ", ".join(string_literal(plain_text(arg.value).lower()) for arg in cond.args)
        return f"TO_LOWER({self.column(field)}) IN ({values})"

    def convert_condition_field_eq_val_num(self, cond, state) -> str:
        return self._numeric(cond.field, "==", cond.value)

    def convert_condition_field_compare_op_val(self, cond, state) -> str:
        value: SigmaCompareExpression = cond.value
        return self._numeric(cond.field, self.compare_operators[value.op], value.number)

    def _numeric(self, field: str, operator: str, number: SigmaNumber) -> str:
        if self.kind(field) not in (FieldKind.NUMBER, FieldKind.KEYWORD):
            return "false"  # the engine: a number never equals an address, a boolean or a list
        return f"{self.number(field)} {operator} {number}"

    def convert_condition_field_eq_val_bool(self, cond, state) -> str:
        value: SigmaBool = cond.value
        match self.kind(field := cond.field):
            case FieldKind.BOOLEAN:
                return f"{self.column(field)} == {'true' if value.boolean else 'false'}"
            case FieldKind.KEYWORD:  # the engine: the strings true/false in any case
                return f"TO_LOWER({self.column(field)}) == {string_literal(str(value.boolean).lower())}"
        return "false"

    def convert_condition_field_eq_val_cidr(self, cond, state) -> str:
        network: SigmaCIDRExpression = cond.value
        subject = self.column(cond.field)
        if self.kind(cond.field) is not FieldKind.IP:
            subject = f"TO_IP({self.text(cond.field)})"
        return f"CIDR_MATCH({subject}, {string_literal(str(network.network))})"

    def convert_condition_field_eq_field(self, cond, state) -> str:
        reference: SigmaFieldReference = cond.value
        if reference.starts_with or reference.ends_with:
            raise SigmaFeatureNotSupportedByBackendError("|fieldref with |startswith, |endswith or |contains")
        return f"TO_LOWER({self.text(cond.field)}) == TO_LOWER({self.text(reference.field)})"

    def convert_condition_field_eq_val_re(self, cond, state) -> str:
        raise SigmaFeatureNotSupportedByBackendError(
            "|re: ES|QL's RLIKE is an anchored Lucene regular expression, Sigma's |re an unanchored "
            "search with PCRE syntax; the translation is not exact, so the rule is refused"
        )

    convert_condition_field_eq_val_re_contains = convert_condition_field_eq_val_re

    # -- aggregate correlations -------------------------------------------------------------------------

    def convert_aggregate(self, rule: AggregateCorrelationRule) -> str:
        """The full ES|QL query of an `aggregate` correlation (one row per alert)."""
        self.schema()
        with reading_lists_of_objects():
            return _AggregateRenderer(self, rule).render()


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# --- the aggregate query ---------------------------------------------------------------------------------

WINDOW_START = "window_start"
FIRST_SEEN = "first_seen"
EVENT_IDS = "event_ids"
ROW_TIME = "row_time"
COLLAPSE_BUCKET = "collapse_bucket"
NUMBER_PREFIX = "_number_"
INTERNAL_PREFIXES = (ROUND_PREFIX, NUMBER_PREFIX)
_COLUMN = re.compile(r"(?:`(?:[^`]|``)+`|[\w@.]+)\Z")


def _is_column(expression: str) -> bool:
    return _COLUMN.match(expression) is not None


class _AggregateRenderer:
    """Renders one planned `aggregate` correlation, stage by stage (the stages of aggregate_query)."""

    def __init__(self, backend: OktaESQLBackend, rule: AggregateCorrelationRule):
        self.backend = backend
        self.rule = rule
        self.schema = backend.schema()
        self.plan = plan_aggregate(
            rule, backend, TARGET, default_time_field="@timestamp", render_where=self.render_where
        )
        self.check_names()
        self.time = self.time_expression(self.plan.time_field)
        self.columns = row_columns(self.plan)
        self.check_key_names()
        self.numbers: dict[str, str] = {}  # numeric expression -> its column
        self.dialect = ESQLDialect(self.expression_values())

    # -- stage 2: a metric's `where` reads the collapsed row (filled texts) -----------------------------

    def render_where(self, where: SigmaRule, plan: AggregateQuery) -> str:
        """A metric's `where`: after a collapse each field it reads is the row column holding the
        field's filled text (multi-valued fields keep their values, see docs); else the event's field."""
        columns = row_columns(plan)
        kinds = FIELD_KINDS[self.schema.id]
        filled = {
            field: columns[row]
            for field, row in plan.where_fields.items()
            if kinds.get(field) is not FieldKind.KEYWORD_MULTI
        }
        with self.backend.filled_fields(filled):
            return detection_expression(self.backend, where, TARGET)

    # -- the query --------------------------------------------------------------------------------------

    def render(self) -> str:
        lines = [f"FROM {self.schema.table_or_index}", self.selection(), self.rule_flags()]
        lines.extend(self.keys())
        lines.extend(self.filters())
        if self.plan.collapse is not None:
            lines.append(self.collapse())
        aggregate = self.aggregate()  # names the numeric columns it reads
        lines.extend(self.number_columns())
        lines.append(aggregate)
        lines.extend(self.decide())
        lines.extend(self.output())
        return "\n".join(lines)

    def check_names(self) -> None:
        """Every output column needs its own name, and internal columns must not shadow a group key."""
        plan = self.plan
        plan.check_columns(plan.output_columns(WINDOW_START, FIRST_SEEN, EVENT_IDS))
        internal = {ROW_TIME, COLLAPSE_BUCKET, *plan.rule_flags, *(f.name for f in plan.filters)}
        for name in [*(ref.name for ref in plan.group_by), *plan.output_names]:
            if name in internal or name.startswith(INTERNAL_PREFIXES):
                raise AggregateConversionError(
                    f"a column named '{name}'", TARGET, "the query uses that column name itself"
                )

    def check_key_names(self) -> None:
        """A group-by or collapse column is named as the rule names the field; it must not shadow a
        field that the query reads after it (e.g. a raw path equal to another field's target)."""
        plan = self.plan
        read_later = {plan.time_field, *plan.uuid.per_rule}
        for metric in plan.all_metrics:
            if metric.field is not None:
                read_later.update(metric.field.per_rule)
        for row, name in self.columns.items():
            if name in read_later and name not in row.field.per_rule:
                raise AggregateConversionError(
                    f"the field name '{name}' as a group-by or collapse column",
                    TARGET,
                    f"the schema stores another field under '{name}'",
                    source=self.rule.source,
                )

    # -- stage 1: select the events and flag each rule ---------------------------------------------------

    def selection(self) -> str:
        conditions = self.plan.rule_conditions
        if len(conditions) == 1:
            return f"| WHERE {conditions[0]}"
        return "| WHERE " + " OR ".join(f"({condition})" for condition in conditions)

    def rule_flags(self) -> str:
        # COALESCE: a rule whose fields are missing did not match (null would form a group of its own)
        flags = [
            f"{flag} = COALESCE({condition}, false)"
            for flag, condition in zip(self.plan.rule_flags, self.plan.rule_conditions, strict=True)
        ]
        return "| EVAL " + ", ".join(flags)

    # -- stage 3/4 keys: group-by and collapse texts, missing values filled --------------------------------

    def per_event(self, ref: FieldRef, value) -> str:
        """``value(target field)`` for the first referenced rule the event matched (aliases)."""
        if ref.single is not None:
            return value(ref.single)
        branches = []
        for flag, field in zip(self.plan.rule_flags, ref.per_rule, strict=True):
            branches.extend([flag, value(field)])
        return f"CASE({', '.join(branches)})"

    def filled(self, row: RowField) -> str:
        text = self.per_event(row.field, self.backend.text)
        return text if row.fill is None else f"COALESCE({text}, {string_literal(row.fill)})"

    def group_columns(self) -> list[str]:
        return [identifier(name) for row, name in self.columns.items() if row.group_by]

    def keys(self) -> list[str]:
        assignments: dict[str, str] = {}
        for row, name in self.columns.items():
            assignments.setdefault(name, self.filled(row))
        if not assignments:
            return []
        return ["| EVAL " + ", ".join(f"{identifier(n)} = {e}" for n, e in assignments.items())]

    # -- stage 2: metric filters ------------------------------------------------------------------------

    def filters(self) -> list[str]:
        flags = []
        for filter_plan in self.plan.filters:
            if filter_plan.where is None:
                continue
            where = f"COALESCE({filter_plan.where}, false)"
            if filter_plan.rule_index is not None:
                where = f"{self.plan.rule_flags[filter_plan.rule_index]} AND {where}"
            flags.append(f"{filter_plan.name} = {where}")
        return ["| EVAL " + ", ".join(flags)] if flags else []

    # -- stage 3 and 4: time, collapse ------------------------------------------------------------------

    def time_expression(self, field: str) -> str:
        if FIELD_KINDS[self.schema.id].get(field) is FieldKind.EPOCH_MILLIS:
            return f"TO_DATETIME({identifier(field)})"  # a date stays, a long is epoch milliseconds
        return identifier(field)

    def flag_columns(self) -> list[str]:
        return [*self.plan.rule_flags, *(f.name for f in self.plan.filters if f.where is not None)]

    def collapse(self) -> str:
        plan = self.plan
        bucket = f"{COLLAPSE_BUCKET} = DATE_TRUNC({duration(plan.collapse.span_seconds)}, {self.time})"
        keys = list(dict.fromkeys(identifier(name) for name in self.columns.values()))
        return (
            f"| STATS {ROW_TIME} = MIN({self.time}), {EVENT_IDS} = VALUES({self.uuid()})"
            f" BY {', '.join([*self.flag_columns(), bucket, *keys])}"
        )

    # -- stage 5: aggregate per window and group --------------------------------------------------------

    def aggregate(self) -> str:
        plan = self.plan
        collapsed = plan.collapse is not None
        time = ROW_TIME if collapsed else self.time
        stats = [
            *(f"{identifier(m.name)} = {self.metric(m, time)}" for m in plan.all_metrics),
            f"{FIRST_SEEN} = MIN({time})",
            f"{EVENT_IDS} = "
            + (f"MV_SORT(VALUES({EVENT_IDS}))" if collapsed else f"MV_SORT(VALUES({self.uuid()}))"),
        ]
        window = f"{WINDOW_START} = DATE_TRUNC({duration(plan.timespan_seconds)}, {time})"
        return f"| STATS {', '.join(stats)} BY {', '.join([window, *self.group_columns()])}"

    def uuid(self) -> str:
        return self.per_event(self.plan.uuid, identifier)

    def metric(self, metric: MetricPlan, time: str) -> str:
        aggregate = self.aggregate_function(metric, time)
        flag = self.plan.flag_of(metric)
        return aggregate if flag is None else f"{aggregate} WHERE {flag}"

    def aggregate_function(self, metric: MetricPlan, time: str) -> str:
        match metric.kind:
            case MetricKind.COUNT:
                return "COUNT(*)"
            case MetricKind.DISTINCT:
                # exact: COUNT_DISTINCT is HyperLogLog++, approximate above its precision threshold
                return f"COALESCE(MV_COUNT(VALUES({self.text_of(metric)})), 0)"
            case MetricKind.VALUES:
                return f"MV_SORT(VALUES({self.text_of(metric)}))"
            case MetricKind.SUM | MetricKind.MIN | MetricKind.MAX | MetricKind.AVG:
                return f"{metric.kind.value.upper()}({self.number_of(metric)})"
            case MetricKind.FIRST_SEEN:
                return f"MIN({time})"
            case MetricKind.LAST_SEEN:
                return f"MAX({time})"
        raise AssertionError(metric.kind)  # pragma: no cover

    def row_column(self, metric: MetricPlan) -> str:
        """After a collapse a row holds only the group and collapse columns (as Splunk's stats)."""
        return identifier(self.columns[self.plan.row_field_of(metric)])

    def text_of(self, metric: MetricPlan) -> str:
        if self.plan.collapse is not None:
            return self.row_column(metric)
        return self.per_event(metric.field, self.backend.text)

    def number_of(self, metric: MetricPlan) -> str:
        """A column with the metric field's number, computed once per field (numeric text is parsed)."""
        if self.plan.collapse is not None:  # the row holds the filled text
            column = self.row_column(metric)
            value = number_of_text(column)
        else:
            value = self.per_event(metric.field, self.backend.number)
        if _is_column(value):
            return value
        return self.numbers.setdefault(value, f"{NUMBER_PREFIX}{len(self.numbers)}")

    def number_columns(self) -> list[str]:
        if not self.numbers:
            return []
        return ["| EVAL " + ", ".join(f"{column} = {value}" for value, column in self.numbers.items())]

    # -- stage 6: derive and test ------------------------------------------------------------------------

    def expression_values(self) -> dict[str, str]:
        values = {}
        for metric in self.plan.metrics:
            column = identifier(metric.name)
            # in expressions a time is seconds since the epoch; the column keeps the date
            values[metric.name] = (
                f"(TO_LONG({column}) / 1000.0)" if metric.name in self.plan.time_names else column
            )
        values.update({name: identifier(name) for name, _ in self.plan.derived})
        return values

    def decide(self) -> list[str]:
        """One EVAL per derived value, in order, after the columns its rounding binds; the condition's
        own columns; then the condition."""
        decision = self.dialect.decide(self.plan)
        steps = [*decision.derived, *([decision.bindings] if decision.bindings else [])]
        evals = ["| EVAL " + ", ".join(f"{identifier(n)} = {v}" for n, v in step) for step in steps]
        return [*evals, f"| WHERE {decision.condition}"]

    # -- stage 7: output ----------------------------------------------------------------------------------

    def output(self) -> list[str]:
        columns = self.plan.output_columns(WINDOW_START, FIRST_SEEN, EVENT_IDS)
        return [
            f"| KEEP {', '.join(map(identifier, columns))}",
            f"| SORT {', '.join([WINDOW_START, *self.group_columns()])}",
        ]


def row_columns(plan: AggregateQuery) -> dict[RowField, str]:
    """The column of each row field: named as the rule names the field; a collapse field whose name a
    group-by column (with another fill) has is ``<name>_collapsed``."""
    groups = {row.name for row in plan.row_fields if row.group_by}
    return {
        row: row.name if row.group_by or row.name not in groups else f"{row.name}_collapsed"
        for row in plan.row_fields
    }
