"""The `aggregate` correlation, planned once for a conversion target.

Every target renders the same plan, in the same stages (a shared, target-independent description of
what the query does; the engine evaluates the same model):

1. **select** the events of the referenced rules; one flag per rule (``rule_0`` ...), each the rule's
   detection rendered by the target's base-rule backend (the official pySigma backend where one exists),
   with the processing pipeline applied;
2. **flag** each metric's filter (its rule and its ``where``), per event: a filter reads only fields
   that the collapse keeps, so the flags are equal within a collapsed row; with a collapse, a ``where``
   sees the row's values, missing ones already filled (``NULL``), as the engine evaluates it;
3. **time**: the event time, the collapse bucket ``floor(t / span)`` and the window ``floor(t / timespan)``;
4. **collapse** (optional): one row per (flags, bucket, collapse fields with missing values filled),
   with the earliest time and the event ids;
5. **aggregate** per (window, group-by values, missing as ``NULL``): every metric and output field;
6. **derive** the named values and **test** the condition with the language's null, division and
   rounding rules (:mod:`sigma.pipelines.okta.semantics`);
7. **output**: window, group, first seen, metrics, output fields, event ids.

Field names in the plan are already mapped to the target's schema by the pipeline. A construct a target
cannot express raises :class:`AggregateConversionError` naming it and the target: never a weaker query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sigma.conversion.base import Backend
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaBackendError
from sigma.rule import SigmaDetections, SigmaRule

from sigma.pipelines.okta.expression import (
    And,
    Arithmetic,
    Comparison,
    Expression,
    Name,
    Negate,
    Not,
    Number,
    Or,
    Round,
)
from sigma.pipelines.okta.model import AggregateCorrelationRule, Metric, MetricKind, Where
from sigma.pipelines.okta.okta_pipelines import aggregate_field_mapper, schema_of
from sigma.pipelines.okta.semantics import NULL_TEXT


class AggregateConversionError(SigmaBackendError):
    """A construct of an `aggregate` correlation that a target cannot express."""

    def __init__(self, construct: str, target: str, reason: str = "", *, source: Any = None):
        message = f"the {target} target cannot express {construct}"
        super().__init__(f"{message}: {reason}" if reason else message, source=source)
        self.construct = construct
        self.target = target


@dataclass(frozen=True)
class FieldRef:
    """A field of the rule (``name``, as written, possibly an alias) and the target field it reads for
    the events of each referenced rule (aliases can differ per rule; usually all are the same)."""

    name: str
    per_rule: tuple[str, ...]

    @property
    def single(self) -> str | None:
        """The target field when every rule reads the same one."""
        return self.per_rule[0] if len(set(self.per_rule)) == 1 else None


@dataclass(frozen=True)
class MetricPlan:
    name: str
    kind: MetricKind
    field: FieldRef | None
    filter: str | None  # name of the per-event filter flag, or None: every row


@dataclass(frozen=True)
class FilterPlan:
    """A metric's filter: its rule flag (by index) and its `where` rendered by the target's backend."""

    name: str
    rule_index: int | None
    where: str | None


@dataclass(frozen=True)
class CollapsePlan:
    span_seconds: int
    fields: tuple[FieldRef, ...]
    missing: str | None


@dataclass
class AggregateQuery:
    rule: AggregateCorrelationRule
    target: str
    source: str | None  # index, table or search prefix; None: the target's default
    time_field: str
    rule_conditions: list[str]  # per referenced rule, the target's boolean expression
    filters: list[FilterPlan]
    group_by: list[FieldRef]
    collapse: CollapsePlan | None
    timespan_seconds: int
    metrics: list[MetricPlan]
    outputs: list[MetricPlan]
    uuid: FieldRef

    @property
    def rule_flags(self) -> list[str]:
        return [f"rule_{index}" for index in range(len(self.rule_conditions))]

    @property
    def derived(self) -> list[tuple[str, Expression]]:
        return [(derived.name, derived.expression) for derived in self.rule.derived]

    @property
    def condition(self) -> Expression:
        return self.rule.condition

    def inlined(self, expression: Expression) -> Expression:
        """``expression`` with every derived name replaced by its definition, so that a target can
        compute it in one step (derived values may refer to earlier ones)."""
        definitions: dict[str, Expression] = {}
        for name, definition in self.derived:
            definitions[name] = _substitute(definition, definitions)
        return _substitute(expression, definitions)

    @property
    def null_text(self) -> str:
        return NULL_TEXT


def plan_aggregate(
    rule: AggregateCorrelationRule,
    backend: Backend,
    target: str,
    *,
    default_time_field: str,
    render_detection: Callable[[SigmaRule], str] | None = None,
) -> AggregateQuery:
    """Plan ``rule`` for a backend whose processing pipeline is set. ``render_detection`` renders a
    Sigma rule's detection as the target's boolean expression (default: :func:`detection_expression`)."""
    render = render_detection or (lambda sigma_rule: detection_expression(backend, sigma_rule, target))
    pipeline = _pipeline_of(backend)
    schema = schema_of(pipeline)
    map_field = aggregate_field_mapper(pipeline)
    count = len(rule.rules)

    def field_ref(name: str) -> FieldRef:
        return FieldRef(name, tuple(map_field(rule.event_field(name, index)) for index in range(count)))

    filters: list[FilterPlan] = []

    def metric_plan(metric: Metric) -> MetricPlan:
        name = None
        if metric.filtered:
            name = f"filter_{len(filters)}"
            where = None
            if metric.where is not None:
                where = render(where_rule(metric.where, rule.referenced_rules[0]))
            rule_index = rule.rule_index(metric.rule) if metric.rule is not None else None
            filters.append(FilterPlan(name, rule_index, where))
        return MetricPlan(metric.name, metric.kind, field_ref(metric.field) if metric.field else None, name)

    metrics = [metric_plan(metric) for metric in rule.metrics]
    outputs = [metric_plan(metric) for metric in rule.outputs]
    collapse = None
    if rule.collapse is not None:
        collapse = CollapsePlan(
            rule.collapse.span.seconds,
            tuple(field_ref(name) for name in rule.collapse.fields),
            rule.collapse.missing,
        )
    return AggregateQuery(
        rule=rule,
        target=target,
        source=schema.table_or_index if schema is not None else None,
        time_field=schema.time_field if schema is not None else default_time_field,
        rule_conditions=[render(referenced) for referenced in rule.referenced_rules],
        filters=filters,
        group_by=[field_ref(name) for name in rule.group_by],
        collapse=collapse,
        timespan_seconds=rule.timespan.seconds,
        metrics=metrics,
        outputs=outputs,
        uuid=field_ref("uuid"),
    )


def where_rule(where: Where, like: SigmaRule) -> SigmaRule:
    """A metric's `where` as a one-detection Sigma rule with the log source of ``like``, so that the
    processing pipeline maps its fields and values exactly as it maps the referenced rules'."""
    detections = SigmaDetections(detections={"where": where.detection}, condition=["where"])
    return SigmaRule(title="where", logsource=like.logsource, detection=detections)


