"""Splunk SPL target: Okta System Log rules for the Splunk Add-on for Okta Identity Cloud.

Base rules are converted by pySigma's :class:`~sigma.backends.splunk.SplunkBackend`, changed only where
Splunk's search language would match differently from Sigma: a single-character wildcard (Splunk has
none: the official backend widens ``?`` to ``*``) and a literal ``*`` (Splunk cannot escape it) raise,
and ``|cased`` raises a conversion error instead of a ``NotImplementedError``.

An ``aggregate`` correlation becomes one SPL pipeline, stage by stage as planned by
:mod:`sigma.backends.okta.targets.aggregate_plan` (``docs/target-splunk.md`` maps each stage and every
semantic rule onto SPL, with the Splunk documentation it relies on):

1. ``search`` the source for events of any referenced rule; ``eval rule_<i>=if(searchmatch(...), 1, 0)``
   flags each rule, re-using the rule's search-language rendering (case-insensitive, ``*`` wildcards);
2. group keys as copies (``coalesce(<field>, "NULL")``), then ``fillnull`` of the collapse fields, then
   one ``filter_<k>`` flag per filtered metric, so that a ``where`` sees the filled row as in the engine;
3. ``floor(_time / span) * span`` for the collapse bucket and the window (epoch-aligned in every time zone);
4. the collapse: ``stats min(_time) values(uuid) by <flags> <group keys> <collapse fields> <bucket>``;
5. ``stats ... by _time <group keys>`` with every metric and output field;
6. ``eval`` of the derived values and ``where`` of the condition, null logic expanded to two values;
7. ``rename`` of the group keys and ``table`` of the output columns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, ClassVar

from sigma.backends.splunk import SplunkBackend
from sigma.conditions import ConditionFieldEqualsValueExpression
from sigma.conversion.deferred import DeferredQueryExpression
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError, SigmaPipelineNotAllowedForBackendError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule
from sigma.types import SigmaString, SpecialChars

from sigma.pipelines.okta.expression import Expression, Number
from sigma.pipelines.okta.model import AggregateCorrelationRule, MetricKind
from sigma.pipelines.okta.okta_pipelines import OKTA_SCHEMA_VAR, schema_of
from sigma.pipelines.okta.okta_schemas import get_schema

from .aggregate_plan import (
    AggregateConversionError,
    AggregateQuery,
    ExpressionDialect,
    FieldRef,
    FilterPlan,
    MetricPlan,
    detection_expression,
    plan_aggregate,
)
from .base_values import processing_pipeline

TARGET = "splunk"
#: Okta schemas whose target fields are Splunk fields; any other Okta schema is refused.
SPLUNK_SCHEMAS = frozenset({"okta_splunk_ta"})
#: The engine's reading of a number written as text (plugin/semantics.py: as_number), as a PCRE. No
#: backslashes: the pattern reads the same whether or not an eval string literal unescapes them.
DECIMAL_NUMBER = "^[[:space:]]*[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?[[:space:]]*$"
#: What tonumber() is given: the number without surrounding white space and a leading plus sign.
NUMBER_PADDING = "^[[:space:]]*[+]?|[[:space:]]+$"

_COMMAND_FIELD = re.compile(r"^[A-Za-z_][\w.]*$")  # bare in stats/fillnull/rename/table arguments
_EVAL_FIELD = re.compile(r"^[A-Za-z_]\w*$")  # bare in eval; '.' is eval's concatenation operator
_KEYWORDS = frozenset({"AND", "OR", "NOT", "XOR", "LIKE", "IN", "AS", "BY", "OVER", "TRUE", "FALSE", "NULL"})


# --- lexical ----------------------------------------------------------------------------------------


def eval_string(text: str) -> str:
    """An eval string literal: backslash escapes backslashes and double quotes."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def eval_field(name: str) -> str:
    """A field read inside eval/where: single quotes unless a plain name. Double quotes would make a
    string literal (``"outcome.result"="SUCCESS"`` is always false: the ESCU v1-v3 bug)."""
    if _EVAL_FIELD.match(name) and name.upper() not in _KEYWORDS:
        return name
    return "'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


def command_field(name: str) -> str:
    """A field named in a command's arguments (stats, fillnull, rename, table)."""
    if _COMMAND_FIELD.match(name) and name.upper() not in _KEYWORDS:
        return name
    return eval_string(name)


def number_of(name: str) -> str:
    """The engine's number of a field's text (``semantics.as_number``), null for anything else."""
    field = eval_field(name)
    trimmed = f"replace({field}, {eval_string(NUMBER_PADDING)}, {eval_string('')})"
    return f"if(match({field}, {eval_string(DECIMAL_NUMBER)}), tonumber({trimmed}), null())"


