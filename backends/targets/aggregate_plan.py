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
7. **output**: window, group, first seen, metrics, derived values, output fields, event ids.

Field names in the plan are already mapped to the target's schema by the pipeline. A construct a target
cannot express raises :class:`AggregateConversionError` naming it and the target: never a weaker query.

What a target plugs in (each a small hook with a default):

- :func:`plan_aggregate` takes ``render_detection`` (a referenced rule's detection, read on events) and
  ``render_where`` (a metric's ``where``, given the plan so that it can read the collapsed row:
  :attr:`AggregateQuery.where_fields`); an error of either names the rule or the metric;
- :attr:`AggregateQuery.row_fields` are the columns of a collapsed row (group-by and collapse fields
  with their fill texts), :meth:`AggregateQuery.row_field_of` the one a metric reads after the collapse,
  :meth:`AggregateQuery.output_columns` and :meth:`AggregateQuery.check_columns` the output's columns;
- :class:`ExpressionDialect` writes the condition language: ``negate``, ``divide``, ``round`` ...;
  ``bind`` asks for a helper column computed before the expression that uses it; ``nullable`` is fed
  by the plan (:attr:`AggregateQuery.never_null`) and decides which operands need a null test;
  :meth:`ExpressionDialect.decide` renders stage 6 (derived values and the condition, each after the
  helper columns it bound).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sigma.conversion.base import Backend
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaBackendError, SigmaError
from sigma.rule import SigmaRule

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
    ValueType,
    substitute,
)
from sigma.pipelines.okta.model import AggregateCorrelationRule, Metric, MetricKind, WindowKind
from sigma.pipelines.okta.okta_pipelines import SYSTEM_LOG, aggregate_field_mapper, schema_of
from sigma.pipelines.okta.semantics import NULL_TEXT

from .base_values import processing_pipeline

#: Metrics that are never null: a count of no rows is 0.
NEVER_NULL_KINDS = frozenset({MetricKind.COUNT, MetricKind.DISTINCT})
#: Metrics that are times: epoch seconds in expressions, a time in the output.
TIME_KINDS = frozenset({MetricKind.FIRST_SEEN, MetricKind.LAST_SEEN})


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


