"""Risk-based alerting end to end: Okta events, the pack's alerts, their risk stream, and the rule over it
(Okta Risk Threshold Exceeded), the same in the Python engine, DuckDB and Spark."""

from __future__ import annotations

import json
import subprocess
import sys

import orjson
import pytest
from okta_builders import at, differences, write_events
from sql_engines import SQL_ENGINES

RBA = "Okta Risk Threshold Exceeded"
CLI = [sys.executable, "-m", "sigma.backends.okta.cli"]


def _event(event_type: str, user: str, seconds: float, **extra) -> dict:
    return {
        "uuid": f"{user}-{event_type}-{seconds}",
        "published": at(seconds),
        "eventType": event_type,
        "actor": {"alternateId": user, "type": "User"},
        "client": {"ipAddress": "198.51.100.9"},
        "outcome": {"result": "SUCCESS"},
        **extra,
    }


def _changes(user: str, *event_types: str) -> list[dict]:
    return [_event(kind, user, 600 * index) for index, kind in enumerate(event_types)]


TOKEN, MFA_OFF, DEVICE, IDP = (
    "system.api_token.create",  # T1078, T1078.001
    "user.mfa.factor.deactivate",  # T1556, T1556.006
    "device.enrollment.create",  # T1098, T1098.005
    "system.idp.lifecycle.create",  # T1087.004
)
EVENTS = [
    *_changes("ana@example.com", TOKEN, MFA_OFF, DEVICE),  # six techniques: fires
    *_changes("bo@example.com", TOKEN, MFA_OFF, IDP),  # five: does not
    *_changes("cy@example.com", TOKEN, TOKEN, MFA_OFF, DEVICE),  # six, one of them twice: fires
]


def run(tmp_path, engine: str) -> tuple[list[dict], list[dict]]:
    events = write_events(tmp_path / "events.jsonl", EVENTS)
    risk = tmp_path / f"risk-{engine}.jsonl"
    done = subprocess.run(
        [*CLI, "run", "--events", str(events), "--engine", engine, "--risk-output", str(risk), "-q"],
        capture_output=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr.decode()
    alerts = [json.loads(line) for line in done.stdout.splitlines()]
    return alerts, [json.loads(line) for line in risk.read_text().splitlines()]


def test_a_user_with_six_techniques_in_a_day_crosses_the_threshold(tmp_path):
    alerts, risk = run(tmp_path, "python")
    fired = {alert["group"]["risk_object"]: alert for alert in alerts if alert["rule_title"] == RBA}
    assert sorted(fired) == ["ana@example.com", "cy@example.com"]
    ana = fired["ana@example.com"]
    assert ana["metrics"] == {
        "mitre_technique_id_count": 6,
        "risk_score": 64.0 + 30 + 24,
        "risk_event_count": 3,
        "source_count": 3,
    }
    assert ana["fields"]["mitre_technique_id"] == [
        "T1078",
        "T1078.001",
        "T1098",
        "T1098.005",
        "T1556",
        "T1556.006",
    ]
    assert fired["cy@example.com"]["metrics"]["risk_event_count"] == 4
    assert ana["risk"]["objects"] == ["ana@example.com"]
    # the stream: one row per technique of each risk event; row 0 stands for the event
    token = [row for row in risk if row["risk_object"] == "ana@example.com" and row["risk_score"] == 64]
    assert [(row["annotation_index"], row["mitre_technique_id"]) for row in token] == [
        (0, "T1078"),
        (1, "T1078.001"),
    ]
    assert len({row["risk_event_id"] for row in token}) == 1
    assert len({row["uuid"] for row in risk}) == len(risk)


def test_the_risk_stream_is_read_back_by_the_risk_rule_alone(tmp_path):
    alerts, _ = run(tmp_path, "python")
    risk = tmp_path / "risk-python.jsonl"
    done = subprocess.run(
        [*CLI, "run", "--rule", "okta_risk_threshold_exceeded", "--events", str(risk), "-q"],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    again = [json.loads(line) for line in done.stdout.splitlines()]
    assert again == [alert for alert in alerts if alert["rule_title"] == RBA]


@pytest.mark.parametrize("engine", SQL_ENGINES)
def test_the_sql_engines_give_the_same_risk_stream_and_alerts(tmp_path, engine):
    expected, expected_risk = run(tmp_path, "python")
    alerts, risk = run(tmp_path, engine)
    assert orjson.dumps(risk) == orjson.dumps(expected_risk)
    assert differences(expected, alerts) == []
    assert sum(alert["rule_title"] == RBA for alert in alerts) == 2
