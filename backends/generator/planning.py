"""Planning: which scenario sessions and background flows start in which hour, with the calibration
sample that turns a byte target and a push share into event counts."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from .background import _BACKGROUND_WEIGHTS, BACKGROUND_FLOWS, BackgroundFlow
from .config import GeneratorConfig
from .context import _ScenarioContext
from .events import _RULE_EVENT_TYPES, _escaped_line, _materialise, _plain_line, _Step, _uuid
from .population import Population, User
from .rule import BUCKET_MS, WINDOW_MS
from .scenarios import _TWIN_PAIR, _build_design, _Design
from .tables import HOUR_WEIGHTS
from .values import _Clock


class _Pending(NamedTuple):
    """A session that has not started yet; `design` is a scenario design or a background flow to expand."""

    design: _Design | None
    flow: BackgroundFlow | None
    events: int
    user: User | None
    start_ms: int


class _Active:
    """A started session: its steps, absolute start, and the next step to emit."""

    __slots__ = ("index", "start_ms", "steps")

    def __init__(self, steps: list[_Step], start_ms: int) -> None:
        self.steps = steps
        self.index = 0
        self.start_ms = start_ms


@dataclass
class _Calibration:
    """Averages measured on a sample built with a separate random stream (deterministic per seed)."""

    rule_events_per_session: float
    kept_events_per_session: float
    bytes_per_scenario_event: float
    bytes_per_background_event: float


class _Planner:
    """Decides, hour by hour, which scenario sessions start and how many background events accompany them.

    Unsized runs spread ``sessions_per_label`` sessions of each label and the background over the hours by
    ``HOUR_WEIGHTS``. Sized runs aim at an event total derived from the calibrated bytes per event and keep
    adding scenario sessions while the share of rule events is below ``push_share``; hours continue past
    ``duration`` until the stream stops them.
    """

    def __init__(self, config: GeneratorConfig, population: Population, used_ids: set[str]) -> None:
        self.config = config
        self.rng = random.Random(f"{config.seed}:plan")
        self.ctx = _ScenarioContext(random.Random(f"{config.seed}:scenarios"), population, used_ids)
        self.population = population
        self.start_hour = config.start_ms // WINDOW_MS
        self.hour = 0
        self.units = self._label_units()
        self.sessions_planned = 0
        self.rule_events = 0
        self.events = 0
        self.background_planned = 0
        calibration = _calibrate(config, population)
        # a session is added while the quota is short by more than half a typical session (unbiased rounding)
        self.half_session_rule_events = calibration.rule_events_per_session / 2
        self.half_session_events = calibration.kept_events_per_session / 2
        self.total_sessions = config.sessions_per_label * len(config.labels)
        self.total_events = self._total_events(calibration)
        self.weight_total = sum(self._weight(h) for h in range(config.hours))

    # -- totals --------------------------------------------------------------------------------------------

    def _total_events(self, cal: _Calibration) -> float:
        config = self.config
        if config.target_bytes is not None:
            if config.only_push:
                return config.target_bytes / cal.bytes_per_scenario_event
            scenario_fraction = min(
                1.0, config.push_share * cal.kept_events_per_session / cal.rule_events_per_session
            )
            per_event = (
                scenario_fraction * cal.bytes_per_scenario_event
                + (1 - scenario_fraction) * cal.bytes_per_background_event
            )
            return config.target_bytes / per_event
        if config.only_push:
            return self.total_sessions * cal.kept_events_per_session
        if config.background_events is not None:
            return self.total_sessions * cal.kept_events_per_session + config.background_events
        return self.total_sessions * cal.rule_events_per_session / config.push_share

    def _weight(self, hour: int) -> float:
        return HOUR_WEIGHTS[(self.start_hour + hour) % 24]

    def _cumulative_share(self, hour: int) -> float:
        """Share of the planned total due by the end of `hour` (> 1 past `duration` in sized runs)."""
        full, rest = divmod(hour + 1, self.config.hours)
        return full + sum(self._weight(h) for h in range(rest)) / self.weight_total

    @property
    def finished(self) -> bool:
        return self.config.target_bytes is None and self.hour >= self.config.hours

    # -- labels --------------------------------------------------------------------------------------------

    def _label_units(self) -> Iterator[tuple[str, ...]]:
        """Labels in shuffled cycles (equal proportions); a twin pair stays together so it shares an hour."""
        cycle = 0
        chosen = self.config.labels
        twins = all(label in chosen for label in _TWIN_PAIR)  # a restricted run may hold one or neither
        while self.config.target_bytes is not None or cycle < self.config.sessions_per_label:
            if not chosen:
                return
            labels = [label for label in chosen if not twins or label != _TWIN_PAIR[1]]
            units: list[tuple[str, ...]] = [(label,) for label in labels]
            if twins:
                index = labels.index(_TWIN_PAIR[0])
                if self.rng.random() < 0.5:
                    units[index] = _TWIN_PAIR
                else:
                    units.append((_TWIN_PAIR[1],))
            self.rng.shuffle(units)
            yield from units
            cycle += 1

    # -- one hour ------------------------------------------------------------------------------------------

    def plan_next_hour(self) -> list[_Pending]:
        hour_ms = (self.start_hour + self.hour) * WINDOW_MS
        due = self.total_events * self._cumulative_share(self.hour)
        pending = [self._place(design, hour_ms) for design in self._scenario_designs(due)]
        pending.extend(self._background(hour_ms, due))
        self.hour += 1
        return pending

    def _scenario_designs(self, due_events: float) -> Iterator[_Design]:
        config = self.config
        while True:
            if config.target_bytes is None:
                wanted = self.sessions_planned < round(
                    self.total_sessions * min(1.0, self._cumulative_share(self.hour))
                )
            elif config.only_push:
                wanted = self.events + self.half_session_events < due_events
            else:
                wanted = self.rule_events + self.half_session_rule_events < config.push_share * due_events
            unit = next(self.units, None) if wanted else None
            if unit is None:
                return
            twin_of = None
            for label in unit:
                design = _build_design(self.ctx, label, twin_of=twin_of)
                twin_of = design.session_id if label == _TWIN_PAIR[0] else None
                if config.only_push:
                    design.steps = [s for s in design.steps if s.kind.event_type in _RULE_EVENT_TYPES]
                self.sessions_planned += 1
                self.rule_events += sum(s.is_rule_event for s in design.steps)
                self.events += len(design.steps)
                yield design

    def _place(self, design: _Design, hour_ms: int) -> _Pending:
        """Start on an even second, so the design's 2 s buckets are the data's, and end inside the hour;
        an anchored design so that its anchor falls on a window boundary (the hour's end for one that
        spans two hours, else a 5-minute boundary that keeps it inside the hour)."""
        span = design.steps[-1].offset_ms
        if design.align_ms == WINDOW_MS:
            start = hour_ms + WINDOW_MS - design.anchor_ms
        elif design.align_ms is not None:
            align = design.align_ms
            first = -(-(hour_ms + design.anchor_ms) // align)  # the first boundary the anchor can take
            last = (hour_ms + WINDOW_MS - BUCKET_MS - span + design.anchor_ms) // align
            start = align * self.rng.randint(first, max(first, last)) - design.anchor_ms
        else:
            slots = (WINDOW_MS - span - BUCKET_MS) // BUCKET_MS
            start = hour_ms + BUCKET_MS * self.rng.randrange(max(1, slots))
        return _Pending(design, None, len(design.steps), None, start)

    def _background(self, hour_ms: int, due_events: float) -> Iterator[_Pending]:
        config = self.config
        if config.only_push:
            return
        if config.target_bytes is None and config.background_events is not None:
            budget = (
                round(config.background_events * min(1.0, self._cumulative_share(self.hour)))
                - self.background_planned
            )
        else:
            budget = round(due_events) - self.events
        users = self.population.users
        while budget > 0:
            flow = self.rng.choices(BACKGROUND_FLOWS, weights=_BACKGROUND_WEIGHTS)[0]
            n = self.rng.randint(*flow.events)
            if n > budget:
                flow, n = BACKGROUND_FLOWS[-1], 1
            budget -= n
            self.events += n
            self.background_planned += n
            yield _Pending(None, flow, n, self.rng.choice(users), hour_ms + self.rng.randrange(WINDOW_MS))


def _calibrate(
    config: GeneratorConfig, population: Population, sample: int = 120, background: int = 120
) -> _Calibration:
    """Measure events and bytes per scenario session and per background event on a throw-away sample
    of about `sample` sessions (at least three of each label)."""
    ctx = _ScenarioContext(random.Random(f"{config.seed}:calibration"), population, set())
    rule_events = kept = 0
    scenario_lines: list[bytes] = []
    labels = config.labels
    per_label = max(3, sample // max(1, len(labels)))
    for label in labels * per_label:
        design = _build_design(ctx, label)
        steps = [s for s in design.steps if not config.only_push or s.kind.event_type in _RULE_EVENT_TYPES]
        rule_events += sum(s.is_rule_event for s in steps)
        kept += len(steps)
        scenario_lines.extend(_sample_lines(steps, config.escape_share, ctx.rng))
    background_lines: list[bytes] = []
    for _ in range(background):
        flow = ctx.rng.choices(BACKGROUND_FLOWS, weights=_BACKGROUND_WEIGHTS)[0]
        steps = flow.build(ctx, ctx.rng.choice(population.users), ctx.rng.randint(*flow.events))
        background_lines.extend(_sample_lines(steps, config.escape_share, ctx.rng))
    sessions = per_label * len(labels)

    def mean_size(lines: list[bytes]) -> float:
        return sum(map(len, lines)) / max(1, len(lines))

    return _Calibration(
        rule_events / sessions, kept / sessions, mean_size(scenario_lines), mean_size(background_lines)
    )


def _sample_lines(steps: list[_Step], escape_share: float, rng: random.Random) -> Iterator[bytes]:
    clock = _Clock()
    base = 1_773_100_800_000
    for index, step in enumerate(steps):
        event = _materialise(
            step,
            clock.iso(base + step.offset_ms),
            _uuid(base + step.offset_ms, index, 0, 0x8000),
            rng.randbytes(16).hex(),
        )
        yield _escaped_line(event) if rng.random() < escape_share else _plain_line(event)
