"""Correlation state: `aggregate` rules compiled once into plans that fold events into per-window,
per-group state and evaluate it when the window is complete.

State per (window, group) is mergeable: with a collapse it is the dict of collapsed rows (collapse
key -> earliest time and event ids), otherwise one accumulator per metric. Windows are tumbling and
aligned to the Unix epoch; collapse buckets are aligned the same way and nest inside windows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sigma.rule import SigmaDetections, SigmaRule
from sigma.rule.logsource import EmptyLogSource

from sigma.pipelines.okta.model import AggregateCorrelationRule, Metric, MetricKind, Where
from sigma.pipelines.okta.semantics import NULL_TEXT, text_of

from .accumulators import new_accumulator
from .alerts import CorrelationAlert
from .evaluate import compile_expression
from .fields import MISSING, Getter, compile_field
from .matcher import compile_rule, string_fields
from .timestamps import format_time

US = 1_000_000
StoreKey = tuple[int, tuple[str, ...]]  # (window number, group texts)
Store = dict[int, dict[tuple[str, ...], "GroupState"]]  # window number -> group texts -> state


class GroupState:
    """What one group has gathered in one window.

    With a collapse: ``rows`` maps (rule mask, bucket, field texts...) to [earliest time, event ids].
    Without: ``accumulators`` (one per metric, then one per output field), ``event_ids`` and ``first_us``.
    """

    __slots__ = ("accumulators", "event_ids", "first_us", "rows")

    def __init__(self, accumulators: list[Any] | None):
        self.rows: dict[tuple, list] = {}
        self.accumulators = accumulators
        self.event_ids: list[str] = []
        self.first_us: int | None = None

    def merge(self, other: GroupState) -> None:
        rows = self.rows
        for key, (time_us, ids) in other.rows.items():
            row = rows.get(key)
            if row is None:
                rows[key] = [time_us, list(ids)]
            else:
                row[0] = min(row[0], time_us)
                row[1].extend(ids)
        if self.accumulators is not None:
            for mine, theirs in zip(self.accumulators, other.accumulators, strict=True):
                mine.merge(theirs)
        self.event_ids.extend(other.event_ids)
        if other.first_us is not None and (self.first_us is None or other.first_us < self.first_us):
            self.first_us = other.first_us


@dataclass
class MetricPlan:
    name: str
    kind: MetricKind
    field: str | None
    rule_bits: int  # 0: every referenced rule
    where: Callable[[dict], bool] | None
    getters: list[Getter] | None  # per referenced rule (aliases), for events

    def accepts(self, item: dict, mask: int) -> bool:
        if self.rule_bits and not mask & self.rule_bits:
            return False
        return self.where is None or self.where(item)


class AggregatePlan:
    """An `aggregate` correlation compiled for the engine."""

    def __init__(self, rule: AggregateCorrelationRule, order: int):
        self.rule = rule
        self.order = order
        self.span_us = rule.timespan.seconds * US
        self.collapse = rule.collapse
        self.collapse_us = rule.collapse.span.seconds * US if rule.collapse else 0
        self.missing = rule.collapse.missing if rule.collapse else None
        count = len(rule.rules)
        # the field getters of an event depend on which rule it matched (aliases): index by that rule
        self.primary_rule = [_lowest_bit(mask) for mask in range(1 << count)]
        self.group_getters = [
            [compile_field(rule.event_field(f, r)) for f in rule.group_by] for r in range(count)
        ]
        self.collapse_getters = [
            [compile_field(rule.event_field(f, r)) for f in (rule.collapse.fields if rule.collapse else ())]
            for r in range(count)
        ]
        self.uuid = compile_field("uuid")
        self.metrics = [self._plan(metric) for metric in (*rule.metrics, *rule.outputs)]
        # fields that `where` compares as strings (an object there is rendered as text and reported)
        self.string_fields: frozenset[str] = frozenset().union(
            *(string_fields(where_rule(m.where)) for m in (*rule.metrics, *rule.outputs) if m.where)
        )
        self.metric_count = len(rule.metrics)
        self.derived = [(derived.name, compile_expression(derived.expression)) for derived in rule.derived]
        self.condition = compile_expression(rule.condition)
        risk = rule.custom_attributes.get("risk")
        self.risk = dict(risk) if isinstance(risk, dict) else None

    def _plan(self, metric: Metric) -> MetricPlan:
        rule = self.rule
        bits = 1 << rule.rule_index(metric.rule) if metric.rule is not None else 0
        getters = None
        if metric.field is not None:
            getters = [compile_field(rule.event_field(metric.field, r)) for r in range(len(rule.rules))]
        return MetricPlan(metric.name, metric.kind, metric.field, bits, _compile_where(metric.where), getters)

    def new_state(self) -> GroupState:
        if self.collapse is not None:
            return GroupState(None)
        return GroupState([new_accumulator(metric.kind) for metric in self.metrics])

    # --- per event: keep this path short ----------------------------------------------------------

    def add(self, store: Store, event: dict, mask: int, time_us: int) -> None:
        primary = self.primary_rule[mask]
        group = tuple([_group_text(getter(event)) for getter in self.group_getters[primary]])
        window = time_us // self.span_us
        groups = store.get(window)
        if groups is None:
            groups = store[window] = {}
        state = groups.get(group)
        if state is None:
            state = groups[group] = self.new_state()
        event_id = self.uuid(event)
        if self.collapse is not None:
            missing = self.missing
            row_key = (
                mask,
                time_us // self.collapse_us,
                *[_collapse_text(getter(event), missing) for getter in self.collapse_getters[primary]],
            )
            row = state.rows.get(row_key)
            if row is None:
                state.rows[row_key] = [time_us, [event_id]]
            else:
                if time_us < row[0]:
                    row[0] = time_us
                row[1].append(event_id)
            return
        for metric, accumulator in zip(self.metrics, state.accumulators, strict=False):
            if metric.accepts(event, mask):
                value = metric.getters[primary](event) if metric.getters is not None else None
                accumulator.add(None if value is MISSING else value, time_us)
        state.event_ids.append(event_id)
        if state.first_us is None or time_us < state.first_us:
            state.first_us = time_us

    # --- per complete window ----------------------------------------------------------------------

    def evaluate(
        self, key: StoreKey, state: GroupState, every_group: bool = False
    ) -> CorrelationAlert | None:
        """The alert of a complete group, or None when the condition does not hold. With
        ``every_group`` a result is returned either way (``condition`` tells), for differential tests."""
        window, group = key
        if self.collapse is not None:
            accumulators, event_ids, first_us = self._fold_rows(group, state)
        else:
            accumulators, event_ids, first_us = state.accumulators, state.event_ids, state.first_us
        results = [accumulator.result() for accumulator in accumulators]
        environment: dict[str, Any] = {}
        for metric, result in zip(self.metrics[: self.metric_count], results, strict=False):
            seen = metric.kind in (MetricKind.FIRST_SEEN, MetricKind.LAST_SEEN)
            environment[metric.name] = result / US if seen and result is not None else result
        for name, compute in self.derived:
            environment[name] = compute(environment)
        holds = self.condition(environment) is True
        if not holds and not every_group:
            return None
        metrics = {}
        for metric, result in zip(self.metrics[: self.metric_count], results, strict=False):
            seen = metric.kind in (MetricKind.FIRST_SEEN, MetricKind.LAST_SEEN)
            metrics[metric.name] = format_time(result) if seen and result is not None else result
        metrics.update({name: environment[name] for name, _ in self.derived})
        fields = {
            metric.name: result
            for metric, result in zip(
                self.metrics[self.metric_count :], results[self.metric_count :], strict=False
            )
        }
        rule = self.rule
        alert = CorrelationAlert(
            rule_id=str(rule.id) if rule.id else None,
            rule_title=rule.title,
            level=str(rule.level) if rule.level else None,
            group=dict(zip(rule.group_by, group, strict=False)),
            window_start_us=window * self.span_us,
            window_end_us=(window + 1) * self.span_us,
            first_seen_us=first_us,
            metrics=metrics,
            fields=fields,
            event_ids=sorted({event_id for event_id in event_ids if isinstance(event_id, str)}),
            order=(window, self.order, group),
            condition=holds,
        )
        if self.risk is not None:
            alert.risk = {**self.risk, "objects": fields.get(self.risk.get("object"), [])}
        return alert

    def _fold_rows(self, group: tuple[str, ...], state: GroupState) -> tuple[list[Any], list[Any], int]:
        """Metrics over collapsed rows. A row is seen as the flat mapping of the group-by and collapse
        fields (as after Splunk's `stats ... by`), with missing values already filled."""
        accumulators = [new_accumulator(metric.kind) for metric in self.metrics]
        event_ids: list[Any] = []
        first_us = None
        base_view = dict(zip(self.rule.group_by, group, strict=False))
        names = self.collapse.fields
        for (mask, _bucket, *texts), (time_us, ids) in state.rows.items():
            view = {**base_view, **dict(zip(names, texts, strict=False))}
            for metric, accumulator in zip(self.metrics, accumulators, strict=False):
                if metric.accepts(view, mask):
                    accumulator.add(view.get(metric.field) if metric.field is not None else None, time_us)
            event_ids.extend(ids)
            if first_us is None or time_us < first_us:
                first_us = time_us
        return accumulators, event_ids, first_us


def merge_stores(target: Store, other: Store) -> None:
    for window, groups in other.items():
        mine = target.setdefault(window, {})
        for group, state in groups.items():
            existing = mine.get(group)
            if existing is None:
                mine[group] = state
            else:
                existing.merge(state)


def _group_text(value: Any) -> str:
    if value.__class__ is str:
        return value
    text = None if value is MISSING else text_of(value)
    return NULL_TEXT if text is None else text


def _collapse_text(value: Any, missing: str | None) -> str | None:
    if value.__class__ is str:
        return value
    text = None if value is MISSING else text_of(value)
    return missing if text is None else text


def _lowest_bit(mask: int) -> int:
    return (mask & -mask).bit_length() - 1 if mask else 0


def where_rule(where: Where) -> SigmaRule:
    """A metric's `where` as a Sigma rule of one detection, so that the base-rule matcher compiles it."""
    detections = SigmaDetections(detections={"where": where.detection}, condition=["where"])
    return SigmaRule(title="where", logsource=EmptyLogSource(), detection=detections)


def _compile_where(where: Where | None) -> Callable[[dict], bool] | None:
    return None if where is None else compile_rule(where_rule(where))