def detection_expression(backend: Backend, rule: SigmaRule, target: str) -> str:
    """A Sigma rule's condition as the target's boolean expression, the backend's pipeline applied.

    Works on a copy (pipelines change the rules they are applied to). Parts that a backend would defer
    to a later pipe (such as Splunk's ``| regex``) cannot sit inside an expression: an error names them.
    """
    copy = SigmaRule.from_dict(rule.to_dict())
    pipeline = _pipeline_of(backend)
    pipeline.apply(copy)
    if len(copy.detection.parsed_condition) != 1:
        raise AggregateConversionError("a rule with several conditions", target, source=rule.source)
    state = ConversionState(processing_state=dict(pipeline.state))
    expression = backend.convert_condition(copy.detection.parsed_condition[0].parsed, state)
    if state.has_deferred():
        raise AggregateConversionError(
            f"rule '{rule.name or rule.title}' inside an aggregate correlation",
            target,
            "it needs a deferred query part (e.g. a regular expression pipe)",
            source=rule.source,
        )
    return str(expression)


def _pipeline_of(backend: Backend) -> Any:
    if getattr(backend, "last_processing_pipeline", None) is None:
        backend.init_processing_pipeline()
    return backend.last_processing_pipeline


# --- expressions ------------------------------------------------------------------------------------


