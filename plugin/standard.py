"""Standard Sigma correlations expressed in the `aggregate` model, so that one engine evaluates both.

event_count, value_count, value_sum, value_avg and temporal (all referenced rules seen) map exactly
onto metrics and a condition. temporal_ordered, value_percentile and value_median do not: they raise
:class:`UnsupportedCorrelationError` naming the type. Windows are the engine's tumbling, epoch-aligned
windows of ``timespan`` (the Sigma specification leaves window placement to the backend).
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
from .model import AggregateCorrelationRule, Metric, MetricKind

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
}


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
        metrics = [Metric(name, kind, field=field if kind is not MetricKind.COUNT else None)]
        expression: Expression = Comparison(_OPERATORS[condition.op], Name(name), _number(condition.count))
    elif correlation.type is SigmaCorrelationType.TEMPORAL and _all_rules_required(correlation, references):
        metrics = [
            Metric(f"rule_{index}_count", MetricKind.COUNT, rule=reference.reference)
            for index, reference in enumerate(references)
        ]
        parts = tuple(Comparison(">", Name(metric.name), _number(0)) for metric in metrics)
        expression = parts[0] if len(parts) == 1 else And(parts)
    else:
        raise UnsupportedCorrelationError(
            f"the engine cannot evaluate {correlation.type} correlation '{correlation.title}' "
            "(supported: event_count, value_count, value_sum, value_avg, temporal over all its rules)",
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
        aliases=correlation.aliases,
        generate=correlation.generate,
        metrics=metrics,
        condition=expression,
        condition_text=to_text(expression),
    )


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
