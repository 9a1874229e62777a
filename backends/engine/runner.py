"""The engine: compile a rule pack once, stream event sources through it, emit alerts.

Per event the path is short (see ``../shared/DESIGN.md``)::

    bytes -> rule-derived literal prefilter -> decode the line -> base-rule predicates -> event time
          -> window -> collapse key -> correlation state -> (window complete) -> condition -> alert

Large regular files are split into byte ranges at line starts and read by one worker process per
core; the workers' correlation states are merged exactly (see :mod:`.accumulators`) before the windows
are evaluated, so a parallel run gives the same alerts as a sequential one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from sigma.pipelines.okta.errors import for_rule, raise_together
from sigma.pipelines.okta.loader import RulePack
from sigma.pipelines.okta.model import AggregateCorrelationRule
from sigma.pipelines.okta.semantics import text_of
from sigma.pipelines.okta.standard import as_aggregate

from .alerts import Alert, CorrelationAlert, MatchAlert, risk_record
from .correlation import AggregatePlan, Store, compile_plan
from .decoding import decode_line
from .documents import iter_document_events
from .fields import MISSING, compile_field
from .input_report import EXCERPT_BYTES, InputReport, Reason
from .matcher import UnsupportedRuleError, compile_rule, rule_fields, string_fields, uses_keywords
from .native_projection import native_projection, native_time_getter
from .native_rules import native_predicates
from .offence_scope import OffenceScope
from .parallel import collector_paused, run_parallel
from .prefilter import LineScanner
from .prefilter_clauses import Clause, necessary_clauses
from .projection import TYPED_DECODE_ERRORS, EventProjection
from .sources import Chunk, Source, is_document, iter_chunks, split_ranges
from .timestamps import MISSING_TIME, compile_time_getter


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
    projection: bool = True  # decode only the fields the rules read (False: whole events; same alerts)
    # events outside [time_from_us, time_to_us) are not evaluated (``--from``/``--to``); not bad input
    time_from_us: int | None = None
    time_to_us: int | None = None
    id_field: str = "uuid"  # the event id of alerts (another field when `run -p` maps the schema)
    # ``--geoip``: a :class:`~.geoip.GeoDatabase` (opened by the caller) locating events that lack
    # client.geographicalContext; used only when a rule reads that context
    geoip: Any = None


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
        # rules of caseless literal tests run in C where the native kernel is built (native_rules.py)
        self.predicates = native_predicates(self.base_rules, _compile_every_rule(self.base_rules))
        correlations = [*pack.aggregates, *(as_aggregate(rule) for rule in pack.standard_correlations)]
        self.plans = [compile_plan(rule, order, options.id_field) for order, rule in enumerate(correlations)]
        # rules that feed a correlation without `generate: true` give no alerts of their own
        self.emits = [rule._output for rule in self.base_rules]
        position = {id(rule): index for index, rule in enumerate(self.base_rules)}
        self.links: list[list[tuple[int, int]]] = [[] for _ in self.base_rules]
        for plan_index, plan in enumerate(self.plans):
            for bit, referenced in enumerate(plan.rule.referenced_rules):
                self.links[position[id(referenced)]].append((plan_index, 1 << bit))
        self.match_fields = [
            [(name, compile_field(name)) for name in rule.fields] for rule in self.base_rules
        ]
        self.risks = [_risk_of(rule) for rule in self.base_rules]
        self._plan_locations(options)
        self.clauses = self._clauses()
        self.scanner = self._scanner(options)
        compared = set().union(
            *(string_fields(rule) for rule in self.base_rules), *(p.string_fields for p in self.plans)
        )
        self.string_paths = [name.split(".") for name in sorted(compared)]
        # the typed view of the fields read: decoding through it is an option, judging offences by it is not
        view = self._projection(compared)
        self.projection = view if options.projection else None
        self.offence_scope = OffenceScope(self.clauses, view, strict=options.validate_all)
        self.native = native_projection(self.projection)  # the C kernel of that projection, when built
        self.time = native_time_getter(options.time_field, compile_time_getter(options.time_field))
        self.uuid = compile_field(options.id_field)
        self.lateness_us = None if options.allowed_lateness is None else int(options.allowed_lateness * 1e6)
        self.time_from_us = MISSING_TIME + 1 if options.time_from_us is None else options.time_from_us
        self.time_to_us = 1 << 62 if options.time_to_us is None else options.time_to_us

    def in_time_range(self, time_us: int) -> bool:
        return self.time_from_us <= time_us < self.time_to_us

    def _plan_locations(self, options: EngineOptions) -> None:
        """Where ``--geoip`` enrichment runs: before matching when a detection reads the location (or
        searches keywords), else after it for the events of rules whose alert fields or correlations
        read it; nowhere when no rule reads it."""
        self.enricher = None
        self.locate_before_matching = False
        self.needs_location = [False] * len(self.base_rules)
        if options.geoip is None:
            return
        from .geoip import Enricher, needs_location, reads_location

        self.locate_before_matching = any(
            uses_keywords(rule) or needs_location(rule_fields(rule)) for rule in self.base_rules
        )
        plan_reads = [needs_location(correlation_fields(plan.rule)) for plan in self.plans]
        for index, rule in enumerate(self.base_rules):
            self.needs_location[index] = (self.emits[index] and needs_location(rule.fields)) or any(
                plan_reads[plan_index] for plan_index, _ in self.links[index]
            )
        if self.locate_before_matching or any(self.needs_location):
            self.enricher = Enricher(options.geoip)
            self._supplied = reads_location

    def matches(self, event: dict) -> tuple[list[int], Any]:
        """The base rules that match ``event``, enriching it where :meth:`_plan_locations` says; with the
        enrichment's outcome (a :class:`~.geoip.Outcome`) when the event matched and was looked at."""
        enricher = self.enricher
        if enricher is None:
            return [index for index, predicate in enumerate(self.predicates) if predicate(event)], None
        outcome = enricher.enrich(event) if self.locate_before_matching else None
        matched = [index for index, predicate in enumerate(self.predicates) if predicate(event)]
        if not matched:
            return matched, None
        if outcome is None and any(self.needs_location[index] for index in matched):
            outcome = enricher.enrich(event)
        return matched, outcome

    def _clauses(self) -> frozenset[Clause] | None:
        """The union of the rules' prefilter clauses; None when one rule can match without a literal."""
        clauses: set[Clause] = set()
        # a value that enrichment supplies is not in the line: those items give no literal
        supplied = self._supplied if self.enricher is not None else None
        for rule in self.base_rules:
            derived = necessary_clauses(rule, supplied)
            if derived is None:
                return None  # every line is a candidate
            clauses |= derived
        return frozenset(clauses)

    def _scanner(self, options: EngineOptions) -> LineScanner | None:
        if not options.prefilter or options.validate_all or not self.clauses:
            return None
        return LineScanner(self.clauses)

    def _projection(self, compared: set[str]) -> EventProjection | None:
        """Typed decoding of just the fields read, unless a keyword rule needs every value of the event
        or ``--strict`` checks every line in full."""
        if self.options.validate_all or any(uses_keywords(rule) for rule in self.base_rules):
            return None
        fields = fields_read(
            self.base_rules,
            [plan.rule for plan in self.plans],
            self.options.time_field,
            self.options.id_field,
        )
        if self.enricher is not None:
            from .geoip import FIELDS_READ

            fields |= set(FIELDS_READ)  # whether an event has a location, and its address
        return EventProjection(fields, compared)