def decimal_text(text: str) -> str:
    """A number literal without exponent notation (the condition language allows ``1e3``)."""
    return format(Decimal(text), "f") if "e" in text.lower() else text


# --- the condition language -------------------------------------------------------------------------


class SplunkDialect(ExpressionDialect):
    """The condition language in eval syntax. Eval has no three-valued logic to rely on, so the default
    two-valued expansion with ``isnotnull()`` guards is kept. ``round`` needs its operand three times:
    it binds it (and its scaled units) to helper fields, ``round_<k>_value`` and ``round_<k>_units``.
    """

    def __init__(self, **knowledge: Any) -> None:
        super().__init__(**knowledge)
        self.rounds = 0  # helpers are numbered across every expression of one query

    def name(self, name: str) -> str:
        return eval_field(name)

    def number(self, literal: Number) -> str:
        return decimal_text(literal.text)

    def null(self) -> str:
        return "null()"

    def is_null(self, value: str) -> str:
        return f"isnull({value})"

    def is_not_null(self, value: str) -> str:
        return f"isnotnull({value})"

    def negate(self, value: str) -> str:
        return f"(-1 * {value})"  # an explicit product: exact negation, and null stays null

    def divide(self, numerator: str, denominator: str) -> str:
        return f"if(isnull({numerator}) OR isnull({denominator}) OR {denominator} = 0, null(), {numerator} / {denominator})"

    def boolean_value(self, expression: Expression) -> str:
        """Eval has no boolean value, so a boolean derived value is the text ``"true"`` or ``"false"``
        (how Splunk shows a JSON boolean too), and null where the condition is unknown."""
        is_true, is_false = self.truth(expression, True), self.truth(expression, False)
        return f'case({is_true}, "true", {is_false}, "false")'

    def boolean_truth(self, value: str, wanted: bool) -> str:
        return f'{value}="{"true" if wanted else "false"}"'  # null equals neither

    def round(self, value: str, digits: int) -> str:
        """Half away from zero on the shortest decimal of the value (Splunk's own ``round`` rounds
        -4.5 to -4, and rounds the binary value: 2.675 to 2.67).

        ``units = floor(|x| * 10^n + 0.5)`` is right but for a value whose decimal is a tie the double
        product misses; the two comparisons with the bounds ``(2 * units -/+ 1) / (2 * 10^n)``, each
        one correctly rounded division of exact integers, correct it: exact while ``|x| * 10^n < 10^14``.
        """
        k, scale = self.rounds, 10**digits
        self.rounds += 1
        x = self.bind(value, f"round_{k}_value")
        units = self.bind(f"floor(abs({x}) * {scale} + 0.5)", f"round_{k}_units")
        return (
            f"if(isnull({x}), null(), if({x} < 0, -1, 1) * case("
            f"abs({x}) >= (2 * {units} + 1) / {2 * scale}, {units} + 1, "
            f"abs({x}) < (2 * {units} - 1) / {2 * scale}, {units} - 1, "
            f"true(), {units}) / {scale})"
        )


# --- the backend ------------------------------------------------------------------------------------


