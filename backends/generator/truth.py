"""Ground truth: what a scenario session was built with (``_Facts``), the rule's metrics and alert
condition computed from it (not by evaluating events), and the truth file's shapes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from .rule import RULE_ID, RULE_NAME
from .values import _round_half_away


@dataclass
class SessionTruth:
    """The ground truth of one labelled scenario session."""

    label: str
    expected_alert: bool
    session_id: str | None
    group: str
    user: str
    users: list[str]
    window_start: str
    first_published: str
    last_published: str
    design: dict[str, Any]
    case_twin_of: str | None = None
    family: str = "push"
    crosses_window: bool = False  # built across an hour boundary (a near miss of the next window)


@dataclass
class GroundTruth:
    """Every scenario session, every push-rule group (window, session) with its metrics and the alerts;
    ``rules``: the alerts of every rule of the pack, by rule id (``pack_truth.PackTruth.rules``);
    ``intents``: what each scenario was built to do to a rule's group, and whether it held."""

    config: dict[str, Any]
    sessions: list[SessionTruth]
    groups: list[dict[str, Any]]
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    intents: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pack_alerts(self) -> int:
        """How many alerts the whole pack must produce."""
        return sum(len(rule["alerts"]) for rule in self.rules.values())

    @property
    def broken_intents(self) -> list[dict[str, Any]]:
        return [intent for intent in self.intents if not intent["held"]]

    @property
    def expected_alerts(self) -> list[tuple[str, str]]:
        """(window start, session id) of every session whose scenario must alert, sorted."""
        return sorted((s.window_start, s.group) for s in self.sessions if s.expected_alert)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule_id": RULE_ID,
            "rule_name": RULE_NAME,
            "semantics": {
                "window": "1h tumbling, epoch-aligned (UTC), by published",
                "group_by": "authenticationContext.externalSessionId (null -> 'NULL')",
                "collapse": "2 s epoch-aligned buckets over the ten by-fields (missing -> 'NULL')",
                "condition": "((ratio < 0.5 and total_pushes > 1) or total_rejected > 0) and dc_ip > 1 "
                "and suspect_device_from_source > 0 and suspect_ip_from_source > 0",
            },
            "generator": self.config,
            "labels": dict(sorted(Counter(s.label for s in self.sessions).items())),
            "expected_alerts": [list(pair) for pair in self.expected_alerts],
            "groups": self.groups,
            "sessions": [asdict(s) for s in self.sessions],
            # every rule of the pack: the alerts it must produce (what `sigma-okta run --truth` compares)
            "rules": self.rules,
            "intents": self.intents,
        }


@dataclass
class _Facts:
    """What a scenario was built with; the rule's metrics for its group follow from it."""

    pushes: int = 0  # push instants (collapsed rows), each fanned out to `fanout` devices
    fanout: int = 0
    approvals: int = 0
    denials: int = 0
    source_ips: set[str] = field(default_factory=set)
    response_ips: set[str] = field(default_factory=set)
    new_device: bool = False
    new_ip: bool = False

    def merge(self, other: _Facts) -> _Facts:
        return _Facts(
            self.pushes + other.pushes,
            max(self.fanout, other.fanout),
            self.approvals + other.approvals,
            self.denials + other.denials,
            self.source_ips | other.source_ips,
            self.response_ips | other.response_ips,
            self.new_device or other.new_device,
            self.new_ip or other.new_ip,
        )

    def metrics(self) -> dict[str, Any]:
        ratio = None if self.pushes == 0 else _round_half_away(self.approvals / self.pushes, 2)
        return {
            "dc_ip": len(self.source_ips | self.response_ips),
            "total_pushes": self.pushes,
            "total_successes": self.approvals,
            "total_rejected": self.denials,
            "suspect_device_from_source": self.pushes if self.new_device else 0,
            "suspect_ip_from_source": self.pushes if self.new_ip else 0,
            "ratio": ratio,
        }

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["source_ips"] = sorted(self.source_ips)
        values["response_ips"] = sorted(self.response_ips)
        return values


def alert_condition(metrics: dict[str, Any]) -> bool:
    """The ESCU condition on a group's metrics (null ratio compares as false)."""
    ratio = metrics["ratio"]
    spam = ratio is not None and ratio < 0.5 and metrics["total_pushes"] > 1
    return (
        (spam or metrics["total_rejected"] > 0)
        and metrics["dc_ip"] > 1
        and metrics["suspect_device_from_source"] > 0
        and metrics["suspect_ip_from_source"] > 0
    )
