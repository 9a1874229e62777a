"""Expectations checked against what an engine reported, each with a verdict and, when it fails, an
explanation: expected and actual values, and for a correlation group the condition clause by clause."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sigma.exceptions import SigmaRuleLocation

from sigma.pipelines.okta.loader import RulePack
from sigma.pipelines.okta.model import MetricKind

from ..engine.timestamps import format_time, parse_time
from .engines import Outcome
from .events import TestEvents
from .explain import explain_condition
from .model import (
    AlertCount,
    DetectionTest,
    EventExpectation,
    Expectation,
    GroundTruth,
    GroupExpectation,
    Uncovered,
)
from .parser import as_correlation, find_rule, rule_key


class Verdict(Enum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"  # an uncovered alert under `uncovered: warn`
    ERROR = "error"  # the engine could not run


@dataclass
class Check:
    """One expectation of one test on one engine (or an uncovered alert)."""

    description: str
    verdict: Verdict
    location: SigmaRuleLocation
    rule: Any  # the rule concerned (SigmaRule / correlation), for reports
    message: str = ""  # why it failed, several lines

    @property
    def passed(self) -> bool:
        return self.verdict in (Verdict.PASS, Verdict.WARN)


def check_test(test: DetectionTest, pack: RulePack, outcome: Outcome, events: TestEvents) -> list[Check]:
    checks = [_check(expectation, pack, outcome, events) for expectation in test.expectations]
    if test.uncovered is not Uncovered.IGNORE:
        checks.extend(_uncovered(test, pack, outcome, events))
    return checks


def _alert_key(alert: dict[str, Any]) -> str:
    return alert["rule_id"] or f"title:{alert['rule_title']}"


def _in_window(alert: dict[str, Any], time_us: int | None) -> bool:
    if time_us is None:
        return True
    return parse_time(alert["window"]["start"]) <= time_us < parse_time(alert["window"]["end"])


def _check(expectation: Expectation, pack: RulePack, outcome: Outcome, events: TestEvents) -> Check:
    rule = find_rule(pack, expectation.rule)
    key = rule_key(rule)
    description = expectation.describe()
    if isinstance(expectation, AlertCount):
        alerts = [
            alert
            for alert in outcome.alerts()
            if _alert_key(alert) == key and ("window" not in alert or _in_window(alert, expectation.window))
        ]
        if expectation.bounds.holds(len(alerts)):
            return Check(description, Verdict.PASS, expectation.location, rule)
        shown = "\n".join(f"  {_alert_line(alert)}" for alert in alerts[:20])
        message = f"expected {expectation.bounds} alert(s), got {len(alerts)}" + (
            f":\n{shown}" if shown else ""
        )
        return Check(description, Verdict.FAIL, expectation.location, rule, message)
    if isinstance(expectation, GroupExpectation):
        return _check_group(expectation, rule, outcome, description)
    if isinstance(expectation, GroundTruth):
        return _check_ground_truth(expectation, rule, outcome, events, description)
    return _check_event(expectation, rule, key, outcome, events, description)


def _check_group(expectation: GroupExpectation, rule: Any, outcome: Outcome, description: str) -> Check:
    aggregate = as_correlation(rule)
    key = rule_key(rule)
    groups = [
        group
        for group in outcome.groups
        if _alert_key(group) == key
        and group["group"] == expectation.group
        and _in_window(group, expectation.window)
    ]
    fail = lambda message: Check(description, Verdict.FAIL, expectation.location, rule, message)  # noqa: E731
    wants_values = expectation.metrics or expectation.fields or expectation.first_seen is not None
    if not groups:
        if not expectation.fires and not wants_values:
            return Check(description, Verdict.PASS, expectation.location, rule)
        seen = sorted({_group_text(group["group"]) for group in outcome.groups if _alert_key(group) == key})
        return fail(
            "no such group in the events"
            + (f"; groups seen: {', '.join(seen[:10])}" if seen else "; the rule formed no group at all")
        )
    firing = [group for group in groups if group.get("condition", True)]
    if (expectation.fires and not firing) or (not expectation.fires and firing):
        shown = groups if expectation.fires else firing
        lines = [
            f"expected the group {'to fire' if expectation.fires else 'not to fire'}; it "
            f"{'did not fire' if expectation.fires else 'fired'}"
        ]
        for group in shown[:3]:
            lines.append(f"window {group['window']['start']} .. {group['window']['end']}:")
            lines.extend(f"  {line}" for line in explain_condition(aggregate, group["metrics"]))
        return fail("\n".join(lines))
    if not wants_values:
        return Check(description, Verdict.PASS, expectation.location, rule)
    candidates = firing if expectation.fires else groups
    if len(candidates) > 1:
        windows = ", ".join(group["window"]["start"] for group in candidates)
        return fail(f"the group is in several windows ({windows}): say which with `window`")
    (group,) = candidates
    problems = []
    kinds = {metric.name: metric.kind for metric in aggregate.metrics}
    for name, wanted in expectation.metrics.items():
        actual = group["metrics"].get(name)
        if not _same_value(wanted, actual, kinds.get(name)):
            problems.append(f"metric {name}: expected {_text(wanted)}, got {_text(actual)}")
    for name, wanted in expectation.fields.items():
        actual = group["fields"].get(name, [])
        if sorted(wanted) != sorted(actual):
            problems.append(f"field {name}: expected {sorted(wanted)}, got {sorted(actual)}")
    if expectation.first_seen is not None and parse_time(group["first_seen"]) != expectation.first_seen:
        problems.append(
            f"first_seen: expected {format_time(expectation.first_seen)}, got {group['first_seen']}"
        )
    if not problems:
        return Check(description, Verdict.PASS, expectation.location, rule)
    lines = [*problems, f"all values of the group: {_metrics_text(group['metrics'])}"]
    lines.extend(explain_condition(aggregate, group["metrics"]))
    return fail("\n".join(lines))


def _check_ground_truth(
    expectation: GroundTruth, rule: Any, outcome: Outcome, events: TestEvents, description: str
) -> Check:
    key = rule_key(rule)
    found = {
        (parse_time(group["window"]["start"]), next(iter(group["group"].values()), ""))
        for group in outcome.alerts()
        if _alert_key(group) == key and "window" in group
    }
    expected = events.expected_alerts or set()
    missed, unexpected = sorted(expected - found), sorted(found - expected)
    if not missed and not unexpected:
        return Check(description, Verdict.PASS, expectation.location, rule)
    lines = [f"{len(expected)} expected, {len(expected & found)} found"]
    lines += [f"missed      {format_time(window)}  {session}" for window, session in missed]
    lines += [f"unexpected  {format_time(window)}  {session}" for window, session in unexpected]
    return Check(description, Verdict.FAIL, expectation.location, rule, "\n".join(lines))


def _check_event(
    expectation: EventExpectation, rule: Any, key: str, outcome: Outcome, events: TestEvents, description: str
) -> Check:
    uuid = events.by_name.get(expectation.event, expectation.event)
    matched = any(_alert_key(match) == key and match["event_id"] == uuid for match in outcome.matches)
    if matched == expectation.matches:
        return Check(description, Verdict.PASS, expectation.location, rule)
    message = f"expected the event {'to match' if expectation.matches else 'not to match'}; it {'did not' if expectation.matches else 'did'}"
    if uuid not in events.by_name.values():
        message += f" (no inline event is named '{expectation.event}'; read as a uuid)"
    message += (
        f"\nsee why: sigma-okta explain {rule.name or rule.id} --events <the test's events> --event {uuid}"
    )
    return Check(description, Verdict.FAIL, expectation.location, rule, message)


def _uncovered(test: DetectionTest, pack: RulePack, outcome: Outcome, events: TestEvents) -> list[Check]:
    tested = {
        rule_key(rule): rule for reference in test.rules if (rule := find_rule(pack, reference)) is not None
    }
    checks = []
    for alert in outcome.alerts():
        key = _alert_key(alert)
        if key not in tested or _covered(alert, test, pack, events):
            continue
        verdict = Verdict.FAIL if test.uncovered is Uncovered.FAIL else Verdict.WARN
        checks.append(
            Check(
                f"no unexpected alerts ({_alert_line(alert)})",
                verdict,
                test.location,
                tested[key],
                f"an alert that no expectation covers (`uncovered: {test.uncovered.value}`):\n  {_alert_line(alert)}",
            )
        )
    return checks


def _covered(alert: dict[str, Any], test: DetectionTest, pack: RulePack, events: TestEvents) -> bool:
    key = _alert_key(alert)
    for expectation in test.expectations:
        if rule_key(find_rule(pack, expectation.rule)) != key:
            continue
        if isinstance(expectation, AlertCount) and (
            "window" not in alert or _in_window(alert, expectation.window)
        ):
            return True
        if (
            isinstance(expectation, GroupExpectation)
            and expectation.fires
            and alert.get("group") == expectation.group
            and _in_window(alert, expectation.window)
        ):
            return True
        if isinstance(expectation, GroundTruth):
            return True
        if (
            isinstance(expectation, EventExpectation)
            and expectation.matches
            and alert.get("event_id") == events.by_name.get(expectation.event, expectation.event)
        ):
            return True
    return False


def _same_value(wanted: Any, actual: Any, kind: MetricKind | None) -> bool:
    if kind in (MetricKind.FIRST_SEEN, MetricKind.LAST_SEEN) and wanted is not None and actual is not None:
        try:
            return parse_time(_iso(wanted)) == parse_time(actual)
        except ValueError:
            return False
    if isinstance(wanted, bool) or isinstance(actual, bool):
        return wanted is actual
    if isinstance(wanted, int | float) and isinstance(actual, int | float):
        return math.isclose(wanted, actual, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(wanted, list) and isinstance(actual, list):
        return sorted(map(str, wanted)) == sorted(map(str, actual))
    return wanted == actual


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _alert_line(alert: dict[str, Any]) -> str:
    if "window" in alert:
        return (
            f"{alert['rule_title']}: group {_group_text(alert['group'])}, window {alert['window']['start']}"
        )
    return f"{alert['rule_title']}: event {alert['event_id']} at {alert['time']}"


def _group_text(group: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value}" for name, value in group.items()) or "(all events)"


def _metrics_text(metrics: dict[str, Any]) -> str:
    return ", ".join(f"{name}={_text(value)}" for name, value in metrics.items())


def _text(value: Any) -> str:
    return "null" if value is None else repr(value) if isinstance(value, str) else str(value)