class OktaSplunkBackend(SplunkBackend):
    """Splunk SPL for Okta System Log events (Splunk Add-on for Okta Identity Cloud, ``OktaIM2:log``),
    with the `aggregate` correlation of sigma-okta."""

    name: ClassVar[str] = "Splunk SPL for Okta System Log (sigma-okta)"
    identifier: ClassVar[str] = "okta_splunk"
    formats: ClassVar[dict[str, str]] = {"default": "Plain SPL queries"}

    def __init__(
        self,
        processing_pipeline: ProcessingPipeline | None = None,
        collect_errors: bool = False,
        **kwargs: Any,
    ):
        super().__init__(processing_pipeline, collect_errors, **kwargs)
        require_splunk_schema(processing_pipeline)

    # -- base rules: where the search language differs from Sigma -----------------------------------

    def convert_value_str(self, s: SigmaString, state: ConversionState) -> str:
        if SpecialChars.WILDCARD_SINGLE in s.s:
            raise SigmaFeatureNotSupportedByBackendError(
                f"the Splunk search language has no single-character wildcard: '{s}' would match more "
                "(a ? would become *); escape it (\\?) or use |re"
            )
        if any(isinstance(part, str) and "*" in part for part in s.s):
            raise SigmaFeatureNotSupportedByBackendError(
                f"the Splunk search language cannot escape '*' (it is always a wildcard): '{s}' would "
                "match more; use |re"
            )
        return super().convert_value_str(s, state)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        raise SigmaFeatureNotSupportedByBackendError(
            f"case-sensitive matching (|cased) of '{cond.field}' is not supported for Splunk: its search "
            "language compares field values case-insensitively",
            source=cond.source,
        )

    def finish_query(self, rule: Any, query: Any, state: ConversionState) -> Any:
        """A base rule of an Okta schema searches that schema's source (``sourcetype="OktaIM2:log"``, as
        ESCU's ``okta`` macro does); the pipelines add no query text themselves."""
        schema_id = state.processing_state.get(OKTA_SCHEMA_VAR)
        if isinstance(rule, SigmaRule) and schema_id is not None:
            source = get_schema(schema_id).table_or_index
            query = source if isinstance(query, DeferredQueryExpression) else f"{source} ({query})"
        return super().finish_query(rule, query, state)

    # -- aggregate correlations ----------------------------------------------------------------------

    def convert_aggregate(self, rule: AggregateCorrelationRule) -> str:
        """The SPL search of an `aggregate` correlation (see the module docstring for its stages)."""
        require_splunk_schema(processing_pipeline(self))
        searchmatch = _SearchmatchBackend(self.processing_pipeline)
        query = plan_aggregate(
            rule,
            self,
            TARGET,
            default_time_field="_time",
            render_detection=lambda sigma_rule: detection_expression(searchmatch, sigma_rule, TARGET),
        )
        return AggregateSpl(query).render()


class _SearchmatchBackend(OktaSplunkBackend):
    """Renders a detection for ``searchmatch()`` and the selecting search: values are OR-ed rather than
    written with the search command's ``IN`` operator, which Splunk documents for search and tstats."""

    convert_or_as_in: ClassVar[bool] = False


def require_splunk_schema(pipeline: ProcessingPipeline | None) -> None:
    """Refuse an Okta pipeline whose fields are not Splunk fields (Elastic, Sentinel, OCSF names would
    produce a query that matches nothing). No Okta schema: the rule's field names are used as they are."""
    schema = schema_of(pipeline)
    if schema is not None and schema.id not in SPLUNK_SCHEMAS:
        raise SigmaPipelineNotAllowedForBackendError(
            f"{schema.id} ({schema.title}) maps fields to another product; use "
            + " or ".join(sorted(SPLUNK_SCHEMAS)),
            OktaSplunkBackend.identifier,
        )


# --- the aggregate pipeline -------------------------------------------------------------------------

RESERVED = frozenset({"_time", "row_time", "collapse_bucket", "first_seen", "event_ids"})
_RESERVED_PATTERN = re.compile(r"^(rule|filter|group|number)_\d+$|^round_\d+_(value|units)$")


