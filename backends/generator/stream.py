"""The stream: :class:`EventStream` merges the planned sessions into time order with a heap, materialises
and serialises their events, shuffles if asked, and records the ground truth; :func:`iter_events`."""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from typing import Any

from .config import GeneratorConfig
from .events import _classic_request_id, _escaped_line, _materialise, _plain_line, _Step, _uuid
from .pack_truth import PackTruth
from .planning import _Active, _Pending, _Planner
from .population import _make_population
from .rule import NULL_GROUP, WINDOW_MS
from .scenarios import SCENARIOS_BY_LABEL, _Design
from .truth import GroundTruth, SessionTruth, _Facts, alert_condition
from .values import _Clock, _iso_millis, _iso_seconds


class EventStream:
    """One pass over a generated data set: iterate it for event dicts, or call :meth:`lines` for NDJSON.

    After the pass, :meth:`ground_truth` describes the scenario sessions that were emitted and
    the counters (``events``, ``bytes``, ``rule_events``, ``escaped_events``) are final.
    """

    SHUFFLE_BUFFER = 50_000

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.population = _make_population(config.seed)
        self._rng = random.Random(f"{config.seed}:events")
        self._escape_rng = random.Random(f"{config.seed}:escape")
        self._planner = _Planner(config, self.population, set())
        self._clock = _Clock()
        node_rng = random.Random(f"{config.seed}:uuid")
        self._uuid_node = node_rng.getrandbits(16) << 32
        self._uuid_clock_seq = 0x8000 | node_rng.getrandbits(14)
        self._started = False
        self._done = False
        self._truth: list[SessionTruth] = []
        self._facts: list[tuple[str, str, _Facts]] = []
        self._pack = PackTruth()
        self.events = 0
        self.bytes = 0
        self.rule_events = 0
        self.escaped_events = 0
        self.first_published: str | None = None
        self.last_published: str | None = None

    # -- public ----------------------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[dict]:
        serialize = self.config.target_bytes is not None
        for event, _line in self._emit(serialize):
            yield event

    def lines(self) -> Iterator[bytes]:
        """Serialised NDJSON lines (newline included)."""
        for _event, line in self._emit(serialize=True):
            yield line

    def records(self) -> Iterator[tuple[dict, bytes]]:
        """Pairs of (event, its serialised line)."""
        return self._emit(serialize=True)

    def ground_truth(self) -> GroundTruth:
        if not self._done:
            raise RuntimeError("the ground truth is known once the stream has been consumed")
        groups = self._groups()
        push_users = {(s.window_start, s.group): s.users for s in self._truth if s.expected_alert}
        rules = self._pack.rules(groups, push_users)
        return GroundTruth(self.config.as_dict(), self._truth, groups, rules, self._pack.intents(rules))

    # -- generation --------------------------------------------------------------------------------------

    def _emit(self, serialize: bool) -> Iterator[tuple[dict, bytes | None]]:
        if self._started:
            raise RuntimeError("an EventStream can be consumed once; create a new one")
        self._started = True
        records = self._ordered(serialize)
        if self.config.shuffle:
            records = self._shuffled(records)
        yield from records
        self._done = True

    def _ordered(self, serialize: bool) -> Iterator[tuple[dict, bytes | None]]:
        heap: list[tuple[int, int, _Pending | _Active]] = []
        planner = self._planner
        target = self.config.target_bytes
        escape_share = self.config.escape_share
        escape_random = self._escape_rng.random
        seq = 0
        stopping = False
        while True:
            while not stopping and not planner.finished and (not heap or heap[0][0] >= self._next_hour_ms()):
                for pending in planner.plan_next_hour():
                    heapq.heappush(heap, (pending.start_ms + self._first_offset(pending), seq, pending))
                    seq += 1
            if not heap:
                return
            when, order, item = heapq.heappop(heap)
            if type(item) is _Pending:
                if stopping:
                    continue
                item = self._start(item)
            step = item.steps[item.index]
            item.index += 1
            if item.index < len(item.steps):
                heapq.heappush(heap, (item.start_ms + item.steps[item.index].offset_ms, order, item))
            event = self._event(step, when)
            if step.feeds:
                self._pack.add(step.feeds, when)
            escaped = escape_share > 0 and escape_random() < escape_share
            line = None
            if serialize:
                line = _escaped_line(event) if escaped else _plain_line(event)
                self.bytes += len(line)
            self._count(step, event, escaped)
            yield event, line
            if target is not None and self.bytes >= target:
                stopping = True

    def _next_hour_ms(self) -> int:
        return (self._planner.start_hour + self._planner.hour) * WINDOW_MS

    @staticmethod
    def _first_offset(pending: _Pending) -> int:
        return pending.design.steps[0].offset_ms if pending.design is not None else 0

    def _start(self, pending: _Pending) -> _Active:
        if pending.design is None:
            steps = pending.flow.build(self._planner.ctx, pending.user, pending.events)
            steps.sort(key=lambda s: s.offset_ms)
            return _Active(steps, pending.start_ms)
        self._record_truth(pending.design, pending.start_ms)
        return _Active(pending.design.steps, pending.start_ms)

    def _event(self, step: _Step, when: int) -> dict:
        raw = self._rng.randbytes(16 if step.hex_ids else 20)
        request_id = raw.hex() if step.hex_ids else _classic_request_id(raw)
        published = self._clock.iso(when)
        uuid = _uuid(when, self.events, self._uuid_node, self._uuid_clock_seq)
        return _materialise(step, published, uuid, request_id)

    def _count(self, step: _Step, event: dict, escaped: bool) -> None:
        self.events += 1
        self.rule_events += step.is_rule_event
        self.escaped_events += escaped
        if self.first_published is None:
            self.first_published = event["published"]
        self.last_published = event["published"]

    def _shuffled(self, records: Iterator[tuple[dict, bytes | None]]) -> Iterator[tuple[dict, bytes | None]]:
        rng = random.Random(f"{self.config.seed}:shuffle")
        buffer: list[tuple[dict, bytes | None]] = []
        for record in records:
            if len(buffer) < self.SHUFFLE_BUFFER:
                buffer.append(record)
                continue
            index = rng.randrange(len(buffer))
            yield buffer[index]
            buffer[index] = record
        rng.shuffle(buffer)
        yield from buffer

    # -- ground truth ------------------------------------------------------------------------------------

    def _record_truth(self, design: _Design, start_ms: int) -> None:
        window_ms = start_ms // WINDOW_MS * WINDOW_MS
        window = _iso_seconds(window_ms)
        scenario = SCENARIOS_BY_LABEL[design.label]
        group = NULL_GROUP if design.session_id is None else design.session_id
        self._truth.append(
            SessionTruth(
                label=design.label,
                expected_alert=scenario.expected_alert,
                session_id=design.session_id,
                group=group,
                user=design.users[0],
                users=design.users,
                window_start=window,
                first_published=_iso_millis(start_ms + design.steps[0].offset_ms),
                last_published=_iso_millis(start_ms + design.steps[-1].offset_ms),
                design=design.facts.as_dict(),
                case_twin_of=design.case_twin_of,
                family=scenario.family,
                crosses_window=design.align_ms == WINDOW_MS,
            )
        )
        for intent in design.intents:
            self._pack.intend(intent, start_ms, design.label)
        if any(step.is_rule_event for step in design.steps):
            self._facts.append((window, group, design.facts))

    def _groups(self) -> list[dict[str, Any]]:
        merged: dict[tuple[str, str], _Facts] = {}
        for window, group, facts in self._facts:
            key = (window, group)
            merged[key] = merged[key].merge(facts) if key in merged else facts
        groups = []
        for (window, group), facts in sorted(merged.items()):
            metrics = facts.metrics()
            groups.append(
                {"window_start": window, "group": group, **metrics, "alert": alert_condition(metrics)}
            )
        by_label = {(s.window_start, s.group) for s in self._truth if s.expected_alert}
        if by_label != {(g["window_start"], g["group"]) for g in groups if g["alert"]}:
            raise AssertionError("scenario labels and group metrics disagree about the alerts")
        return groups


def iter_events(config: GeneratorConfig) -> Iterator[dict]:
    """Generated events in ``published`` order (or shuffled), deterministic for ``config.seed``."""
    return iter(EventStream(config))


def generate_events(config: GeneratorConfig) -> tuple[list[dict], GroundTruth]:
    """Every event of a run in memory with its ground truth (for tests that want a small dataset)."""
    stream = EventStream(config)
    events = list(stream)
    return events, stream.ground_truth()