@dataclass(frozen=True)
class RowField:
    """A column of a collapsed row: a group-by field (missing values as ``NULL``) or a collapse field
    (missing values as the collapse's ``missing`` text; ``None``: they stay missing)."""

    field: FieldRef
    fill: str | None
    group_by: bool

    @property
    def name(self) -> str:
        """The field as the rule names it."""
        return self.field.name


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

    @property
    def null_text(self) -> str:
        return NULL_TEXT

    def inlined(self, expression: Expression) -> Expression:
        """``expression`` with every derived name replaced by its definition, so that a target can
        compute it in one step (derived values may refer to earlier ones)."""
        definitions: dict[str, Expression] = {}
        for name, definition in self.derived:
            definitions[name] = substitute(definition, definitions)
        return substitute(expression, definitions)

    # -- what expressions know about names -----------------------------------------------------------

    @property
    def never_null(self) -> frozenset[str]:
        """Names that are never null (see :func:`never_null_names`); feeds :class:`ExpressionDialect`."""
        return never_null_names(self.rule)

    @property
    def booleans(self) -> frozenset[str]:
        """Derived values that are booleans (true, false or null)."""
        return frozenset(d.name for d in self.rule.derived if d.value_type is ValueType.BOOLEAN)

    @property
    def time_names(self) -> frozenset[str]:
        """Metrics that are times (first and last seen): epoch seconds in expressions."""
        return frozenset(metric.name for metric in self.metrics if metric.kind in TIME_KINDS)

    # -- metrics, fields and rows --------------------------------------------------------------------

    @property
    def all_metrics(self) -> list[MetricPlan]:
        """Everything stage 5 computes: the metrics, then the output fields."""
        return [*self.metrics, *self.outputs]

    @property
    def fields_read(self) -> list[FieldRef]:
        """The fields read as values: group-by, collapse and metric fields, in that order (repeats kept)."""
        collapse = self.collapse.fields if self.collapse is not None else ()
        return [*self.group_by, *collapse, *(m.field for m in self.all_metrics if m.field is not None)]

    def flag_of(self, metric: MetricPlan) -> str | None:
        """The flag column of the rows a metric reads: its rule's flag when its filter has no `where`,
        else the filter's own flag; None: every row."""
        if metric.filter is None:
            return None
        plan = next(plan for plan in self.filters if plan.name == metric.filter)
        return plan.name if plan.where is not None else self.rule_flags[plan.rule_index]

    @property
    def row_fields(self) -> list[RowField]:
        """The columns of a collapsed row, as the engine builds the row: every group-by field, then every
        collapse field, except one that is a group-by field with the same fill (the row holds it once).
        Without a collapse, the group-by fields (the keys of stage 5)."""
        rows = [RowField(ref, self.null_text, group_by=True) for ref in self.group_by]
        if self.collapse is not None:
            groups = set(rows)
            for ref in self.collapse.fields:
                if RowField(ref, self.collapse.missing, group_by=True) not in groups:
                    rows.append(RowField(ref, self.collapse.missing, group_by=False))
        return rows

    @property
    def where_fields(self) -> dict[str, RowField]:
        """Target field -> the row column a metric's `where` reads it from after the collapse (a collapse
        field before a group-by field, as the engine's row view). Only fields that every rule reads the
        same; empty without a collapse, where a `where` reads the events."""
        if self.collapse is None:
            return {}
        return {row.field.single: row for row in self.row_fields if row.field.single is not None}

    def row_field_of(self, metric: MetricPlan) -> RowField:
        """The row column a metric's field is read from after the collapse (a collapse field before a
        group-by field); a field the row does not keep raises."""
        assert metric.field is not None
        for row in reversed(self.row_fields):
            if row.name == metric.field.name:
                return row
        raise AggregateConversionError(
            f"metric '{metric.name}' on '{metric.field.name}'",
            self.target,
            "after a collapse only group-by and collapse fields remain",
            source=self.rule.source,
        )

    # -- output --------------------------------------------------------------------------------------

    @property
    def output_names(self) -> list[str]:
        """The rule's named values in output order: metrics, derived values, output fields."""
        return [
            *(metric.name for metric in self.metrics),
            *(name for name, _ in self.derived),
            *(output.name for output in self.outputs),
        ]

    def output_columns(
        self, window: str, first_seen: str = "first_seen", event_ids: str = "event_ids"
    ) -> list[str]:
        """Stage 7's columns as the rule names them, with the target's names of the fixed columns:
        window, group-by fields, first seen, metrics, derived values, output fields, event ids."""
        return [window, *(ref.name for ref in self.group_by), first_seen, *self.output_names, event_ids]

    def check_columns(self, columns: Iterable[str], key: Callable[[str], str] | None = None) -> None:
        """Refuse two columns with one name (compared as ``key`` writes them, e.g. quoted)."""
        seen: set[str] = set()
        for name in columns:
            written = key(name) if key is not None else name
            if written in seen:
                raise AggregateConversionError(
                    f"the output column '{name}'",
                    self.target,
                    "two output columns would have this name",
                    source=self.rule.source,
                )
            seen.add(written)


