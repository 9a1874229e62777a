"""Standard Sigma correlations expressed in the `aggregate` model, so that one engine evaluates both.

Every type maps onto one metric and a condition: event_count, value_count, value_sum, value_avg onto
count, distinct, sum and avg; value_percentile and value_median onto a ``percentile`` metric (linear
interpolation, the median is the 50th percentile); temporal (all referenced rules seen) onto one count
per rule; temporal_ordered (all referenced rules seen in their order) onto an ``in_order`` metric. What
does not fit (a temporal condition that asks for fewer than all rules, a percentile without its rank)
raises :class:`UnsupportedCorrelationError` naming it.

Windows are tumbling and epoch-aligned by default; the rule's custom attribute ``window: sliding``
asks for Sigma's own reading of ``timespan``, any span of that length (docs/semantics.md).
"""

from __future__ import annotations

from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
    SigmaRuleReference,
)
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from .expression import And, Comparison, Expression, Name, Number, to_text
from .model import AggregateCorrelationRule, Metric, MetricKind, WindowKind

_OPERATORS = {
    SigmaCorrelationConditionOperator.LT: "<",
    SigmaCorrelationConditionOperator.LTE: "<=",
    SigmaCorrelationConditionOperator.GT: ">",
    SigmaCorrelationConditionOperator.GTE: ">=",
    SigmaCorrelationConditionOperator.EQ: "==",
    SigmaCorrelationConditionOperator.NEQ: "!=",
}
_VALUE_METRICS = {
    SigmaCorrelationType.EVENT_COUNT: ("event_count", MetricKind.COUNT),
    SigmaCorrelationType.VALUE_COUNT: ("value_count", MetricKind.DISTINCT),
    SigmaCorrelationType.VALUE_SUM: ("value_sum", MetricKind.SUM),
    SigmaCorrelationType.VALUE_AVG: ("value_avg", MetricKind.AVG),
    SigmaCorrelationType.VALUE_PERCENTILE: ("value_percentile", MetricKind.PERCENTILE),
    SigmaCorrelationType.VALUE_MEDIAN: ("value_median", MetricKind.PERCENTILE),
}
#: the custom attribute that chooses the window of a standard correlation
WINDOW_ATTRIBUTE = "window"


class UnsupportedCorrelationError(SigmaError):
    pass


def as_aggregate(correlation: SigmaCorrelationRule) -> AggregateCorrelationRule:
    """The aggregate correlation equivalent to a resolved standard correlation."""
    references = correlation.referenced_rules or correlation.rules or []
    for reference in references:
        if not isinstance(reference.rule, SigmaRule):
            raise UnsupportedCorrelationError(
                f"correlation '{correlation.title}' refers to correlation '{reference.reference}': "
                "nested correlations are not supported by the engine",
                source=correlation.source,
            )
    condition = correlation.condition
    metrics: list[Metric]
    if correlation.type in _VALUE_METRICS and isinstance(condition, SigmaCorrelationCondition):
        name, kind = _VALUE_METRICS[correlation.type]
        field = condition.fieldref if isinstance(condition.fieldref, str) else None
        if kind is not MetricKind.COUNT and field is None:
            raise UnsupportedCorrelationError(
                f"{correlation.type} correlation '{correlation.title}' needs exactly one condition field",
                source=correlation.source,
            )
        metric = Metric(name, kind, field=field if kind is not MetricKind.COUNT else None)
        if kind is MetricKind.PERCENTILE:
            metric.percentile = _percentile(correlation, condition)
        metrics = [metric]
        expression: Expression = Comparison(_OPERATORS[condition.op], Name(name), _number(condition.count))
    elif correlation.type is SigmaCorrelationType.TEMPORAL and _all_rules_required(correlation, references):
        metrics = [
            Metric(f"rule_{index}_count", MetricKind.COUNT, rule=reference.reference)
            for index, reference in enumerate(references)
        ]
        parts = tuple(Comparison(">", Name(metric.name), _number(0)) for metric in metrics)
        expression = parts[0] if len(parts) == 1 else And(parts)
    elif correlation.type is SigmaCorrelationType.TEMPORAL_ORDERED and _all_rules_required(
        correlation, references
    ):
        # the rules are distinct references (pySigma resolves each once); order is their listed order
        metrics = [Metric("rules_in_order", MetricKind.IN_ORDER)]
        expression = Comparison(">=", Name("rules_in_order"), _number(len(references)))
    else:
        raise UnsupportedCorrelationError(
            f"the engine cannot evaluate {correlation.type} correlation '{correlation.title}' "
            "(supported: event_count, value_count, value_sum, value_avg, value_percentile, value_median, "
            "and temporal and temporal_ordered over all their rules)",
            source=correlation.source,
        )
    rules = [_copy_reference(reference) for reference in references]
    return AggregateCorrelationRule(
        title=correlation.title,
        id=correlation.id,
        name=correlation.name,
        level=correlation.level,
        description=correlation.description,
        tags=correlation.tags,
        source=correlation.source,
        custom_attributes=dict(correlation.custom_attributes),  # `risk`, for the alerts
        rules=rules,
        group_by=list(correlation.group_by or []),
        # Sigma (and pySigma's backends' `stats ... by`): events without a group-by value never correlate
        group_missing=None,
        timespan=correlation.timespan,
        window=_window(correlation),
        aliases=correlation.aliases,
        generate=correlation.generate,
        metrics=metrics,
        condition=expression,
        condition_text=to_text(expression),
    )


def _percentile(correlation: SigmaCorrelationRule, condition: SigmaCorrelationCondition) -> float:
    """The rank of a value_percentile (its condition's ``percentile``, 0 to 100); 50 for value_median."""
    if correlation.type is SigmaCorrelationType.VALUE_MEDIAN:
        return 50.0
    if condition.percentile is None or not 0 <= condition.percentile <= 100:
        raise UnsupportedCorrelationError(
            f"value_percentile correlation '{correlation.title}' needs `percentile: P` (0 to 100) in its "
            f"condition{'' if condition.percentile is None else f', not {condition.percentile}'}",
            source=correlation.source,
        )
    return float(condition.percentile)


def _window(correlation: SigmaCorrelationRule) -> WindowKind:
    written = correlation.custom_attributes.get(WINDOW_ATTRIBUTE, WindowKind.TUMBLING.value)
    try:
        return WindowKind(written)
    except ValueError:
        raise UnsupportedCorrelationError(
            f"correlation '{correlation.title}': `{WINDOW_ATTRIBUTE}: {written}` is not a window "
            f"(one of: {', '.join(kind.value for kind in WindowKind)})",
            source=correlation.source,
        ) from None


def _all_rules_required(correlation: SigmaCorrelationRule, references: list[SigmaRuleReference]) -> bool:
    condition = correlation.condition
    return (
        isinstance(condition, SigmaCorrelationCondition)
        and condition.op is SigmaCorrelationConditionOperator.GTE
        and condition.count == len(references)
    )


def _copy_reference(reference: SigmaRuleReference) -> SigmaRuleReference:
    copy = SigmaRuleReference(reference.reference)
    copy.rule = reference.rule
    return copy


def _number(value: int | float) -> Number:
    return Number(float(value), str(value))
