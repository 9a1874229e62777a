"""Ground truth for every rule of the pack: the rule inputs the emitted steps were built as (``Feed``s,
see ``pack.py``) counted per epoch-aligned tumbling window and group, the thresholds applied, and the
alerts the pack must produce; and whether each scenario's declared intent (fires / near miss) held.

Nothing here reads an event: the feeds are what the builders planted, with the time they were placed at.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from .pack import PACK_RULES, PACK_RULES_BY_NAME, PUSH_MISMATCH, RISK_THRESHOLD, USER_RISK_TECHNIQUES, Feed
from .values import _iso_millis, _iso_seconds


@dataclass(frozen=True)
class Intent:
    """What a scenario was built to do to one rule's group: fire, or come close and not fire.
    ``offset_ms`` is a time inside the window meant (relative to the design's start)."""

    rule: str
    group: tuple
    offset_ms: int
    fires: bool


class PackTruth:
    """Feeds of the emitted steps, per rule, window and group; then the expected alerts."""

    def __init__(self) -> None:
        self._matches: dict[str, list[tuple[int, Any]]] = defaultdict(list)
        # (rule, window start ms, group) -> event count | set of values | (ips, oses, browsers) | hunt counts
        self._windows: dict[tuple[str, int, tuple], Any] = {}
        self._intents: list[tuple[Intent, int, str]] = []  # intent, absolute window start, scenario label

    def add(self, feeds: tuple[Feed, ...], when_ms: int) -> None:
        for feed in feeds:
            rule = PACK_RULES_BY_NAME[feed.rule]
            if rule.kind == "match":
                self._matches[rule.name].append((when_ms, feed.group[0]))
                continue
            key = (rule.name, when_ms - when_ms % rule.window_ms, feed.group)
            if rule.kind == "event_count":
                self._windows[key] = self._windows.get(key, 0) + 1
            elif rule.kind == "value_count":
                self._windows.setdefault(key, set()).add(feed.value)
            elif rule.kind in _COUNTED_KINDS:  # a count per kind of input
                counts = self._windows.setdefault(key, dict.fromkeys(_COUNTED_KINDS[rule.kind], 0))
                counts[feed.value] += 1
            else:  # session_cookie: distinct address, OS and browser
                sets = self._windows.setdefault(key, (set(), set(), set()))
                for values, value in zip(sets, feed.value, strict=True):
                    values.add(value)

    def intend(self, intent: Intent, start_ms: int, label: str) -> None:
        rule = PACK_RULES_BY_NAME[intent.rule]
        when = start_ms + intent.offset_ms
        self._intents.append((intent, when - when % rule.window_ms, label))

    def _groups(self) -> dict[str, list[dict[str, Any]]]:
        """Every windowed group with its metrics and whether the rule's condition holds."""
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for (name, window, group), state in sorted(self._windows.items(), key=_sort_key):
            rule = PACK_RULES_BY_NAME[name]
            if rule.kind == "event_count":
                metrics = {"event_count": state}
                fires = rule.holds(state)
            elif rule.kind == "value_count":
                metrics = {"value_count": len(state)}
                fires = rule.holds(len(state))
            elif rule.kind == "mfa_hunt":
                metrics = _hunt_metrics(state["push"], state["SUCCESS"], state["FAILURE"])
                fires = state["push"] > 1
            elif rule.kind == "failed_apps":
                challenges, successes = state["challenge"], state["sso"]
                metrics = {"total_challenges": challenges, "total_successes": successes}
                # round(successes / challenges, 2) < 0.5, exactly: below 0.495, which rounds up to 0.5
                fires = challenges > 2 and 200 * successes < 99 * challenges
            elif rule.kind == "single_factor":
                metrics = {"verifications": state[False] + state[True], "okta_verify": state[True]}
                fires = state[True] == 0
            else:
                ips, oses, browsers = map(len, state)
                metrics = {"dc_src_ip": ips, "dc_user_agent_os": oses, "dc_user_agent_browser": browsers}
                fires = ips > 1 and (oses > 1 or browsers > 1)
            groups[name].append(
                {
                    "window_start": _iso_seconds(window),
                    "group": dict(zip(rule.group_by, group, strict=True)),
                    "metrics": metrics,
                    "alert": fires,
                }
            )
        return groups

    def rules(
        self, push_groups: list[dict[str, Any]], push_users: dict[tuple[str, str], list[str]]
    ) -> dict[str, dict[str, Any]]:
        """Per rule id: its name, title and the alerts it must produce (``alerts``), sorted; for
        correlations also every group that stayed under its threshold (``near``), for diagnosis.
        ``push_users``: the users of each alerting push-rule group (window start, session), the risk
        objects of its alerts."""
        groups = self._groups()
        groups[PUSH_MISMATCH] = [
            {
                "window_start": g["window_start"],
                "group": {"authenticationContext.externalSessionId": g["group"]},
                "metrics": {k: v for k, v in g.items() if k not in ("window_start", "group", "alert")},
                "alert": g["alert"],
            }
            for g in push_groups
        ]
        result: dict[str, dict[str, Any]] = {}
        for rule in PACK_RULES:
            if rule.kind == "risk_threshold":
                continue  # over the alerts of the others, below
            entry: dict[str, Any] = {"name": rule.name, "title": rule.title, "kind": rule.kind}
            if rule.kind == "match":
                entry["object_field"] = rule.object_field
                entry["alerts"] = [
                    {"time": _iso_millis(ms), "object": value}
                    for ms, value in sorted(
                        self._matches[rule.name], key=lambda item: (item[0], str(item[1]))
                    )
                ]
            else:
                entry["group_by"] = list(rule.group_by)
                entry["alerts"] = [_without_alert(g) for g in groups[rule.name] if g["alert"]]
                entry["groups_not_alerting"] = sum(1 for g in groups[rule.name] if not g["alert"])
            result[rule.rule_id] = entry
        risk = PACK_RULES_BY_NAME[RISK_THRESHOLD]
        result[risk.rule_id] = {
            "name": risk.name,
            "title": risk.title,
            "kind": risk.kind,
            "group_by": list(risk.group_by),
            "alerts": risk_alerts(result, push_users),
        }
        return result

    def intents(self, rules: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """Every scenario intent with whether the truth bears it out."""
        alerting = {
            (PACK_RULES_BY_NAME[entry["name"]].name, alert["window_start"], tuple(alert["group"].values()))
            for entry in rules.values()
            if entry["kind"] != "match"
            for alert in entry["alerts"]
        }
        found = []
        for intent, window, label in self._intents:
            start = _iso_seconds(window)
            fired = (intent.rule, start, intent.group) in alerting
            found.append(
                {
                    "label": label,
                    "rule": intent.rule,
                    "window_start": start,
                    "group": list(intent.group),
                    "fires": intent.fires,
                    "held": fired == intent.fires,
                }
            )
        return found


def risk_alerts(rules: dict[str, dict[str, Any]], push_users: dict[tuple[str, str], list[str]]) -> list[dict]:
    """The alerts of the risk rule: per user and UTC day, the distinct techniques of the alerts about
    that user (a match's object, a correlation's user: its group's, or the push session's users), more
    than five. A correlation alert's risk is at its first event, inside its window, so in the window's
    day: every window of the pack divides a day."""
    techniques: dict[tuple[str, str], set[str]] = defaultdict(set)
    for entry in rules.values():
        found = USER_RISK_TECHNIQUES.get(entry["name"])
        if found is None:
            continue
        for alert in entry["alerts"]:
            if entry["kind"] == "match":
                day, users = alert["time"][:10], [alert["object"]]
            elif entry["kind"] == "push_mismatch":
                group = alert["group"]["authenticationContext.externalSessionId"]
                day, users = alert["window_start"][:10], push_users[(alert["window_start"], group)]
            else:
                day, users = alert["window_start"][:10], [alert["group"]["actor.alternateId"]]
            for user in users:
                if user is not None:
                    techniques[(day, str(user))].update(found)
    risk = PACK_RULES_BY_NAME[RISK_THRESHOLD]
    return [
        {
            "window_start": f"{day}T00:00:00Z",
            "group": {"risk_object": user},
            "metrics": {"mitre_technique_id_count": len(found)},
        }
        for (day, user), found in sorted(techniques.items())
        if risk.holds(len(found))
    ]


#: per kind of aggregate counted by input: the values its feeds carry
_COUNTED_KINDS = {
    "mfa_hunt": ("push", "SUCCESS", "FAILURE"),
    "failed_apps": ("challenge", "sso"),
    "single_factor": (False, True),  # a verification that involved Okta Verify, or not
}


def _sort_key(item: tuple[tuple[str, int, tuple], Any]) -> tuple:
    name, window, group = item[0]
    return name, window, tuple(str(value) for value in group)


def _without_alert(group: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in group.items() if key != "alert"}


def _hunt_metrics(pushes: int, successes: int, failures: int) -> dict[str, Any]:
    """The hunt's counts and ESCU's three findings (``seconds`` is left out: a float of two times)."""
    return {
        "pushes": pushes,
        "successes": successes,
        "failures": failures,
        "total_attempts": successes + failures,
        "pushes_denied": failures == pushes and pushes > 1,
        "pushes_ignored": successes + failures == 0,
        "success_after_pushes": successes > 0 and pushes > 3,
    }