def fields_read(
    base_rules: Iterable[SigmaRule],
    correlations: Iterable[AggregateCorrelationRule],
    time_field: str,
    id_field: str = "uuid",
) -> set[str]:
    """Every event field the rules and correlations read, the time field and the event id field."""
    fields = {time_field, id_field}
    for rule in base_rules:
        fields |= rule_fields(rule)
    for correlation in correlations:
        fields |= correlation_fields(correlation)
    return fields


def correlation_fields(correlation: AggregateCorrelationRule) -> set[str]:
    """The event fields a correlation reads, from the events of every rule it correlates."""
    return {
        correlation.event_field(name, index)
        for name in correlation.fields_read()
        for index in range(len(correlation.rules))
    }


def pack_fields(pack: RulePack, time_field: str) -> set[str]:
    """:func:`fields_read` of a whole pack (standard correlations as the engine evaluates them)."""
    correlations = [*pack.aggregates, *(as_aggregate(rule) for rule in pack.standard_correlations)]
    return fields_read(pack.base_rules, correlations, time_field)


def _risk_of(rule: SigmaRule) -> dict | None:
    risk = rule.custom_attributes.get("risk")
    return dict(risk) if isinstance(risk, dict) else None


def refusals(pack: RulePack) -> list[tuple[Any, SigmaError]]:
    """The rules of ``pack`` the engine cannot evaluate, each with the reason (for ``--skip-unsupported``:
    compiling the rest then succeeds once these and the correlations over them are left out)."""
    refused: list[tuple[Any, SigmaError]] = []
    for rule in pack.base_rules:
        try:
            compile_rule(rule)
        except UnsupportedRuleError as error:
            refused.append((rule, error))
    for correlation in pack.correlations:
        try:
            standard = isinstance(correlation, SigmaCorrelationRule)
            compile_plan(as_aggregate(correlation) if standard else correlation, 0)
        except SigmaError as error:
            refused.append((correlation, for_rule(error, correlation)))
    return refused


