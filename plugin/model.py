"""The rule model of the `aggregate` correlation, shared by the engine and every conversion target.

An aggregate correlation groups the events of its referenced rules by the ``group-by`` fields in
tumbling, epoch-aligned windows of ``timespan``, optionally collapses near-duplicate events first,
computes named metrics per group, derives values from them and alerts when the condition holds.
See ``docs/aggregate-correlation.md`` for the language and :mod:`.semantics` for its value rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sigma.correlations import SigmaCorrelationFieldAliases, SigmaCorrelationTimespan, SigmaRuleReference
from sigma.rule import SigmaDetection, SigmaDetections, SigmaLogSource, SigmaRule, SigmaRuleBase
from sigma.rule.logsource import EmptyLogSource

from .expression import Expression, ValueType


class MetricKind(Enum):
    COUNT = "count"  # rows that pass the metric's filter
    DISTINCT = "distinct"  # distinct non-null texts of a field
    SUM = "sum"
    MIN = "min"
    MAX = "max"
    AVG = "avg"
    VALUES = "values"  # the sorted set of a field's texts
    FIRST_SEEN = "first_seen"  # earliest event time (epoch seconds in expressions)
    LAST_SEEN = "last_seen"
    # of Sigma's standard types only (not in the `aggregate` schema):
    PERCENTILE = "percentile"  # linear interpolation between the closest ranks (Metric.percentile)
    IN_ORDER = "in_order"  # how many of the referenced rules, from the first, occur in their order

    @property
    def needs_field(self) -> bool:
        return self not in (
            MetricKind.COUNT,
            MetricKind.FIRST_SEEN,
            MetricKind.LAST_SEEN,
            MetricKind.IN_ORDER,
        )

    @property
    def value_type(self) -> ValueType:
        return ValueType.LIST if self is MetricKind.VALUES else ValueType.NUMBER

    @property
    def numeric_input(self) -> bool:
        """Kinds that read a field's values as numbers (other values are ignored)."""
        return self in (MetricKind.SUM, MetricKind.MIN, MetricKind.MAX, MetricKind.AVG, MetricKind.PERCENTILE)


class WindowKind(Enum):
    """How ``timespan`` places the events that a condition sees together (docs/semantics.md)."""

    TUMBLING = "tumbling"  # epoch-aligned windows of ``timespan``, one evaluation per window and group
    SLIDING = "sliding"  # every span of ``timespan`` that ends at an event of the group


@dataclass(frozen=True)
class Where:
    """A Sigma detection that restricts a metric, with the mapping as written (for messages and rendering)."""

    detection: SigmaDetection
    definition: dict[str, Any]

    def as_rule(self, logsource: SigmaLogSource | None = None) -> SigmaRule:
        """The detection as a one-detection Sigma rule, so that the base-rule matcher compiles it and
        processing pipelines (given the referenced rules' log source) map it like those rules."""
        detections = SigmaDetections(detections={"where": self.detection}, condition=["where"])
        return SigmaRule(title="where", logsource=logsource or EmptyLogSource(), detection=detections)


@dataclass
class Metric:
    """A named aggregate over the rows of one group and window.

    ``rule`` restricts the metric to events of one referenced rule (by its reference as written in
    ``rules``), ``where`` to events that match a Sigma detection. ``field`` may be an alias name.
    ``percentile`` (0 to 100) is the rank a ``percentile`` metric reads.
    """

    name: str
    kind: MetricKind
    field: str | None = None
    rule: str | None = None
    where: Where | None = None
    percentile: float | None = None

    @property
    def filtered(self) -> bool:
        return self.rule is not None or self.where is not None


@dataclass(frozen=True)
class Derived:
    """A named value computed from metrics and earlier derived values."""

    name: str
    expression: Expression
    text: str
    value_type: ValueType


@dataclass(frozen=True)
class Collapse:
    """Rows of one group that share every ``fields`` value within one epoch-aligned ``span`` bucket count
    once and keep the earliest time. Missing values become ``missing`` (Splunk's ``fillnull``)."""

    span: SigmaCorrelationTimespan
    fields: tuple[str, ...]
    missing: str | None = "NULL"


@dataclass
class AggregateCorrelationRule(SigmaRuleBase):
    """A Sigma correlation rule of type ``aggregate`` (a sigma-okta extension)."""

    rules: list[SigmaRuleReference] = field(default_factory=list)
    group_by: list[str] = field(default_factory=list)
    #: the text of a missing group-by value, so that such events form one group (Splunk's `fillnull
    #: value=NULL` before `stats ... by`, the `aggregate` default); None: events that lack a group-by
    #: value are not correlated (Sigma's reading, used for the standard correlation types)
    group_missing: str | None = "NULL"
    timespan: SigmaCorrelationTimespan = field(default_factory=lambda: SigmaCorrelationTimespan("1h"))
    window: WindowKind = WindowKind.TUMBLING
    aliases: SigmaCorrelationFieldAliases = field(default_factory=SigmaCorrelationFieldAliases)
    generate: bool = False
    collapse: Collapse | None = None
    metrics: list[Metric] = field(default_factory=list)
    derived: list[Derived] = field(default_factory=list)
    condition: Expression | None = None
    condition_text: str = ""
    outputs: list[Metric] = field(default_factory=list)

    correlation_type = "aggregate"

    @property
    def referenced_rules(self) -> list[SigmaRule]:
        """The resolved base rules, in the order of ``rules``."""
        return [reference.rule for reference in self.rules]

    def rule_index(self, reference: str) -> int:
        """Position in ``rules`` of a reference as written (by name or id)."""
        for index, candidate in enumerate(self.rules):
            if candidate.reference == reference:
                return index
        raise KeyError(reference)

    def event_field(self, name: str, rule_index: int) -> str:
        """The event field that a (possibly aliased) field name reads for events of one rule."""
        alias = self.aliases.aliases.get(name)
        if alias is None:
            return name
        reference = self.rules[rule_index]
        for alias_reference, event_field in alias.mapping.items():
            if alias_reference.reference == reference.reference:
                return event_field
        return name

    def symbol_types(self) -> dict[str, ValueType]:
        """Types of every name a condition may use: metrics, then derived values."""
        symbols = {metric.name: metric.kind.value_type for metric in self.metrics}
        symbols.update({derived.name: derived.value_type for derived in self.derived})
        return symbols

    def fields_read(self) -> list[str]:
        """Every (possibly aliased) field name the correlation reads, in a stable order."""
        names: dict[str, None] = {}
        for name in self.group_by:
            names.setdefault(name)
        if self.collapse is not None:
            for name in self.collapse.fields:
                names.setdefault(name)
        for metric in (*self.metrics, *self.outputs):
            if metric.field is not None:
                names.setdefault(metric.field)
            if metric.where is not None:
                for item_field in detection_fields(metric.where.detection):
                    names.setdefault(item_field)
        return list(names)


def detection_fields(detection: SigmaDetection) -> list[str]:
    """Field names used by a (possibly nested) Sigma detection."""
    found: list[str] = []
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            found.extend(detection_fields(item))
        elif item.field is not None:
            found.append(item.field)
    return found
