"""Every alert of a rule with ESCU's `risk` carries it, with the risk objects of that alert, the same in
the engine and in the SQL: single-event alerts (the event's value), standard correlations (the
group-by value) and aggregates (the output field's values)."""

from __future__ import annotations

from okta_builders import run_engine, write_events

from sigma.backends.okta.targets.sql_execution import run_pack
from sigma.pipelines.okta.loader import load_bundled

LOCKOUTS = [
    {
        "uuid": f"lock{n}",
        "published": f"2026-03-10T14:00:0{n}Z",
        "eventType": "user.account.lock",
        "outcome": {"result": "SUCCESS"},
        "client": {"ipAddress": "203.0.113.7"},
        "actor": {"alternateId": f"u{n}@example.com"},
    }
    for n in range(6)
]
TOKEN = {
    "uuid": "token",
    "published": "2026-03-10T14:00:09Z",
    "eventType": "system.api_token.create",
    "actor": {"alternateId": "admin@example.com"},
}


def test_single_event_and_correlation_alerts_carry_their_risk_objects_in_every_engine(tmp_path):
    pack = load_bundled()
    alerts, _ = run_engine(tmp_path, [*LOCKOUTS, TOKEN], pack=pack)
    risks = {alert["rule_title"]: alert["risk"] for alert in alerts}
    assert risks == {
        "Okta New API Token Created": {
            "object": "actor.alternateId",
            "object_type": "user",
            "score": 64,
            "objects": ["admin@example.com"],
        },
        "Okta Multiple Accounts Locked Out": {
            "object": "client.ipAddress",
            "object_type": "system",
            "score": 49,
            "objects": ["203.0.113.7"],
        },
    }
    path = write_events(tmp_path / "sql.jsonl", [*LOCKOUTS, TOKEN])
    found: list[dict] = []
    run_pack("duckdb", pack, [str(path)], lambda alert: found.append(alert.to_dict()))
    assert {alert["rule_title"]: alert["risk"] for alert in found} == risks