def _compile_every_rule(rules: list[SigmaRule]) -> list[Callable[[dict], bool]]:
    """The rules' predicates; every rule the engine cannot evaluate is reported at once, not the first."""
    predicates, problems = [], []
    for rule in rules:
        try:
            predicates.append(compile_rule(rule))
        except UnsupportedRuleError as error:
            problems.append(error)
    raise_together(problems)
    return predicates


class Scan:
    """The state of one reader (the main process or a worker) over its share of the input."""

    DENSE_SHARE = 0.5  # when this share of a chunk's bytes are candidates, scanning costs more than it saves
    DENSE_CHUNKS = 15  # ... so decode the next chunks whole, then look again

    def __init__(self, rules: CompiledRules, report: InputReport, emit: Callable[[Alert], None]):
        self.rules = rules
        self.report = report
        self.emit = emit
        self.stores: list[Store] = [{} for _ in rules.plans]
        self.max_time_us: int | None = None
        self.watermark_us: int | None = None
        self.events_matched = 0
        self.unscanned_chunks = 0
        # whether every line being read is a prefilter candidate (or a document element, all checked);
        # else an offence's line is asked whether it is one before it is counted (offence_scope.py)
        self.prefiltered = True
        #: called with the bytes read so far after each chunk (for a progress bar): once per chunk of
        #: megabytes, never per event
        self.progress: Callable[[int], None] | None = None

    # --- sources ----------------------------------------------------------------------------------

    def read(self, source: Source, start: int = 0, end: int | None = None) -> None:
        if is_document(source, self.report):
            self.prefiltered = True
            for offset, event in iter_document_events(source, self.report):
                self.event(event, True, source, offset, b"")
            if self.progress is not None:
                self.progress(self.report.bytes_read)
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
            if self.progress is not None:
                self.progress(self.report.bytes_read)

    def chunk(self, chunk: Chunk, source: Source) -> None:
        data = chunk.data
        lines = memoryview(data)
        projection = self.rules.projection
        typed = projection.decoder.decode if projection is not None else None
        decoded = 0
        for start, end, event in self._projected(data):
            line = lines[start:end]
            if event is not None:  # the native kernel projected it (it hands back lines it is unsure of)
                decoded += 1
                self.event(event, False, source, chunk.offset + start, line)
                continue
            if typed is not None:
                try:
                    event = typed(line)
                except TYPED_DECODE_ERRORS:
                    pass
                else:
                    decoded += 1
                    self.event(event, False, source, chunk.offset + start, line)
                    continue
            raw = bytes(line)
            event, reason = decode_line(raw)
            if reason is not None and self.rules.offence_scope.reports(
                raw, reason, candidate=self.prefiltered, view_refused=typed is not None
            ):
                self.report.add_in_chunk(reason, source, chunk, start, end)
            if event is not None:
                decoded += 1
                self.event(event, True, source, chunk.offset + start, line)
        self.report.events_decoded += decoded  # the prefilter let the other lines pass undecoded

    def _projected(self, data: bytes) -> Iterable[tuple[int, int, dict | None]]:
        """The candidate spans, each with its event when the native kernel projected it, else None."""
        native = self.rules.native
        spans = self._candidates(data)
        if native is not None:
            every_line = getattr(spans, "gi_code", None) is _line_spans.__code__
            return native.scan(data, None if every_line else spans)  # None: the kernel splits the lines
        return ((start, end, None) for start, end in spans)

    def _candidates(self, data: bytes) -> Iterable[tuple[int, int]]:
        """Spans of the lines to decode: the prefilter's candidates, or every line of dense chunks."""
        scanner = self.rules.scanner
        self.prefiltered = False
        if scanner is None:
            return _line_spans(data)
        if self.unscanned_chunks:
            self.unscanned_chunks -= 1
            return _line_spans(data)
        self.prefiltered = True
        spans = scanner.candidate_lines(data)
        if sum(end - start for start, end in spans) > self.DENSE_SHARE * len(data):
            self.unscanned_chunks = self.DENSE_CHUNKS
        return spans

    # --- per event --------------------------------------------------------------------------------

    def event(self, event: dict, whole: bool, source: Source, offset: int, raw: bytes | memoryview) -> None:
        """One decoded event; ``whole`` when it was decoded in full (not through the projection)."""
        rules = self.rules
        # the projection's shape lets no object through where a string is compared; a whole event may hold one
        checked = not whole and rules.projection is not None and not rules.projection.unchecked_string_fields
        if not checked and rules.string_paths and objects_to_text(event, rules.string_paths):
            self.count_object_for_string(source, offset, raw)
        if rules.enricher is None:
            matched = [index for index, predicate in enumerate(rules.predicates) if predicate(event)]
            located = False
        else:
            matched, outcome = rules.matches(event)
            located = outcome is not None
            if located:
                self.report.count_location(outcome)
        if not matched:
            return
        self.events_matched += 1
        time_us = rules.time(event)
        if time_us <= MISSING_TIME:  # MISSING_TIME or BAD_TIME: no alert of any kind, counted
            reason = Reason.MISSING_TIMESTAMP if time_us == MISSING_TIME else Reason.BAD_TIMESTAMP
            self.report.add(reason, source, offset, bytes(raw[:EXCERPT_BYTES]))
            return
        if not rules.in_time_range(time_us):
            return
        for index in matched:
            if rules.emits[index]:
                self.emit(self._match_alert(index, self._alert_event(event, whole, raw, located), time_us))
        masks: dict[int, int] = {}
        for index in matched:
            for plan_index, bit in rules.links[index]:
                masks[plan_index] = masks.get(plan_index, 0) | bit
        if not masks:
            return
        if rules.lateness_us is not None:
            # the watermark follows every event, so lateness does not depend on how the input is chunked
            if self.max_time_us is None or time_us > self.max_time_us:
                self.max_time_us = time_us
                self.watermark_us = time_us - rules.lateness_us
            elif self._window_closed(masks, time_us):
                self.report.add(Reason.LATE_EVENT, source, offset, bytes(raw[:EXCERPT_BYTES]))
                return
        stores = self.stores
        for plan_index, mask in masks.items():
            rules.plans[plan_index].add(stores[plan_index], event, mask, time_us)

    def count_object_for_string(self, source: Source, offset: int, raw: bytes | memoryview) -> None:
        """Count an object rendered where a string is compared, when the run reports it (offence_scope.py)."""
        line = bytes(raw)
        scope = self.rules.offence_scope
        if scope.reports(line, Reason.OBJECT_FOR_STRING, candidate=self.prefiltered, view_refused=True):
            self.report.add(Reason.OBJECT_FOR_STRING, source, offset, line[:EXCERPT_BYTES])

    def _alert_event(self, event: dict, whole: bool, raw: bytes | memoryview, located: bool) -> dict:
        """The whole event for a match alert: ``event`` itself, or the line decoded again (and located
        again, from the cache, when ``event`` was)."""
        if whole:
            return event
        full = whole_event(raw)
        if located:
            self.rules.enricher.enrich(full)
        return full

    def _window_closed(self, masks: dict[int, int], time_us: int) -> bool:
        plans = self.rules.plans
        return any((time_us // plans[i].span_us + 1) * plans[i].span_us <= self.watermark_us for i in masks)

    def _match_alert(self, index: int, event: dict, time_us: int) -> MatchAlert:
        rule = self.rules.base_rules[index]
        fields = {}
        for name, get in self.rules.match_fields[index]:
            value = get(event)
            if value is not MISSING:
                fields[name] = value
        event_id = self.rules.uuid(event)
        risk = self.rules.risks[index]
        return MatchAlert(
            rule_id=str(rule.id) if rule.id else None,
            rule_title=rule.title,
            level=str(rule.level) if rule.level else None,
            time_us=time_us,
            event_id=None if event_id is MISSING else text_of(event_id),
            fields=fields,
            event=event,
            risk=None if risk is None else risk_record(risk, fields),
        )

    # --- windows ----------------------------------------------------------------------------------

    def close_ripe_windows(self) -> None:
        """With an allowed lateness, emit the windows that end at or before the watermark (streaming)."""
        watermark = self.watermark_us
        if watermark is None:
            return
        for alert in self.complete(lambda plan, window: (window + 1) * plan.span_us <= watermark):
            self.emit(alert)

    def complete(self, ripe: Callable[[AggregatePlan, int], bool] = lambda plan, window: True) -> list[Alert]:
        """Evaluate and forget the ripe windows; alerts in (window, rule, group) order."""
        alerts: list[CorrelationAlert] = []
        for plan, store in zip(self.rules.plans, self.stores, strict=False):
            alerts.extend(plan.complete(store, ripe, self.rules.options.every_group))
        alerts.sort(key=lambda alert: (alert.window_start_us, alert.order[1:]))
        return alerts


def _line_spans(data: bytes) -> Iterator[tuple[int, int]]:
    start = 0
    size = len(data)
    while start < size:
        end = data.find(b"\n", start)
        if end < 0:
            end = size
        yield start, end
        start = end + 1


def whole_event(raw: bytes | memoryview) -> dict:
    """The full event of a line decoded through the projection (for alerts that carry the event)."""
    event, _ = decode_line(bytes(raw))
    return event if event is not None else {}


def objects_to_text(event: dict, paths: list[list[str]]) -> bool:
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


@dataclass
class Engine:
    pack: RulePack
    options: EngineOptions = field(default_factory=EngineOptions)

    def __post_init__(self) -> None:
        self.rules = CompiledRules(self.pack, self.options)

    def run(
        self,
        sources: Sequence[Source],
        emit: Callable[[Alert], None],
        progress: Callable[[int], None] | None = None,
    ) -> RunResult:
        """Evaluate the pack on ``sources``, emitting alerts; ``progress`` is called now and then with the
        bytes read so far (by every worker)."""
        report = InputReport(sources)
        tasks = self._tasks(sources)
        with collector_paused():  # reading and evaluating make no reference cycles (parallel.py)
            if self._parallel(tasks):
                events_matched = run_parallel(self.rules, tasks, report, self.workers(), emit, progress)
            else:
                scan = Scan(self.rules, report, emit)
                scan.progress = progress
                for source, start, end in tasks:
                    scan.read(source, start, end)
                for alert in scan.complete():
                    emit(alert)
                events_matched = scan.events_matched
        report.resolve_line_numbers()
        return RunResult(report=report, events_matched=events_matched)

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
        # stdin is read once, by this process; with an allowed lateness windows close as the input flows
        return (
            self.workers() > 1
            and len(tasks) > 1
            and self.options.allowed_lateness is None
            and not any(source.is_stdin for source, _, _ in tasks)
        )
