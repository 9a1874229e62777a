"""Read ``*.tests.yaml`` files into the test model, reporting every problem with ``file:line:column``.

Checks here are those that need only the file itself (keys, types, times, bounds). References to rules
and metric names are checked against the loaded rule pack by :func:`check_references`, which reports
in the same form.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml
from sigma.exceptions import SigmaError, SigmaRuleLocation

from sigma.pipelines.okta.errors import AggregateRuleError, RulePackError
from sigma.pipelines.okta.loader import TESTS_SUFFIXES, RulePack
from sigma.pipelines.okta.model import AggregateCorrelationRule
from sigma.pipelines.okta.standard import as_aggregate
from sigma.pipelines.okta.yaml_positions import Document, read_documents

from ..engine.timestamps import parse_time
from .model import (
    AlertCount,
    Bounds,
    DetectionTest,
    EventExpectation,
    EventFile,
    Expectation,
    GeneratedEvents,
    GroundTruth,
    GroupExpectation,
    InlineEvent,
    TestFile,
    Uncovered,
)

DEFAULT_START = "2026-03-10T14:00:00Z"  # an hour boundary: `at` offsets read as seconds into a window

_FILE_KEYS = {"rules", "uncovered", "start", "templates", "tests"}
_TEST_KEYS = {"name", "rules", "uncovered", "start", "events", "event_files", "generate", "expect"}
_EVENT_KEYS = {
    "name",
    "like",
    "at",
    "repeat",
    "every",
}  # test-only keys of an inline event; everything else is the event
_OFFSET = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_OFFSET_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_GENERATE_KEYS = {"seed", "scenarios", "sessions", "background"}


class TestConfigError(AggregateRuleError):
    """A problem in a tests file: ``path:line:column: test 'name': message``."""

    __test__ = False  # not a pytest class

    def __str__(self) -> str:
        return super().__str__().replace(": rule '", ": test '", 1)


def is_tests_file(path: Path) -> bool:
    return path.name.endswith(TESTS_SUFFIXES)


def load_tests_file(path: Path) -> TestFile:
    """Parse one tests file; raises :class:`RulePackError` listing every problem found."""
    errors: list[SigmaError] = []
    try:
        documents = read_documents(path, yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        mark = getattr(error, "problem_mark", None)
        location = (
            SigmaRuleLocation(path, mark.line + 1, mark.column + 1) if mark else SigmaRuleLocation(path)
        )
        raise RulePackError([TestConfigError(f"cannot read tests: {error}", source=location)]) from error
    documents = [document for document in documents if document.data is not None]
    if len(documents) != 1 or not isinstance(documents[0].data, dict):
        raise RulePackError(
            [
                TestConfigError(
                    "a tests file is one YAML mapping with a `tests` list", source=SigmaRuleLocation(path)
                )
            ]
        )
    parsed = _FileParser(documents[0], errors).parse()
    if errors:
        raise RulePackError(errors)
    return parsed


class _FileParser:
    def __init__(self, document: Document, errors: list[SigmaError]):
        self.document = document
        self.errors = errors
        self.test_name: str | None = None

    # -- helpers -----------------------------------------------------------------------------------

    def at(self, keys: Iterable[str | int], *, key: bool = False) -> SigmaRuleLocation:
        return self.document.locate(list(keys), key=key)

    def error(self, message: str, keys: Iterable[str | int], *, key: bool = False) -> None:
        self.errors.append(TestConfigError(message, source=self.at(keys, key=key), rule=self.test_name))

    def keys_known(self, data: dict, known: set[str], keys: list[str | int], what: str) -> None:
        for key in data:
            if key not in known:
                self.error(
                    f"unknown key '{key}' in {what} (known: {', '.join(sorted(known))})",
                    [*keys, key],
                    key=True,
                )

    def rule_list(self, value: Any, keys: list[str | int]) -> list[str] | None:
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
            return list(value)
        self.error("`rules` is a rule id or name, or a list of them", keys)
        return None

    def policy(self, value: Any, keys: list[str | int]) -> Uncovered | None:
        try:
            return Uncovered(value)
        except ValueError:
            self.error(f"`uncovered` is fail, warn or ignore, not {value!r}", keys)
            return None

    def time(self, value: Any, keys: list[str | int]) -> int | None:
        try:
            return parse_time(value.isoformat() if hasattr(value, "isoformat") else value)
        except (ValueError, TypeError, OverflowError):
            self.error(f"{value!r} is not a time (ISO 8601, or epoch seconds)", keys)
            return None

    # -- file ----------------------------------------------------------------------------------------

    def parse(self) -> TestFile:
        data = self.document.data
        self.keys_known(data, _FILE_KEYS, [], "a tests file")
        rules = self.rule_list(data["rules"], ["rules"]) if "rules" in data else None
        uncovered = self.policy(data.get("uncovered", "fail"), ["uncovered"]) or Uncovered.FAIL
        start = self.time(data.get("start", DEFAULT_START), ["start"])
        templates = data.get("templates", {})
        if not isinstance(templates, dict) or not all(isinstance(t, dict) for t in templates.values()):
            self.error("`templates` maps names to partial events", ["templates"])
            templates = {}
        tests = data.get("tests")
        if not isinstance(tests, list) or not tests:
            self.error("`tests` is a non-empty list of tests", ["tests"])
            tests = []
        parsed = []
        for index, test in enumerate(tests):
            result = self.test(test, index, rules, uncovered, start or 0, templates)
            if result is not None:
                parsed.append(result)
        names = [test.name for test in parsed]
        for index, name in enumerate(names):
            if name in names[:index]:
                self.error(f"two tests are named '{name}'", ["tests", index, "name"])
        return TestFile(self.document.path, parsed, templates)

    # -- test ----------------------------------------------------------------------------------------

    def test(
        self,
        data: Any,
        index: int,
        rules: list[str] | None,
        uncovered: Uncovered,
        start: int,
        templates: dict,
    ) -> DetectionTest | None:
        keys: list[str | int] = ["tests", index]
        if not isinstance(data, dict):
            self.error("a test is a mapping with `name`, events and `expect`", keys)
            return None
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            self.error("a test needs a `name`", keys)
            name = f"test {index + 1}"
        self.test_name = name
        self.keys_known(data, _TEST_KEYS, keys, "a test")
        if "rules" in data:
            rules = self.rule_list(data["rules"], [*keys, "rules"])
        elif rules is None:
            self.error("no `rules`: name the rules under test in the file or in the test", keys)
        if "uncovered" in data:
            uncovered = self.policy(data["uncovered"], [*keys, "uncovered"]) or uncovered
        if "start" in data:
            start = self.time(data["start"], [*keys, "start"]) or start
        events = self.events(data, keys, templates)
        expectations = self.expectations(data.get("expect"), [*keys, "expect"], rules or [])
        self.test_name = None
        return DetectionTest(name, rules or [], events, expectations, uncovered, start, self.at(keys))

    def events(self, data: dict, keys: list[str | int], templates: dict) -> list:
        events: list[InlineEvent | EventFile | GeneratedEvents] = []
        inline = data.get("events", [])
        if not isinstance(inline, list):
            self.error("`events` is a list of (partial) Okta events", [*keys, "events"])
            inline = []
        for number, event in enumerate(inline):
            where = [*keys, "events", number]
            if not isinstance(event, dict):
                self.error("an event is a mapping of LogEvent fields", where)
                continue
            like = event.get("like")
            if like is not None and like not in templates:
                self.error(
                    f"unknown template '{like}' (templates: {', '.join(templates) or 'none'})",
                    [*where, "like"],
                )
            at = event.get("at")
            seconds = None
            if at is not None:
                seconds = self.offset(at, [*where, "at"])
            name = event.get("name")
            if name is not None and not isinstance(name, str | int):
                self.error("an event's `name` is a string", [*where, "name"])
                name = None
            repeat, every = event.get("repeat", 1), 0.0
            if not isinstance(repeat, int) or isinstance(repeat, bool) or not 1 <= repeat <= 100_000:
                self.error("`repeat` is a count from 1 to 100000", [*where, "repeat"])
                repeat = 1
            if "every" in event:
                every = self.offset(event["every"], [*where, "every"]) or 0.0
            elif repeat > 1:
                self.error("`repeat` needs `every`: how far apart the copies are", [*where, "repeat"])
            if repeat > 1 and seconds is None:
                self.error("`repeat` needs `at`: when the first copy is", [*where, "repeat"])
            fields = {key: value for key, value in event.items() if key not in _EVENT_KEYS}
            events.append(
                InlineEvent(
                    fields, None if name is None else str(name), like, seconds, self.at(where), repeat, every
                )
            )
        files = data.get("event_files", [])
        if isinstance(files, str):
            files = [files]
        if not isinstance(files, list) or not all(isinstance(item, str) for item in files):
            self.error("`event_files` is a list of paths relative to this file", [*keys, "event_files"])
            files = []
        for number, name in enumerate(files):
            path = self.document.path.parent / name
            where = [*keys, "event_files", number]
            if not path.is_file():
                self.error(f"no such event file: {path}", where)
            events.append(EventFile(path, self.at(where)))
        if "generate" in data:
            generated = self.generate(data["generate"], [*keys, "generate"])
            if generated is not None:
                events.append(generated)
        if not events:
            self.error("a test needs `events`, `event_files` or `generate`", keys)
        return events

    def offset(self, value: Any, keys: list[str | int]) -> float | None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and (match := _OFFSET.fullmatch(value.strip())):
            return float(match.group(1)) * _OFFSET_UNITS[match.group(2)]
        self.error(f"`at` and `every` are seconds or a span like 1.5s, 90s or 5m, not {value!r}", keys)
        return None

    def generate(self, value: Any, keys: list[str | int]) -> GeneratedEvents | None:
        from ..generator import LABELS as SCENARIOS

        if not isinstance(value, dict):
            self.error("`generate` is a mapping: seed, scenarios, sessions, background", keys)
            return None
        self.keys_known(value, _GENERATE_KEYS, keys, "`generate`")
        scenarios = value.get("scenarios")
        if isinstance(scenarios, str):
            scenarios = [scenarios]
        if not isinstance(scenarios, list) or not scenarios:
            self.error(
                f"`scenarios` names generator scenarios ({', '.join(SCENARIOS)})", [*keys, "scenarios"]
            )
            return None
        for number, scenario in enumerate(scenarios):
            if scenario not in SCENARIOS:
                self.error(
                    f"unknown scenario '{scenario}' (scenarios: {', '.join(SCENARIOS)})",
                    [*keys, "scenarios", number],
                )
        integers = {}
        for key, default in (("seed", 1), ("sessions", 3), ("background", 200)):
            number = value.get(key, default)
            if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                self.error(f"`{key}` is a whole number >= 0", [*keys, key])
                number = default
            integers[key] = number
        return GeneratedEvents(
            integers["seed"], tuple(scenarios), integers["sessions"], integers["background"], self.at(keys)
        )

    # -- expectations ----------------------------------------------------------------------------------

    def expectations(self, value: Any, keys: list[str | int], rules: list[str]) -> list[Expectation]:
        if not isinstance(value, list) or not value:
            self.error("`expect` is a non-empty list of expectations", keys)
            return []
        parsed: list[Expectation] = []
        for index, item in enumerate(value):
            where = [*keys, index]
            if not isinstance(item, dict):
                self.error("an expectation is a mapping (alerts, group or event)", where)
                continue
            kinds = [kind for kind in ("alerts", "group", "event", "ground_truth") if kind in item]
            if len(kinds) != 1:
                self.error(
                    "an expectation has exactly one of `alerts`, `group`, `event` or `ground_truth`", where
                )
                continue
            rule = item.get("rule")
            if rule is None:
                if len(rules) != 1:
                    self.error("the test covers several rules: say which with `rule`", where)
                    continue
                rule = rules[0]
            elif not isinstance(rule, str):
                self.error("`rule` is a rule id or name", [*where, "rule"])
                continue
            parse: Callable[..., Expectation | None] = getattr(self, f"expect_{kinds[0]}")
            expectation = parse(item, where, rule)
            if expectation is not None:
                parsed.append(expectation)
        return parsed

    def expect_alerts(self, item: dict, where: list, rule: str) -> AlertCount | None:
        self.keys_known(item, {"alerts", "rule", "window"}, where, "an `alerts` expectation")
        value = item["alerts"]
        bounds = None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            bounds = Bounds(value, value)
        elif isinstance(value, dict) and value and set(value) <= {"at_least", "at_most", "exactly"}:
            numbers = list(value.values())
            if all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
                if "exactly" in value and len(value) > 1:
                    self.error("`exactly` stands alone", [*where, "alerts"])
                elif "exactly" in value:
                    bounds = Bounds(value["exactly"], value["exactly"])
                elif value.get("at_least", 0) > value.get("at_most", value.get("at_least", 0)):
                    self.error("`at_least` is larger than `at_most`", [*where, "alerts"])
                else:
                    bounds = Bounds(value.get("at_least"), value.get("at_most"))
        if bounds is None:
            if not any(error.source == self.at([*where, "alerts"]) for error in self.errors):
                self.error(
                    "`alerts` is a count, or {at_least: N, at_most: M} or {exactly: N}", [*where, "alerts"]
                )
            return None
        window = self.time(item["window"], [*where, "window"]) if "window" in item else None
        return AlertCount(rule, bounds, window, self.at(where))

    def expect_group(self, item: dict, where: list, rule: str) -> GroupExpectation | None:
        known = {"group", "rule", "fires", "metrics", "fields", "first_seen", "window"}
        self.keys_known(item, known, where, "a `group` expectation")
        group = item["group"]
        if not isinstance(group, dict) or not all(isinstance(k, str) for k in group):
            self.error("`group` maps each group-by field to its value", [*where, "group"])
            return None
        fires = item.get("fires", True)
        if not isinstance(fires, bool):
            self.error("`fires` is true or false", [*where, "fires"])
            return None
        metrics = item.get("metrics", {})
        if not isinstance(metrics, dict):
            self.error("`metrics` maps metric and derived names to their values", [*where, "metrics"])
            metrics = {}
        fields = item.get("fields", {})
        if not isinstance(fields, dict):
            self.error("`fields` maps output field names to their values", [*where, "fields"])
            fields = {}
        fields = {name: value if isinstance(value, list) else [value] for name, value in fields.items()}
        first_seen = self.time(item["first_seen"], [*where, "first_seen"]) if "first_seen" in item else None
        window = self.time(item["window"], [*where, "window"]) if "window" in item else None
        key_locations = {
            f"{part}.{name}": self.at([*where, part, name], key=True)
            for part in ("metrics", "fields")
            for name in item.get(part) or {}
        }
        return GroupExpectation(
            rule,
            {name: _group_text(value) for name, value in group.items()},
            fires,
            metrics,
            {name: [_group_text(v) for v in values] for name, values in fields.items()},
            first_seen,
            window,
            self.at(where),
            key_locations,
        )

    def expect_ground_truth(self, item: dict, where: list, rule: str) -> GroundTruth | None:
        self.keys_known(item, {"ground_truth", "rule"}, where, "a `ground_truth` expectation")
        if item["ground_truth"] is not True:
            self.error("`ground_truth` is true (or leave it out)", [*where, "ground_truth"])
            return None
        return GroundTruth(rule, self.at(where))

    def expect_event(self, item: dict, where: list, rule: str) -> EventExpectation | None:
        self.keys_known(item, {"event", "rule", "matches"}, where, "an `event` expectation")
        matches = item.get("matches", True)
        if not isinstance(matches, bool):
            self.error("`matches` is true or false", [*where, "matches"])
            return None
        return EventExpectation(rule, str(item["event"]), matches, self.at(where))


def _group_text(value: Any) -> str:
    """A group value as the engine reports it: missing values group as the text NULL."""
    from sigma.pipelines.okta.semantics import NULL_TEXT, text_of

    text = text_of(value)
    return NULL_TEXT if text is None else text


# --- references against the rule pack -------------------------------------------------------------------


def check_references(tests: TestFile, pack: RulePack) -> list[SigmaError]:
    """Unknown rules, unknown metric, field and group-by names, and expectations that do not fit the
    kind of rule (a group of a base rule, an event of a correlation)."""
    errors: list[SigmaError] = []
    for test in tests.tests:

        def error(message: str, location: SigmaRuleLocation, test: DetectionTest = test) -> None:
            errors.append(TestConfigError(message, source=location, rule=test.name))

        tested = set()
        for reference in test.rules:
            found = find_rule(pack, reference)
            if found is None:
                error(f"unknown rule '{reference}' ({_known_rules(pack)})", test.location)
            else:
                tested.add(rule_key(found))
        for expectation in test.expectations:
            rule = find_rule(pack, expectation.rule)
            if rule is None:
                error(f"unknown rule '{expectation.rule}' ({_known_rules(pack)})", expectation.location)
                continue
            if rule_key(rule) not in tested:
                error(f"rule '{expectation.rule}' is not among the test's `rules`", expectation.location)
            aggregate = as_correlation(rule)
            if isinstance(expectation, GroupExpectation):
                if aggregate is None:
                    error(
                        f"'{expectation.rule}' is a single-event rule: expect `event` or `alerts`",
                        expectation.location,
                    )
                    continue
                if set(expectation.group) != set(aggregate.group_by):
                    error(
                        f"the group of '{expectation.rule}' is {', '.join(aggregate.group_by) or '(none)'}; "
                        f"got {', '.join(expectation.group) or '(none)'}",
                        expectation.location,
                    )
                known = [m.name for m in aggregate.metrics] + [d.name for d in aggregate.derived]
                for name in expectation.metrics:
                    if name not in known:
                        error(
                            f"unknown metric '{name}' of '{expectation.rule}' (known: {', '.join(known)})",
                            expectation.key_locations.get(f"metrics.{name}", expectation.location),
                        )
                outputs = [output.name for output in aggregate.outputs]
                for name in expectation.fields:
                    if name not in outputs:
                        error(
                            f"unknown output field '{name}' of '{expectation.rule}' (known: {', '.join(outputs) or 'none'})",
                            expectation.key_locations.get(f"fields.{name}", expectation.location),
                        )
            elif isinstance(expectation, GroundTruth):
                if not any(isinstance(source, GeneratedEvents) for source in test.events):
                    error("`ground_truth` needs generated events (`generate`)", expectation.location)
                elif str(rule.id) != GENERATED_RULE_ID:
                    error(
                        f"the generator's ground truth is about rule {GENERATED_RULE_ID}, not '{expectation.rule}'",
                        expectation.location,
                    )
            elif isinstance(expectation, AlertCount) and aggregate is None and expectation.window is not None:
                error(f"'{expectation.rule}' is a single-event rule: it has no windows", expectation.location)
            elif isinstance(expectation, EventExpectation) and aggregate is not None:
                error(
                    f"'{expectation.rule}' is a correlation: expect `group` or `alerts`", expectation.location
                )
    return errors


GENERATED_RULE_ID = "8085b79b-9b85-4e67-ad63-351c9e9a5e9a"  # the rule the generator's ground truth is about


def find_rule(pack: RulePack, reference: str) -> Any:
    for rule in [*pack.collection.rules, *pack.aggregates]:
        if reference in (rule.name, str(rule.id) if rule.id else None):
            return rule
    return None


def rule_key(rule: Any) -> str:
    """How alerts name a rule: its id, else its title (the engine's ``rule_id`` is None then)."""
    return str(rule.id) if rule.id else f"title:{rule.title}"


def as_correlation(rule: Any) -> AggregateCorrelationRule | None:
    from sigma.correlations import SigmaCorrelationRule

    if isinstance(rule, AggregateCorrelationRule):
        return rule
    if isinstance(rule, SigmaCorrelationRule):
        return as_aggregate(rule)
    return None


def _known_rules(pack: RulePack) -> str:
    names = [rule.name or str(rule.id) for rule in [*pack.collection.rules, *pack.aggregates]]
    return "rules: " + ", ".join(names)