def plan_aggregate(
    rule: AggregateCorrelationRule,
    backend: Backend,
    target: str,
    *,
    default_time_field: str,
    render_detection: Callable[[SigmaRule], str] | None = None,
    render_where: Callable[[SigmaRule, AggregateQuery], str] | None = None,
    exact_ranking: bool = False,
) -> AggregateQuery:
    """Plan ``rule`` for a backend whose processing pipeline is set.

    ``render_detection`` renders a referenced rule's detection as the target's boolean expression on
    events (default: :func:`detection_expression`). ``render_where`` renders a metric's `where` (as
    :meth:`Where.as_rule` makes it) given the plan, complete but for its ``filters``: with a collapse, the
    `where` reads the row (:attr:`AggregateQuery.where_fields`); default: ``render_detection``, for
    targets that fill the fields themselves. A :class:`~sigma.exceptions.SigmaError` of either becomes
    an :class:`AggregateConversionError` naming the referenced rule or the metric. Percentiles, rule
    order and sliding windows are refused (:func:`refuse_ranking`) unless ``exact_ranking``.
    """
    if not exact_ranking:
        refuse_ranking(rule, target)
    render = render_detection or (lambda sigma_rule: detection_expression(backend, sigma_rule, target))
    render_row = render_where or (lambda sigma_rule, _: render(sigma_rule))
    pipeline = processing_pipeline(backend)
    schema = schema_of(pipeline)
    map_field = aggregate_field_mapper(
        pipeline, rule.referenced_rules[0].logsource if rule.rules else SYSTEM_LOG
    )
    count = len(rule.rules)

    def field_ref(name: str) -> FieldRef:
        return FieldRef(name, tuple(map_field(rule.event_field(name, index)) for index in range(count)))

    filtered: list[tuple[str, Metric]] = []

    def metric_plan(metric: Metric) -> MetricPlan:
        name = None
        if metric.filtered:
            name = f"filter_{len(filtered)}"
            filtered.append((name, metric))
        return MetricPlan(metric.name, metric.kind, field_ref(metric.field) if metric.field else None, name)

    def rendered(construct: str, source: Any, renderer: Callable[..., str], *arguments: Any) -> str:
        try:
            return renderer(*arguments)
        except AggregateConversionError:
            raise
        except SigmaError as error:  # the base-rule backend's limits, named for the aggregate
            raise AggregateConversionError(construct, target, str(error), source=source) from error

    metrics = [metric_plan(metric) for metric in rule.metrics]
    outputs = [metric_plan(metric) for metric in rule.outputs]
    collapse = None
    if rule.collapse is not None:
        collapse = CollapsePlan(
            rule.collapse.span.seconds,
            tuple(field_ref(name) for name in rule.collapse.fields),
            rule.collapse.missing,
        )
    query = AggregateQuery(
        rule=rule,
        target=target,
        source=schema.table_or_index if schema is not None else None,
        time_field=schema.time_field if schema is not None else default_time_field,
        rule_conditions=[
            rendered(
                f"rule '{referenced.name or referenced.title}'",
                referenced.source,
                render,
                requiring_group_values(rule, referenced, index),
            )
            for index, referenced in enumerate(rule.referenced_rules)
        ],
        filters=[],
        group_by=[field_ref(name) for name in rule.group_by],
        collapse=collapse,
        timespan_seconds=rule.timespan.seconds,
        metrics=metrics,
        outputs=outputs,
        uuid=field_ref("uuid"),
    )
    filters = []
    for name, metric in filtered:
        where = None
        if metric.where is not None:
            sigma_rule = metric.where.as_rule(rule.referenced_rules[0].logsource)
            construct = f"the `where` of metric '{metric.name}'"
            where = rendered(construct, rule.source, render_row, sigma_rule, query)
        rule_index = rule.rule_index(metric.rule) if metric.rule is not None else None
        filters.append(FilterPlan(name, rule_index, where))
    query.filters = filters
    return query


#: why SPL, ES|QL and KQL are refused what only the SQL targets render (docs/semantics.md)
RANKING_REFUSALS = {
    MetricKind.PERCENTILE: (
        "a percentile (value_percentile, value_median)",
        "its percentile functions estimate (Splunk's perc above 1000 values, ES|QL's and KQL's t-digest) "
        "or rank differently from the engine's linear interpolation",
    ),
    MetricKind.IN_ORDER: (
        "the order of the referenced rules (temporal_ordered)",
        "it needs the earliest event of each rule after the previous rule's, one join per rule",
    ),
}


def refuse_ranking(rule: AggregateCorrelationRule, target: str) -> None:
    """Refuse, by name, the constructs that only the SQL targets render exactly."""
    for metric in rule.metrics:
        if metric.kind in RANKING_REFUSALS:
            construct, reason = RANKING_REFUSALS[metric.kind]
            raise AggregateConversionError(construct, target, reason, source=rule.source)
    if rule.window is WindowKind.SLIDING:
        raise AggregateConversionError(
            "a sliding window (`window: sliding`)",
            target,
            "its condition is tested at every event over the span before it, with one alert per run of "
            "overlapping satisfied spans; only the SQL targets render that exactly",
            source=rule.source,
        )


GROUP_MISSING_SELECTION = "sigma_okta_group_missing"


