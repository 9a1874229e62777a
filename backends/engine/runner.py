"""The engine: compile a rule pack once, stream event sources through it, emit alerts.

Per event the path is short (see ``../shared/DESIGN.md``)::

    bytes -> rule-derived literal prefilter -> decode the line -> base-rule predicates -> event time
          -> window -> collapse key -> correlation state -> (window complete) -> condition -> alert

Large regular files are split into byte ranges at line starts and read by one worker process per
core; the workers' correlation states are merged exactly (see :mod:`.accumulators`) before the windows
are evaluated, so a parallel run gives the same alerts as a sequential one.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sigma.rule import SigmaRule

from sigma.pipelines.okta.loader import RulePack
from sigma.pipelines.okta.semantics import text_of
from sigma.pipelines.okta.standard import as_aggregate

from .alerts import Alert, CorrelationAlert, MatchAlert
from .correlation import AggregatePlan, Store, merge_stores
from .decoding import decode_line
from .fields import MISSING, compile_field
from .input_report import InputReport, Reason
from .matcher import compile_rule, string_fields
from .prefilter import LineScanner, necessary_needles
from .sources import Chunk, Source, is_document, iter_chunks, iter_document_events, split_ranges
from .timestamps import BAD_TIME, MISSING_TIME, compile_time_getter


@dataclass
class EngineOptions:
    time_field: str = "published"
    workers: int = 0  # 0: one per core
    allowed_lateness: float | None = None  # seconds; None: keep every window until the end of input
    prefilter: bool = True
    validate_all: bool = False  # decode every line (``--strict``), so every malformed line is counted
    chunk_size: int = 8 << 20
    max_line_bytes: int = 16 << 20
    parallel_min_bytes: int = 32 << 20  # smaller files are not worth a worker process
    every_group: bool = False  # report every group, also those whose condition is false (testing)


@dataclass
class RunResult:
    report: InputReport
    alerts: int = 0
    events_matched: int = 0


class CompiledRules:
    """Everything derived from the rules once, before the first byte is read."""

    def __init__(self, pack: RulePack, options: EngineOptions):
        self.options = options
        self.base_rules: list[SigmaRule] = pack.base_rules
        self.predicates = [compile_rule(rule) for rule in self.base_rules]
        correlations = [*pack.aggregates, *(as_aggregate(rule) for rule in pack.standard_correlations)]
        self.plans = [AggregatePlan(rule, order) for order, rule in enumerate(correlations)]
        # rules that feed a correlation without `generate: true` give no alerts of their own
        self.emits = [rule._output for rule in self.base_rules]
        position = {id(rule): index for index, rule in enumerate(self.base_rules)}
        self.links: list[list[tuple[int, int]]] = [[] for _ in self.base_rules]
        for plan_index, plan in enumerate(self.plans):
            for bit, referenced in enumerate(plan.rule.referenced_rules):
                self.links[position[id(referenced)]].append((plan_index, 1 << bit))
        self.scanner = self._scanner(options)
        compared = set().union(
            *(string_fields(rule) for rule in self.base_rules), *(p.string_fields for p in self.plans)
        )
        self.string_paths = [name.split(".") for name in sorted(compared)]
        self.time = compile_time_getter(options.time_field)
        self.uuid = compile_field("uuid")
        self.lateness_us = None if options.allowed_lateness is None else int(options.allowed_lateness * 1e6)

    def _scanner(self, options: EngineOptions) -> LineScanner | None:
        if not options.prefilter or options.validate_all:
            return None
        needles = set()
        for rule in self.base_rules:
            derived = necessary_needles(rule)
            if derived is None:
                return None  # one rule can match without any literal: every line is a candidate
            needles |= derived
        return LineScanner(needles) if needles else None


class Scan:
    """The state of one reader (the main process or a worker) over its share of the input."""

    def __init__(self, rules: CompiledRules, report: InputReport, emit: Callable[[Alert], None]):
        self.rules = rules
        self.report = report
        self.emit = emit
        self.stores: list[Store] = [{} for _ in rules.plans]
        self.max_time_us: int | None = None
        self.watermark_us: int | None = None
        self.events_matched = 0

    # --- sources ----------------------------------------------------------------------------------

    def read(self, source: Source, start: int = 0, end: int | None = None) -> None:
        if is_document(source, self.report):
            for offset, event in iter_document_events(source, self.report):
                self.event(event, source, offset, b"")
            return
        options = self.rules.options
        for chunk in iter_chunks(
            source,
            self.report,
            start=start,
            end=end,
            chunk_size=options.chunk_size,
            max_line_bytes=options.max_line_bytes,
        ):
            self.chunk(chunk, source)
            if self.rules.lateness_us is not None:
                self.close_ripe_windows()

    def chunk(self, chunk: Chunk, source: Source) -> None:
        data = chunk.data
        scanner = self.rules.scanner
        spans: Iterable[tuple[int, int]] = (
            scanner.candidate_lines(data) if scanner is not None else _line_spans(data)
        )
        for start, end in spans:
            event, reason = decode_line(data[start:end])
            if reason is not None:
                self.report.add_in_chunk(reason, source, chunk, start, end)
            if event is not None:
                self.event(event, source, chunk.offset + start, data[start:end])

    # --- per event --------------------------------------------------------------------------------

    def event(self, event: dict, source: Source, offset: int, raw: bytes) -> None:
        rules = self.rules
        if rules.string_paths and _objects_to_text(event, rules.string_paths):
            self.report.add(Reason.OBJECT_FOR_STRING, source, offset, raw)
        matched = [index for index, predicate in enumerate(rules.predicates) if predicate(event)]
        if not matched:
            return
        self.events_matched += 1
        time_us = rules.time(event)
        if time_us is MISSING_TIME or time_us is BAD_TIME:
            reason = Reason.MISSING_TIMESTAMP if time_us is MISSING_TIME else Reason.BAD_TIMESTAMP
            self.report.add(reason, source, offset, raw)
            time_us = None
        for index in matched:
            if rules.emits[index]:
                self.emit(self._match_alert(index, event, time_us))
        if time_us is None:
            return
        masks: dict[int, int] = {}
        for index in matched:
            for plan_index, bit in rules.links[index]:
                masks[plan_index] = masks.get(plan_index, 0) | bit
        if not masks:
            return
        if self.watermark_us is not None and self._window_closed(masks, time_us):
            self.report.add(Reason.LATE_EVENT, source, offset, raw)
            return
        if self.max_time_us is None or time_us > self.max_time_us:
            self.max_time_us = time_us
        for plan_index, mask in masks.items():
            plan = rules.plans[plan_index]
            plan.add(self.stores[plan_index], event, mask, time_us)

    def _window_closed(self, masks: dict[int, int], time_us: int) -> bool:
        plans = self.rules.plans
        return any((time_us // plans[i].span_us + 1) * plans[i].span_us <= self.watermark_us for i in masks)

    def _match_alert(self, index: int, event: dict, time_us: int | None) -> MatchAlert:
        rule = self.rules.base_rules[index]
        fields = {}
        for name in rule.fields:
            value = compile_field(name)(event)
            if value is not MISSING:
                fields[name] = value
        event_id = self.rules.uuid(event)
        return MatchAlert(
            rule_id=str(rule.id) if rule.id else None,
            rule_title=rule.title,
            level=str(rule.level) if rule.level else None,
            time_us=time_us,
            event_id=event_id
            if isinstance(event_id, str)
            else text_of(event_id)
            if event_id is not MISSING
            else None,
            fields=fields,
            event=event,
        )

    # --- windows ----------------------------------------------------------------------------------

    def close_ripe_windows(self) -> None:
        """With an allowed lateness, emit the windows that end before the watermark (streaming)."""
        if self.max_time_us is None:
            return
        self.watermark_us = self.max_time_us - self.rules.lateness_us
        for alert in self.complete(lambda plan, window: (window + 1) * plan.span_us <= self.watermark_us):
            self.emit(alert)

    def complete(self, ripe: Callable[[AggregatePlan, int], bool] = lambda plan, window: True) -> list[Alert]:
        """Evaluate and forget the ripe windows; alerts in (window, rule, group) order."""
        alerts: list[CorrelationAlert] = []
        for plan, store in zip(self.rules.plans, self.stores, strict=False):
            for window in sorted(window for window in store if ripe(plan, window)):
                for group, state in store.pop(window).items():
                    alert = plan.evaluate((window, group), state, self.rules.options.every_group)
                    if alert is not None:
                        alerts.append(alert)
        alerts.sort(key=lambda alert: (alert.window_start_us, alert.order[1:]))
        return alerts

    def merge(self, other: Partial) -> None:
        for mine, theirs in zip(self.stores, other.stores, strict=False):
            merge_stores(mine, theirs)
        self.report.merge(other.report)
        self.events_matched += other.events_matched
        if other.max_time_us is not None and (
            self.max_time_us is None or other.max_time_us > self.max_time_us
        ):
            self.max_time_us = other.max_time_us


def _line_spans(data: bytes) -> Iterator[tuple[int, int]]:
    start = 0
    size = len(data)
    while start < size:
        end = data.find(b"\n", start)
        if end < 0:
            end = size
        yield start, end
        start = end + 1


def _objects_to_text(event: dict, paths: list[list[str]]) -> bool:
    """Render objects found where rules compare strings in Okta's `{k=v, ...}` form (some exports give
    ``debugData.behaviors`` as an object). True when something was rendered."""
    changed = False
    for path in paths:
        container: Any = event
        for key in path[:-1]:
            container = container.get(key) if type(container) is dict else None
        if type(container) is dict:
            value = container.get(path[-1])
            if type(value) is dict:
                container[path[-1]] = text_of(value)
                changed = True
    return changed


# --- running ------------------------------------------------------------------------------------

_WORKER_RULES: CompiledRules | None = None  # inherited by forked workers, never pickled


@dataclass
class Partial:
    """What a worker sends back: its correlation state, report and rule matches, in input order."""

    stores: list[Store]
    report: InputReport
    matches: list[Alert]
    events_matched: int
    max_time_us: int | None


def _work(task: tuple[Source, int, int | None, InputReport]) -> Partial:
    source, start, end, report = task
    matches: list[Alert] = []
    scan = Scan(_WORKER_RULES, report, matches.append)
    scan.read(source, start, end)
    return Partial(scan.stores, scan.report, matches, scan.events_matched, scan.max_time_us)


@dataclass
class Engine:
    pack: RulePack
    options: EngineOptions = field(default_factory=EngineOptions)

    def __post_init__(self) -> None:
        self.rules = CompiledRules(self.pack, self.options)

    def run(self, sources: Sequence[Source], emit: Callable[[Alert], None]) -> RunResult:
        report = InputReport(sources)
        scan = Scan(self.rules, report, emit)
        tasks = self._tasks(sources)
        if self._parallel(tasks):
            self._run_parallel(scan, tasks, emit)
        else:
            for source, start, end in tasks:
                scan.read(source, start, end)
        alerts = scan.complete()
        for alert in alerts:
            emit(alert)
        report.resolve_line_numbers()
        return RunResult(report=report, events_matched=scan.events_matched)

    def workers(self) -> int:
        return self.options.workers or os.cpu_count() or 1

    def _tasks(self, sources: Sequence[Source]) -> list[tuple[Source, int, int | None]]:
        tasks: list[tuple[Source, int, int | None]] = []
        parts = self.workers() if self.options.allowed_lateness is None else 1
        for source in sources:
            ranges = split_ranges(source, parts, min_bytes=self.options.parallel_min_bytes)
            tasks.extend((source, start, end) for start, end in ranges)
        return tasks

    def _parallel(self, tasks: list[tuple[Source, int, int | None]]) -> bool:
        return self.workers() > 1 and len(tasks) > 1 and self.options.allowed_lateness is None

    def _run_parallel(self, scan: Scan, tasks: list[tuple[Source, int, int | None]], emit) -> None:
        global _WORKER_RULES
        _WORKER_RULES = self.rules
        context = multiprocessing.get_context("fork")
        work = [(source, start, end, scan.report.fork()) for source, start, end in tasks]
        with context.Pool(min(self.workers(), len(tasks))) as pool:
            for partial in pool.imap(_work, work):
                for alert in partial.matches:
                    emit(alert)
                scan.merge(partial)
        _WORKER_RULES = None
