"""Correlation state: `aggregate` rules compiled once into plans that fold events into per-window,
per-group state and evaluate it when the window is complete.

State per (window, group) is mergeable: the ids of its events, and with a collapse the dict of
collapsed rows (collapse key -> earliest time), otherwise one accumulator per metric. Windows are
tumbling and aligned to the Unix epoch; collapse buckets are aligned the same way and nest inside
windows.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sigma.pipelines.okta.model import (
    AggregateCorrelationRule,
    Metric,
    MetricKind,
    Where,
    WindowKind,
    detection_fields,
)
from sigma.pipelines.okta.semantics import text_of

from .accumulators import accumulator_for, new_accumulator
from .alerts import CorrelationAlert, risk_record
from .evaluate import compile_expression
from .fields import MISSING, Getter, compile_extractor, compile_field
from .matcher import compile_rule, string_fields
from .timestamps import format_time

US = 1_000_000
StoreKey = tuple[int, tuple[str, ...]]  # (window number, group texts)
Store = dict[int, dict[tuple[str, ...], "GroupState"]]  # window number -> group texts -> state


class GroupState:
    """What one group has gathered in one window: the ids of its events, and

    with a collapse, ``rows``: (rule mask, bucket, field texts...) -> earliest time (epoch µs);
    without, ``accumulators`` (one per metric, then one per output field) and ``first_us``.
    """

    __slots__ = ("accumulators", "event_ids", "first_us", "rows")

    def __init__(self, accumulators: list[Any] | None):
        self.rows: dict[tuple, int] = {}
        self.accumulators = accumulators
        self.event_ids: list[Any] = []
        self.first_us: int | None = None

    def merge(self, other: GroupState) -> None:
        rows = self.rows
        for key, time_us in other.rows.items():
            earliest = rows.get(key)
            if earliest is None or time_us < earliest:
                rows[key] = time_us
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
    source: Metric

    @property
    def reads_mask(self) -> bool:
        """An ``in_order`` metric reads which rules an event matched, not a field."""
        return self.kind is MetricKind.IN_ORDER

    def accepts(self, item: dict, mask: int) -> bool:
        if self.rule_bits and not mask & self.rule_bits:
            return False
        return self.where is None or self.where(item)


class AggregatePlan:
    """An `aggregate` correlation compiled for the engine."""

    def __init__(self, rule: AggregateCorrelationRule, order: int, id_field: str = "uuid"):
        self.rule = rule
        self.order = order
        self.span_us = rule.timespan.seconds * US
        self.collapse = rule.collapse
        self.collapse_us = rule.collapse.span.seconds * US if rule.collapse else 0
        self.missing = rule.collapse.missing if rule.collapse else None
        count = len(rule.rules)
        # the field getters of an event depend on which rule it matched (aliases): index by that rule
        self.primary_rule = [_lowest_bit(mask) for mask in range(1 << count)]
        # one generated extractor per rule (aliases can make the fields differ by rule), values as texts
        group_missing = rule.group_missing
        self.group_keys = [
            compile_extractor(
                [rule.event_field(f, r) for f in rule.group_by],
                lambda value: _collapse_text(value, group_missing),
            )
            for r in range(count)
        ]
        # None in a group key: an event without a group-by value, which a standard correlation skips
        self.skips_incomplete_groups = group_missing is None and bool(rule.group_by)
        collapse_fields = rule.collapse.fields if rule.collapse else ()
        missing = self.missing
        self.collapse_keys = [
            compile_extractor(
                [rule.event_field(f, r) for f in collapse_fields],
                lambda value: _collapse_text(value, missing),
            )
            for r in range(count)
        ]
        self.uuid = compile_field(id_field)
        self.metrics = [self._plan(metric) for metric in (*rule.metrics, *rule.outputs)]
        # fields that `where` compares as strings (an object there is rendered as text and reported)
        self.string_fields: frozenset[str] = frozenset().union(
            *(string_fields(m.where.as_rule()) for m in (*rule.metrics, *rule.outputs) if m.where)
        )
        if rule.collapse is not None:
            where_fields = [
                detection_fields(metric.where.detection) if metric.where else []
                for metric in (*rule.metrics, *rule.outputs)
            ]
            self.row_folder = RowFolder(
                self.metrics, where_fields, [*rule.group_by, *rule.collapse.fields], len(rule.group_by)
            )
        self.metric_count = len(rule.metrics)
        self.metric_names = [metric.name for metric in rule.metrics]
        self.time_metrics = [
            index
            for index, metric in enumerate(rule.metrics)
            if metric.kind in (MetricKind.FIRST_SEEN, MetricKind.LAST_SEEN)
        ]
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
        return MetricPlan(
            metric.name, metric.kind, metric.field, bits, _compile_where(metric.where), getters, metric
        )

    def new_state(self) -> GroupState:
        if self.collapse is not None:
            return GroupState(None)
        rules = len(self.rule.rules)
        return GroupState([accumulator_for(metric.source, rules) for metric in self.metrics])

    # --- per event: keep this path short ----------------------------------------------------------

    def add(self, store: Store, event: dict, mask: int, time_us: int) -> None:
        primary = self.primary_rule[mask]
        group = self.group_keys[primary](event)
        if self.skips_incomplete_groups and None in group:
            return
        window = time_us // self.span_us
        groups = store.get(window)
        if groups is None:
            groups = store[window] = {}
        state = groups.get(group)
        if state is None:
            state = groups[group] = self.new_state()
        event_id = self.uuid(event)
        if self.collapse is not None:
            row_key = (mask, time_us // self.collapse_us, *self.collapse_keys[primary](event))
            earliest = state.rows.get(row_key)
            if earliest is None or time_us < earliest:
                state.rows[row_key] = time_us
            state.event_ids.append(event_id)
            return
        for metric, accumulator in zip(self.metrics, state.accumulators, strict=False):
            if metric.accepts(event, mask):
                if metric.reads_mask:
                    accumulator.add(mask, time_us)
                    continue
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
            results = self._fold_rows(group, state)
        else:
            results = [accumulator.result() for accumulator in state.accumulators]
        holds = self._holds(results)
        if not holds and not every_group:
            return None
        return self._alert(
            group,
            results,
            holds,
            window_start_us=window * self.span_us,
            window_end_us=(window + 1) * self.span_us,
            first_us=min(state.rows.values()) if self.collapse is not None else state.first_us,
            event_ids=state.event_ids,
            order=(window, self.order, group),
        )

    def _environment(self, results: list[Any]) -> dict[str, Any]:
        """Metrics (times as seconds) and derived values, as the condition reads them."""
        # results hold the metrics, then the output fields, which the condition does not read
        environment = dict(zip(self.metric_names, results, strict=False))
        for index in self.time_metrics:  # times are seconds in expressions
            if results[index] is not None:
                environment[self.metric_names[index]] = results[index] / US
        for name, compute in self.derived:
            environment[name] = compute(environment)
        return environment

    def _holds(self, results: list[Any]) -> bool:
        return self.condition(self._environment(results)) is True

    def _alert(
        self,
        group: tuple[str, ...],
        results: list[Any],
        holds: bool,
        *,
        window_start_us: int,
        window_end_us: int,
        first_us: int | None,
        event_ids: list[Any],
        order: tuple,
    ) -> CorrelationAlert:
        environment = self._environment(results)
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
            window_start_us=window_start_us,
            window_end_us=window_end_us,
            first_seen_us=first_us,
            metrics=metrics,
            fields=fields,
            event_ids=sorted({event_id for event_id in event_ids if isinstance(event_id, str)}),
            order=order,
            condition=holds,
        )
        if self.risk is not None:
            alert.risk = risk_record(self.risk, fields, alert.group)
        return alert

    def complete(
        self, store: Store, ripe: Callable[[AggregatePlan, int], bool], every_group: bool
    ) -> list[CorrelationAlert]:
        """Evaluate and forget the ripe windows of ``store``."""
        alerts = []
        for window in sorted(window for window in store if ripe(self, window)):
            for group, state in store.pop(window).items():
                alert = self.evaluate((window, group), state, every_group)
                if alert is not None:
                    alerts.append(alert)
        return alerts

    #: whether a (window, group) state needs its neighbouring windows to be evaluated (parallel
    #: workers then hand every state to the parent)
    needs_neighbours = False

    def _fold_rows(self, group: tuple[str, ...], state: GroupState) -> list[Any]:
        """Metric results over the collapsed rows of a group (see :class:`RowFolder`)."""
        return self.row_folder.fold(group, state.rows)


class RowFolder:
    """Metrics over collapsed rows, as one generated function per rule.

    A row is the group-by values followed by the collapse texts, missing values filled (as after
    Splunk's `stats ... by`). Whether a metric takes a row depends only on the row's rule mask and the
    values its `where` reads; rows repeat a handful of those, so the verdicts are remembered per
    combination and each `where` runs once per combination, not once per row. The fold itself is
    generated (counts and text sets as local variables) because it runs for every group.
    """

    MEMO_LIMIT = 1 << 16

    def __init__(
        self, metrics: list[MetricPlan], where_fields: list[list[str]], names: list[str], groups: int
    ):
        self.names = names
        self.metrics = [
            (
                metric.rule_bits,
                metric.where,
                None if metric.field is None else _last_index(names, metric.field),
            )
            for metric in metrics
        ]
        self.memo: dict[tuple, tuple[bool, ...]] = {}
        positions = sorted({_last_index(names, name) for fields in where_fields for name in fields})
        self.fold = self._generate([metric.kind for metric in metrics], positions, groups)

    def verdicts(self, mask: int, values: tuple, key: tuple) -> tuple[bool, ...]:
        """Whether each metric takes a row with this mask and these values (remembered by ``key``)."""
        if len(self.memo) >= self.MEMO_LIMIT:
            self.memo.clear()
        view = dict(zip(self.names, values, strict=True))
        answer = self.memo[key] = tuple(
            bool((not rule_bits or mask & rule_bits) and (where is None or where(view)))
            for rule_bits, where, _ in self.metrics
        )
        return answer

    def _generate(self, kinds: list[MetricKind], where_positions: list[int], groups: int) -> Any:
        def value(position: int | None) -> str:
            if position is None:
                return "None"
            return f"group[{position}]" if position < groups else f"key[{2 + position - groups}]"

        memo_key = ", ".join(["key[0]", *(value(position) for position in where_positions)])
        lines = ["def fold(group, rows):"]
        results = []
        for index, kind in enumerate(kinds):
            if kind is MetricKind.COUNT:
                lines.append(f"    r{index} = 0")
                results.append(f"r{index}")
            elif kind in (MetricKind.DISTINCT, MetricKind.VALUES):
                lines.append(f"    r{index} = set()")
                results.append(f"len(r{index})" if kind is MetricKind.DISTINCT else f"sorted(r{index})")
            else:
                lines.append(f"    r{index} = new_accumulator(KINDS[{index}])")
                results.append(f"r{index}.result()")
        lines += [
            "    for key, time_us in rows.items():",
            f"        memo_key = ({memo_key},)",
            "        flags = memo.get(memo_key)",
            "        if flags is None:",
            "            flags = verdicts(key[0], (*group, *key[2:]), memo_key)",
        ]
        for index, kind in enumerate(kinds):
            position = self.metrics[index][2]
            lines.append(f"        if flags[{index}]:")
            if kind is MetricKind.COUNT:
                lines.append(f"            r{index} += 1")
            elif kind in (MetricKind.DISTINCT, MetricKind.VALUES):
                lines.append(f"            v = {value(position)}")
                lines.append(f"            if v is not None: r{index}.add(v)")
            else:
                lines.append(f"            r{index}.add({value(position)}, time_us)")
        lines.append(f"    return [{', '.join(results)}]")
        scope = {
            "memo": self.memo,
            "verdicts": self.verdicts,
            "new_accumulator": new_accumulator,
            "KINDS": kinds,
        }
        exec("\n".join(lines), scope)  # generated from the rule's structure only: no rule or event text
        return scope["fold"]


class SlidingState:
    """What one group has gathered in one pane (a window of ``timespan``, epoch-aligned): its events as
    (time, event id, per metric the value it takes or :data:`SKIP`), merged by concatenation."""

    __slots__ = ("evaluated", "records")

    def __init__(self) -> None:
        self.records: list[tuple[int, Any, tuple]] = []
        self.evaluated = False  # its points have been evaluated; it stays as the frames of later ones

    def merge(self, other: SlidingState) -> None:
        self.records.extend(other.records)


SKIP = object()  # a metric that does not take an event (its rule or `where` does not match)


class SlidingPlan(AggregatePlan):
    """A correlation whose condition is tested over every span of ``timespan`` ending at an event.

    The frame of an evaluation point p (a distinct event time of the group) holds the group's events in
    (p - timespan, p]. The group alerts at p when the condition holds there and did not hold at the
    group's previous point, if that point is less than ``timespan`` before p (their frames overlap):
    one alert per run of overlapping satisfied spans, at its first point (docs/semantics.md).

    Memory is bounded: events are kept in panes of ``timespan``; a point of pane w reads panes w-1 and
    w, and its previous point's frame pane w-2, so three panes per group are kept, and a pane is dropped
    once the pane two after it has been evaluated. Each frame is folded afresh (no subtraction of
    floating-point sums), so the metrics are those of a plain aggregation over the frame's events.
    """

    needs_neighbours = True

    def __init__(self, rule: AggregateCorrelationRule, order: int, id_field: str = "uuid"):
        if rule.collapse is not None:
            raise ValueError("a sliding window with a collapse")  # the loader does not build one
        super().__init__(rule, order, id_field)

    def new_state(self) -> SlidingState:
        return SlidingState()

    def add(self, store: Store, event: dict, mask: int, time_us: int) -> None:
        primary = self.primary_rule[mask]
        group = self.group_keys[primary](event)
        if self.skips_incomplete_groups and None in group:
            return
        values = []
        for metric in self.metrics:
            if not metric.accepts(event, mask):
                values.append(SKIP)
            elif metric.reads_mask:
                values.append(mask)
            elif metric.getters is not None:
                value = metric.getters[primary](event)
                values.append(None if value is MISSING else value)
            else:
                values.append(None)
        pane = time_us // self.span_us
        groups = store.get(pane)
        if groups is None:
            groups = store[pane] = {}
        state = groups.get(group)
        if state is None:
            state = groups[group] = SlidingState()
        state.records.append((time_us, self.uuid(event), tuple(values)))

    def complete(
        self, store: Store, ripe: Callable[[AggregatePlan, int], bool], every_group: bool
    ) -> list[CorrelationAlert]:
        def evaluated(pane: int) -> bool:
            return any(state.evaluated for state in store[pane].values())

        panes = sorted(pane for pane in store if ripe(self, pane) and not evaluated(pane))
        alerts = []
        for pane in panes:
            for group, state in store[pane].items():
                records = [
                    record
                    for earlier in (pane - 2, pane - 1)
                    if group in store.get(earlier, {})
                    for record in store[earlier][group].records
                ]
                records.extend(state.records)
                alerts.extend(self._evaluate_pane(pane, group, records, every_group))
            for state in store[pane].values():
                state.evaluated = True  # later events of this pane are late (the runner's watermark)
        done = [pane for pane in store if evaluated(pane)]
        if done:
            last = max(done)
            # pane last + 1 reads panes last - 1 and last; nothing reads earlier ones any more
            for pane in [pane for pane in store if pane < last - 1]:
                del store[pane]
        return alerts

    def _evaluate_pane(
        self, pane: int, group: tuple[str, ...], records: list, every_group: bool
    ) -> list[CorrelationAlert]:
        records.sort(key=lambda record: record[0])
        times = [record[0] for record in records]
        span = self.span_us
        pane_start = pane * span
        points = sorted(set(times))
        alerts = []
        verdicts: dict[int, bool] = {}

        def holds_at(point: int) -> tuple[bool, list[Any], int, int]:
            start = bisect_right(times, point - span)
            end = bisect_right(times, point)
            accumulators = [accumulator_for(metric.source, len(self.rule.rules)) for metric in self.metrics]
            for time_us, _, values in records[start:end]:
                for accumulator, value in zip(accumulators, values, strict=True):
                    if value is not SKIP:
                        accumulator.add(value, time_us)
            results = [accumulator.result() for accumulator in accumulators]
            return self._holds(results), results, start, end

        for index, point in enumerate(points):
            if point < pane_start:
                continue
            holds, results, start, end = holds_at(point)
            verdicts[point] = holds
            previous = points[index - 1] if index else None
            continued = False
            if previous is not None and point - previous < span:
                if previous not in verdicts:
                    verdicts[previous] = holds_at(previous)[0]
                continued = verdicts[previous]
            alerting = holds and not continued
            if not alerting and not every_group:
                continue
            frame = records[start:end]
            alerts.append(
                self._alert(
                    group,
                    results,
                    alerting,
                    window_start_us=point - span + 1,
                    window_end_us=point + 1,
                    first_us=frame[0][0],
                    event_ids=[record[1] for record in frame],
                    order=(point, self.order, group),
                )
            )
        return alerts


def compile_plan(rule: AggregateCorrelationRule, order: int, id_field: str = "uuid") -> AggregatePlan:
    """The engine's plan of a correlation: tumbling or sliding windows, as the rule says."""
    if rule.window is WindowKind.SLIDING:
        return SlidingPlan(rule, order, id_field)
    return AggregatePlan(rule, order, id_field)


def merge_stores(target: Store, other: Store) -> None:
    for window, groups in other.items():
        mine = target.setdefault(window, {})
        for group, state in groups.items():
            existing = mine.get(group)
            if existing is None:
                mine[group] = state
            else:
                existing.merge(state)


def _collapse_text(value: Any, missing: str | None) -> str | None:
    text = None if value is MISSING else text_of(value)
    return missing if text is None else text


def _last_index(names: list[str], name: str) -> int:
    """A collapse field that is also a group-by field is read as the collapse sees it (as in the view)."""
    return len(names) - 1 - names[::-1].index(name)


def _lowest_bit(mask: int) -> int:
    return (mask & -mask).bit_length() - 1 if mask else 0


def _compile_where(where: Where | None) -> Callable[[dict], bool] | None:
    return None if where is None else compile_rule(where.as_rule())