class AggregateSpl:
    """Renders an :class:`AggregateQuery` as one SPL search, one command per line."""

    def __init__(self, query: AggregateQuery):
        self.q = query
        self.dialect = SplunkDialect(booleans=query.booleans)
        self._check_names()
        self._check_fields()
        # numeric metrics read a field through one helper per field: number_<i>
        numeric_fields = [m.field for m in query.all_metrics if m.kind.numeric_input and m.field is not None]
        self.numbers = {self.field(ref): f"number_{i}" for i, ref in enumerate(_unique(numeric_fields))}

    @property
    def rule(self) -> AggregateCorrelationRule:
        return self.q.rule

    def fail(self, construct: str, reason: str) -> AggregateConversionError:
        return AggregateConversionError(construct, TARGET, reason, source=self.rule.source)

    # -- checks ------------------------------------------------------------------------------------

    def _check_names(self) -> None:
        q = self.q
        q.check_columns(q.output_columns("_time"))
        for name in [*(metric.name for metric in q.all_metrics), *(name for name, _ in q.derived)]:
            if name in RESERVED or _RESERVED_PATTERN.match(name):
                raise self.fail(f"the name '{name}'", "the SPL uses a field of this name for its own stages")
            if name.upper() in _KEYWORDS:
                raise self.fail(f"the name '{name}'", "it is an SPL keyword")

    def _check_fields(self) -> None:
        """Array members are multi-valued fields in Splunk (``target{}.id``): `stats ... by` splits a row
        per value and dc/values count each value, where the engine reads one text per event."""
        q = self.q
        for ref in q.fields_read:
            for target in ref.per_rule:
                if "{}" in target:
                    raise self.fail(
                        f"field '{ref.name}' ({target}) as a group, collapse or metric value",
                        "it is multi-valued in Splunk (one value per array element)",
                    )
        if q.collapse is not None and q.collapse.missing is None:
            raise self.fail(
                "a collapse with `missing: null`",
                "stats ... by drops every row whose by-field is null; set a missing text",
            )

    # -- names -------------------------------------------------------------------------------------

    def field(self, ref: FieldRef) -> str:
        """The Splunk field a rule field reads: the target field, or the alias materialized by name."""
        return ref.single if ref.single is not None else ref.name

    def group_key(self, index: int) -> str:
        return f"group_{index}"

    # -- rendering ---------------------------------------------------------------------------------

    def render(self) -> str:
        q = self.q
        stages: list[str | None] = [
            self.select(),
            self.rule_flags(),
            self.selected(),
            self.aliases(),
            self.group_keys(),
            *self.fill(),
            self.filters(),
        ]
        if q.collapse is not None:
            stages += [self.collapse_bucket(), self.collapse()]
        stages += [self.numeric_values(), self.window(), self.aggregate(), *self.decide()]
        stages += [self.rename(), self.table()]
        return "\n| ".join(stage for stage in stages if stage)

    def select(self) -> str:
        q = self.q
        conditions = [f"({condition})" for condition in q.rule_conditions]
        selection = conditions[0] if len(conditions) == 1 else "(" + " OR ".join(conditions) + ")"
        return " ".join(part for part in ("search", q.source, selection) if part)

    def rule_flags(self) -> str:
        return _eval(
            (flag, f"if(searchmatch({eval_string(condition)}), 1, 0)")
            for flag, condition in zip(self.q.rule_flags, self.q.rule_conditions, strict=True)
        )

    def selected(self) -> str:
        """Events of at least one rule by the flags themselves: the flags, not the index search, decide
        what is aggregated."""
        return "where " + " OR ".join(f"{flag}=1" for flag in self.q.rule_flags)

    def aliases(self) -> str | None:
        """Aliases that read different fields per rule, as a field named by the alias: the field of the
        first rule (in `rules` order) that the event matched, as the engine reads it."""
        assignments = []
        for ref in _unique(self._refs()):
            if ref.single is not None:
                continue
            if not _EVAL_FIELD.match(ref.name) or ref.name.upper() in _KEYWORDS:
                raise self.fail(f"alias '{ref.name}'", "an alias name must be a plain identifier")
            if ref.name in RESERVED or _RESERVED_PATTERN.match(ref.name):
                raise self.fail(f"alias '{ref.name}'", "the SPL uses a field of this name for its own stages")
            branches = ", ".join(
                f"{flag}=1, {eval_field(target)}"
                for flag, target in zip(self.q.rule_flags, ref.per_rule, strict=True)
            )
            assignments.append((ref.name, f"case({branches})"))
        return _eval(assignments) if assignments else None

    def _refs(self) -> list[FieldRef]:
        return [*self.q.fields_read, self.q.uuid]

    def group_keys(self) -> str | None:
        """Group keys are copies taken before any fill: a missing value groups as NULL whatever the
        collapse fills in, and the field itself keeps what the collapse and the metrics see."""
        if not self.q.group_by:
            return None
        return _eval(
            (self.group_key(i), f"coalesce({eval_field(self.field(ref))}, {eval_string(self.q.null_text)})")
            for i, ref in enumerate(self.q.group_by)
        )

    def kept_fields(self) -> tuple[list[str], list[str]]:
        """(collapse fields, group-by fields outside the collapse): the fields a collapsed row keeps, by
        Splunk field (the row is filled in place, and a group key is a copy of its own)."""
        collapse = _unique(self.field(ref) for ref in self.q.collapse.fields)
        group_only = [
            name for name in _unique(self.field(ref) for ref in self.q.group_by) if name not in collapse
        ]
        return collapse, group_only

    def fill(self) -> list[str]:
        """The row as the collapse keeps it: its fields filled with the missing text (group-by fields
        outside the collapse with NULL), so that `where` filters see what the engine's rows hold."""
        q = self.q
        if q.collapse is None:
            return []
        collapse, group_only = self.kept_fields()
        fills: dict[str, list[str]] = {q.collapse.missing: collapse}
        fills.setdefault(q.null_text, []).extend(group_only)
        return [
            f"fillnull value={eval_string(text)} " + " ".join(map(command_field, names))
            for text, names in fills.items()
            if names
        ]

    def filters(self) -> str | None:
        return _eval((plan.name, self._filter(plan)) for plan in self.q.filters) if self.q.filters else None

    def _filter(self, plan: FilterPlan) -> str:
        if plan.where is None:
            return self.q.rule_flags[plan.rule_index]
        # searchmatch() directly inside if(), as Splunk documents it and uses it in data models
        matched = f"if(searchmatch({eval_string(plan.where)}), 1, 0)"
        if plan.rule_index is None:
            return matched
        return f"if({self.q.rule_flags[plan.rule_index]}=1, {matched}, 0)"

    def collapse_bucket(self) -> str:
        span = self.q.collapse.span_seconds
        return _eval([("collapse_bucket", f"floor(_time / {span}) * {span}")])

    def collapse(self) -> str:
        q = self.q
        collapse, group_only = self.kept_fields()
        keys = [
            *q.rule_flags,
            *(plan.name for plan in q.filters),
            *(self.group_key(i) for i in range(len(q.group_by))),
            *collapse,
            *group_only,
            "collapse_bucket",
        ]
        functions = ["min(_time) AS row_time", f"values({command_field(self.field(q.uuid))}) AS event_ids"]
        return _stats(functions, keys)

    def numeric_values(self) -> str | None:
        """Numeric metrics read numbers and text that spells a decimal number, nothing else."""
        if not self.numbers:
            return None
        return _eval((helper, number_of(name)) for name, helper in self.numbers.items())

    def window(self) -> str:
        span = self.q.timespan_seconds
        window = ("_time", f"floor(row_time / {span}) * {span}")
        if self.q.collapse is None:
            return _eval([("row_time", "_time"), window])
        return _eval([window])

    def aggregate(self) -> str:
        q = self.q
        ids = (
            "values(event_ids)" if q.collapse is not None else f"values({command_field(self.field(q.uuid))})"
        )
        functions = [
            "min(row_time) AS first_seen",
            *(f"{self._aggregate(metric)} AS {command_field(metric.name)}" for metric in q.all_metrics),
            f"{ids} AS event_ids",
        ]
        return _stats(functions, ["_time", *(self.group_key(i) for i in range(len(q.group_by)))])

    def _aggregate(self, metric: MetricPlan) -> str:
        """A stats function; a filtered metric reads its value through ``eval(if(filter_k=1, value, null()))``."""
        kind = metric.kind
        if kind is MetricKind.COUNT:
            return f"sum({metric.filter})" if metric.filter else "count"
        if kind in (MetricKind.FIRST_SEEN, MetricKind.LAST_SEEN):
            function, value = ("min" if kind is MetricKind.FIRST_SEEN else "max"), "row_time"
        elif kind.numeric_input:
            function, value = kind.value, self.numbers[self.field(metric.field)]
        elif kind is MetricKind.DISTINCT:
            function, value = "dc", self.field(metric.field)
        elif kind is MetricKind.VALUES:
            function, value = "values", self.field(metric.field)
        else:  # pragma: no cover - every kind is handled above
            raise self.fail(f"metric type {kind.value}", "no SPL aggregation")
        if metric.filter:
            return f"{function}(eval(if({metric.filter}=1, {eval_field(value)}, null())))"
        if not _COMMAND_FIELD.match(value):
            return f"{function}(eval({eval_field(value)}))"
        return f"{function}({value})"

    def decide(self) -> list[str]:
        """One eval of the derived values in order, each after the round() helpers it binds, and of the
        condition's own helpers; then the condition."""
        decision = self.dialect.decide(self.q)
        assignments = [*(a for step in decision.derived for a in step), *decision.bindings]
        stages = [_eval(assignments)] if assignments else []
        return [*stages, f"where {decision.condition}"]

    def rename(self) -> str | None:
        if not self.q.group_by:
            return None
        return "rename " + ", ".join(
            f"{self.group_key(i)} AS {command_field(ref.name)}" for i, ref in enumerate(self.q.group_by)
        )

    def table(self) -> str:
        return "table " + " ".join(map(command_field, self.q.output_columns("_time")))


# --- helpers ----------------------------------------------------------------------------------------

_INDENT = "\n    "


def _eval(assignments: Iterable[tuple[str, str]]) -> str:
    """One eval command; assignments run left to right, so later ones may read earlier ones."""
    return "eval " + ("," + _INDENT).join(f"{name}={expression}" for name, expression in assignments)


def _stats(functions: list[str], by: list[str]) -> str:
    return "stats " + _INDENT.join(functions) + _INDENT + "BY " + " ".join(map(command_field, by))


def _unique(items: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(items))


__all__ = ["AggregateSpl", "OktaSplunkBackend", "SplunkDialect"]