class ExpressionDialect:
    """How a target writes the condition language. Subclasses override what differs.

    The default renders three-valued logic into a two-valued language exactly: every boolean node is
    turned into "is true" (and, under ``not``, "is false") with explicit null tests, so that a
    comparison with null is unknown and ``not unknown`` stays unknown (see
    :mod:`sigma.pipelines.okta.semantics`). SQL, which has three-valued logic, renders it natively.
    """

    and_word = "AND"
    or_word = "OR"
    not_word = "NOT"

    def name(self, name: str) -> str:
        return name

    def number(self, literal: Number) -> str:
        return literal.text

    def is_null(self, value: str) -> str:
        raise NotImplementedError

    def is_not_null(self, value: str) -> str:
        raise NotImplementedError

    def null(self) -> str:
        raise NotImplementedError

    def divide(self, numerator: str, denominator: str) -> str:
        """Real division; null when the denominator is 0 or either side is null."""
        raise NotImplementedError

    def round(self, value: str, digits: int) -> str:
        raise NotImplementedError

    def arithmetic(self, operator: str, left: str, right: str) -> str:
        return f"({left} {operator} {right})"

    def compare(self, operator: str, left: str, right: str) -> str:
        return f"{left} {'=' if operator == '==' else operator} {right}"

    def join(self, word: str, parts: list[str]) -> str:
        return parts[0] if len(parts) == 1 else "(" + f" {word} ".join(parts) + ")"

    def negation(self, part: str) -> str:
        return f"{self.not_word} ({part})"

    # -- values --------------------------------------------------------------------------------------

    def value(self, expression: Expression) -> str:
        match expression:
            case Number():
                return self.number(expression)
            case Name(name):
                return self.name(name)
            case Negate(operand):
                return f"(-{self.value(operand)})"
            case Round(operand, digits):
                return self.round(self.value(operand), digits)
            case Arithmetic("/", left, right):
                return self.divide(self.value(left), self.value(right))
            case Arithmetic(operator, left, right):
                return self.arithmetic(operator, self.value(left), self.value(right))
        raise TypeError(f"not a value expression: {expression!r}")

    # -- conditions ----------------------------------------------------------------------------------

    def condition(self, expression: Expression) -> str:
        """An expression that is true exactly when the condition is true (unknown counts as false)."""
        return self.truth(expression, True)

    def truth(self, expression: Expression, wanted: bool) -> str:
        """An always-defined boolean: the expression is ``wanted`` (true or false, never unknown)."""
        match expression:
            case Comparison(operator, left, right):
                a, b = self.value(left), self.value(right)
                compared = self.compare(operator, a, b)
                guards = [self.is_not_null(part) for part in (a, b) if not _is_literal(part)]
                return self.join(self.and_word, [*guards, compared if wanted else self.negation(compared)])
            case Not(operand):
                return self.truth(operand, not wanted)
            case And(operands):
                parts = [self.truth(operand, wanted) for operand in operands]
                return self.join(self.and_word if wanted else self.or_word, parts)
            case Or(operands):
                parts = [self.truth(operand, wanted) for operand in operands]
                return self.join(self.or_word if wanted else self.and_word, parts)
        raise TypeError(f"not a condition: {expression!r}")


def _substitute(expression: Expression, definitions: dict[str, Expression]) -> Expression:
    match expression:
        case Name(name) if name in definitions:
            return definitions[name]
        case Number() | Name():
            return expression
        case Negate(operand):
            return Negate(_substitute(operand, definitions))
        case Not(operand):
            return Not(_substitute(operand, definitions))
        case Round(operand, digits):
            return Round(_substitute(operand, definitions), digits)
        case Arithmetic(operator, left, right):
            return Arithmetic(operator, _substitute(left, definitions), _substitute(right, definitions))
        case Comparison(operator, left, right):
            return Comparison(operator, _substitute(left, definitions), _substitute(right, definitions))
        case And(operands):
            return And(tuple(_substitute(operand, definitions) for operand in operands))
        case Or(operands):
            return Or(tuple(_substitute(operand, definitions) for operand in operands))
    raise TypeError(f"not an expression node: {expression!r}")


def _is_literal(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
