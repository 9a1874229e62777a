"""The detection-test model: what a ``*.tests.yaml`` file says, as small dataclasses.

A file holds tests; a test names the rules it covers, its events and its expectations. Every object
keeps the location of the YAML node it came from, so that failures and configuration errors point at
the line (text, JUnit and SARIF reports all use it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from sigma.exceptions import SigmaRuleLocation


class Uncovered(Enum):
    """What to do with an alert of a tested rule that no expectation accounts for."""

    FAIL = "fail"
    WARN = "warn"
    IGNORE = "ignore"


@dataclass(frozen=True)
class InlineEvent:
    """A partial Okta LogEvent written in the test, completed from the template when run."""

    data: dict[str, Any]  # the fields as written, test-only keys removed
    name: str | None  # `name:`, for event expectations
    like: str | None  # `like:`, a named template of the file
    at: float | None  # `at:`, seconds after the test's start
    location: SigmaRuleLocation
    repeat: int = 1  # `repeat:`, this many copies ...
    every: float = 0.0  # `every:` seconds apart


@dataclass(frozen=True)
class EventFile:
    """A file of complete events (NDJSON, .gz, or a JSON array), relative to the tests file."""

    path: Path
    location: SigmaRuleLocation


@dataclass(frozen=True)
class GeneratedEvents:
    """A seeded `sigma-okta generate` run restricted to named scenarios."""

    seed: int
    scenarios: tuple[str, ...]
    sessions: int  # labelled sessions per scenario
    background: int  # background events
    location: SigmaRuleLocation


@dataclass(frozen=True)
class Bounds:
    at_least: int | None = None
    at_most: int | None = None

    def holds(self, count: int) -> bool:
        return (self.at_least is None or count >= self.at_least) and (
            self.at_most is None or count <= self.at_most
        )

    def __str__(self) -> str:
        if self.at_least == self.at_most:
            return f"exactly {self.at_least}"
        parts = []
        if self.at_least is not None:
            parts.append(f"at least {self.at_least}")
        if self.at_most is not None:
            parts.append(f"at most {self.at_most}")
        return " and ".join(parts)


@dataclass(frozen=True)
class AlertCount:
    """``alerts: N`` or ``alerts: {at_least, at_most, exactly}``: how many alerts the rule raises, in
    one window when ``window`` is given."""

    rule: str
    bounds: Bounds
    window: int | None  # microseconds of a time inside the window
    location: SigmaRuleLocation

    def describe(self) -> str:
        where = f" in the window of {_time(self.window)}" if self.window is not None else ""
        return f"{self.rule} alerts {self.bounds} time(s){where}"


@dataclass(frozen=True)
class GroupExpectation:
    """``group: {field: value}``: this group fires (or not), with these metric values and fields."""

    rule: str
    group: dict[str, str]
    fires: bool
    metrics: dict[str, Any]
    fields: dict[str, list[str]]
    first_seen: int | None  # microseconds
    window: int | None
    location: SigmaRuleLocation
    key_locations: dict[str, SigmaRuleLocation] = field(default_factory=dict, compare=False)

    def describe(self) -> str:
        group = ", ".join(f"{name}={value}" for name, value in self.group.items()) or "(all events)"
        text = f"{self.rule} group {group} {'fires' if self.fires else 'does not fire'}"
        details = [*self.metrics, *self.fields] + (["first_seen"] if self.first_seen is not None else [])
        if details:
            text += f" with {', '.join(details)}"
        return text


@dataclass(frozen=True)
class EventExpectation:
    """``event: NAME``: a single-event rule matches this event, or does not."""

    rule: str
    event: str  # an event's name, its 1-based position among the inline events, or its uuid
    matches: bool
    location: SigmaRuleLocation

    def describe(self) -> str:
        return f"{self.rule} {'matches' if self.matches else 'does not match'} event {self.event}"


@dataclass(frozen=True)
class GroundTruth:
    """``ground_truth: true``: the rule fires for exactly the sessions the generator labelled as attacks
    (the generated events of the test), window by window."""

    rule: str
    location: SigmaRuleLocation

    def describe(self) -> str:
        return f"{self.rule} fires exactly for the generator's attack sessions"


Expectation = AlertCount | GroupExpectation | EventExpectation | GroundTruth


@dataclass
class DetectionTest:
    __test__ = False  # not a pytest class

    name: str
    rules: list[str]  # references (ids or names) of the rules under test
    events: list[InlineEvent | EventFile | GeneratedEvents]
    expectations: list[Expectation]
    uncovered: Uncovered
    start: int  # microseconds: what `at` offsets count from
    location: SigmaRuleLocation


@dataclass
class TestFile:
    __test__ = False  # not a pytest class

    path: Path
    tests: list[DetectionTest]
    templates: dict[str, dict[str, Any]]


def _time(microseconds: int) -> str:
    from ..engine.timestamps import format_time

    return format_time(microseconds)