def requiring_group_values(rule: AggregateCorrelationRule, referenced: SigmaRule, index: int) -> SigmaRule:
    """A referenced rule as a correlation without a ``group_missing`` text reads it: its events must have
    every group-by value (Sigma's reading of standard correlations; the engine skips the others). The
    test is Sigma's own ``field: null``, so every target renders it as it renders that."""
    if rule.group_missing is not None or not rule.group_by:
        return referenced
    data = referenced.to_dict()
    detection = dict(data["detection"])
    condition = detection.pop("condition")
    if isinstance(condition, list):
        if len(condition) != 1:
            return referenced  # detection_expression refuses several conditions, naming the rule
        condition = condition[0]
    detection[GROUP_MISSING_SELECTION] = [{rule.event_field(name, index): None} for name in rule.group_by]
    detection["condition"] = f"({condition}) and not {GROUP_MISSING_SELECTION}"
    data["detection"] = detection
    copy = SigmaRule.from_dict(data)
    copy.source = referenced.source
    return copy


def detection_expression(backend: Backend, rule: SigmaRule, target: str) -> str:
    """A Sigma rule's condition as the target's boolean expression, the backend's pipeline applied.

    Works on a copy (pipelines change the rules they are applied to). Parts that a backend would defer
    to a later pipe (such as Splunk's ``| regex``) cannot sit inside an expression: an error names them.
    """
    copy = SigmaRule.from_dict(rule.to_dict())
    pipeline = processing_pipeline(backend)
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


# --- expressions ------------------------------------------------------------------------------------


def may_be_null(expression: Expression, never_null: Collection[str]) -> bool:
    """Whether a value expression can be null: a name unless it is ``never_null``, a division (by
    zero), and whatever reads something that can be null."""
    match expression:
        case Number():
            return False
        case Name(name):
            return name not in never_null
        case Negate(operand) | Round(operand, _):
            return may_be_null(operand, never_null)
        case Arithmetic("/", _, _):
            return True
        case Arithmetic(_, left, right):
            return may_be_null(left, never_null) or may_be_null(right, never_null)
    return True


def never_null_names(rule: Any) -> frozenset[str]:
    """The names of ``rule`` (its ``metrics`` and ``derived``) that are never null: counts and distinct
    counts, and numeric derived values computed from never-null names without a division."""
    names = {metric.name for metric in rule.metrics if metric.kind in NEVER_NULL_KINDS}
    for derived in rule.derived:
        if derived.value_type is not ValueType.BOOLEAN and not may_be_null(derived.expression, names):
            names.add(derived.name)
    return frozenset(names)


@dataclass(frozen=True)
class Decision:
    """Stage 6 as a dialect wrote it: per derived value, in order, the helper columns it bound and then
    ``(name, value)``; the condition's own helper columns; the condition."""

    derived: list[list[tuple[str, str]]]
    bindings: list[tuple[str, str]]
    condition: str


class ExpressionDialect:
    """How a target writes the condition language. Subclasses override what differs.

    The default renders three-valued logic into a two-valued language exactly: every boolean node is
    turned into "is true" (and, under ``not``, "is false") with explicit null tests, so that a
    comparison with null is unknown and ``not unknown`` stays unknown (see
    :mod:`sigma.pipelines.okta.semantics`). SQL, which has three-valued logic, renders it natively.

    What the plan knows about names is given at construction: ``never_null`` (usually
    :attr:`AggregateQuery.never_null`; ``None``: nothing is known, every operand but a literal gets a
    null test) and ``booleans`` (:attr:`AggregateQuery.booleans`, derived values used as conditions).
    A dialect holds per-query state (its bindings): make one per query.
    """

    and_word = "AND"
    or_word = "OR"
    not_word = "NOT"

    def __init__(self, *, never_null: Iterable[str] | None = None, booleans: Iterable[str] = ()) -> None:
        self.never_null = None if never_null is None else frozenset(never_null)
        self.booleans = frozenset(booleans)
        self.bindings: list[tuple[str, str]] = []

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

    def negate(self, value: str) -> str:
        """``-value``; null stays null."""
        return f"(-{value})"

    def divide(self, numerator: str, denominator: str) -> str:
        """Real division; null when the denominator is 0 or either side is null."""
        raise NotImplementedError

    def round(self, value: str, digits: int) -> str:
        """``value`` rounded half away from zero on its shortest decimal (:mod:`~sigma.pipelines.okta.
        semantics`); null stays null. ``value`` is an expression's text, possibly long: a target that
        uses it several times binds it to a helper column first (:meth:`bind`) and reads the column."""
        raise NotImplementedError

    def arithmetic(self, operator: str, left: str, right: str) -> str:
        return f"({left} {operator} {right})"

    def compare(self, operator: str, left: str, right: str) -> str:
        return f"{left} {'=' if operator == '==' else operator} {right}"

    def join(self, word: str, parts: list[str]) -> str:
        return parts[0] if len(parts) == 1 else "(" + f" {word} ".join(parts) + ")"

    def negation(self, part: str) -> str:
        return f"{self.not_word} ({part})"

    # -- helper columns ------------------------------------------------------------------------------

    def bind(self, expression: str, name: str) -> str:
        """Ask for a helper column ``name`` holding ``expression`` and return what reads it (the name).
        The renderer computes the bindings, in the order asked, before the derived value or condition
        being rendered (:meth:`decide`). Names are the dialect's to keep unique within a query."""
        self.bindings.append((name, expression))
        return name

    def take_bindings(self) -> list[tuple[str, str]]:
        """The bindings asked for since the last call, in order (the renderer emits them)."""
        bindings, self.bindings = self.bindings, []
        return bindings

    # -- values --------------------------------------------------------------------------------------

    def value(self, expression: Expression) -> str:
        match expression:
            case Number():
                return self.number(expression)
            case Name(name):
                return self.name(name)
            case Negate(operand):
                return self.negate(self.value(operand))
            case Round(operand, digits):
                return self.round(self.value(operand), digits)
            case Arithmetic("/", left, right):
                return self.divide(self.value(left), self.value(right))
            case Arithmetic(operator, left, right):
                return self.arithmetic(operator, self.value(left), self.value(right))
        raise TypeError(f"not a value expression: {expression!r}")

    def nullable(self, expression: Expression) -> bool:
        """Whether a compared value can be null, so that the comparison needs a null test: decided by
        :func:`may_be_null` with the plan's ``never_null`` names; without them, anything but a number
        literal that the dialect writes as a plain number."""
        if self.never_null is None:
            return not (isinstance(expression, Number) and _is_literal(self.number(expression)))
        return may_be_null(expression, self.never_null)

    def boolean_value(self, expression: Expression) -> str:
        """A boolean derived value: true, false, or null where the condition is unknown. Languages
        without a boolean value to hold it leave this out (the rule is refused)."""
        raise NotImplementedError

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
                guards = [
                    self.is_not_null(text) for side, text in ((left, a), (right, b)) if self.nullable(side)
                ]
                return self.join(self.and_word, [*guards, compared if wanted else self.negation(compared)])
            case Name(name) if name in self.booleans:
                return self.boolean_truth(self.name(name), wanted)
            case Not(operand):
                return self.truth(operand, not wanted)
            case And(operands):
                parts = [self.truth(operand, wanted) for operand in operands]
                return self.join(self.and_word if wanted else self.or_word, parts)
            case Or(operands):
                parts = [self.truth(operand, wanted) for operand in operands]
                return self.join(self.or_word if wanted else self.and_word, parts)
        raise TypeError(f"not a condition: {expression!r}")

    def boolean_truth(self, value: str, wanted: bool) -> str:
        """A boolean value (true, false or null) is ``wanted``: null is neither."""
        return self.join(self.and_word, [self.is_not_null(value), value if wanted else self.negation(value)])

    # -- stage 6 -------------------------------------------------------------------------------------

    def decide(self, query: AggregateQuery) -> Decision:
        """The derived values in order, then the condition, each with the helper columns it bound."""
        derived = []
        for definition in query.rule.derived:
            if definition.value_type is ValueType.BOOLEAN:
                try:
                    value = self.boolean_value(definition.expression)
                except NotImplementedError:
                    raise AggregateConversionError(
                        f"the boolean derived value '{definition.name}'",
                        query.target,
                        "the language has no boolean value to hold it: use the comparison in the condition",
                        source=query.rule.source,
                    ) from None
            else:
                value = self.value(definition.expression)
            derived.append([*self.take_bindings(), (definition.name, value)])
        condition = self.condition(query.condition)
        return Decision(derived, self.take_bindings(), condition)


def _is_literal(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
