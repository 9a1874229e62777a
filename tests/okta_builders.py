"""Hand-built Okta System Log events for tests, and a one-call way to run the engine on them."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from sigma.backends.okta.engine.runner import Engine, EngineOptions
from sigma.backends.okta.engine.sources import expand_sources
from sigma.pipelines.okta.loader import RulePack, bundled_rules_path, load_rules

# two minimal base rules for tests that write their own aggregate correlations over them
BASE_RULES = """\
title: Push
id: 0b1c2d3e-0000-4000-8000-000000000001
name: push
logsource: {product: okta, service: okta}
detection: {selection: {eventType: system.push.send_factor_verify_push}, condition: selection}
---
title: Response
id: 0b1c2d3e-0000-4000-8000-000000000002
name: response
logsource: {product: okta, service: okta}
detection: {selection: {eventType: user.authentication.auth_via_mfa}, condition: selection}
"""
PUSH = "system.push.send_factor_verify_push"
RESPONSE = "user.authentication.auth_via_mfa"
NEW_BOTH = (
    "{New Geo-Location=NEGATIVE, New Device=POSITIVE, New IP=POSITIVE, New State=NEGATIVE, "
    "New Country=NEGATIVE, Velocity=NEGATIVE, New City=NEGATIVE}"
)
KNOWN = NEW_BOTH.replace("New Device=POSITIVE", "New Device=NEGATIVE").replace(
    "New IP=POSITIVE", "New IP=NEGATIVE"
)
NEW_DEVICE_ONLY = NEW_BOTH.replace("New IP=POSITIVE", "New IP=NEGATIVE")
NEW_IP_ONLY = NEW_BOTH.replace("New Device=POSITIVE", "New Device=NEGATIVE")
ATTACKER_IP = "203.0.113.7"
PHONE_IP = "198.51.100.20"
BASE = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
_ids = itertools.count()


def at(seconds: float) -> str:
    """ISO time ``seconds`` after 2026-03-10T14:00:00Z (an hour boundary, and an even second)."""
    moment = BASE + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _event(event_type: str, session: str | None, seconds: float, ip: str | None, **extra) -> dict:
    client = {
        "userAgent": {"rawUserAgent": extra.pop("agent", "Mozilla/5.0")},
        "device": extra.pop("device", "Computer"),
    }
    if ip is not None:
        client["ipAddress"] = ip
    event = {
        "uuid": extra.pop("uuid", f"00000000-0000-4000-8000-{next(_ids):012d}"),
        "published": at(seconds),
        "eventType": event_type,
        "actor": {"alternateId": extra.pop("user", "ann@example.com")},
        "client": client,
        "authenticationContext": {"externalSessionId": session},
        "outcome": {"result": extra.pop("result", "SUCCESS")},
        "debugContext": {"debugData": extra.pop("debug_data", {})},
    }
    event.update(extra)
    return event


def push(
    session: str | None, seconds: float, *, ip: str | None = ATTACKER_IP, behaviors=NEW_BOTH, **extra
) -> dict:
    event = _event(PUSH, session, seconds, ip, **extra)
    event["debugContext"]["debugData"]["behaviors"] = behaviors
    return event


def response(
    session: str | None,
    seconds: float,
    *,
    result: str = "SUCCESS",
    ip: str | None = PHONE_IP,
    factor: str = "OKTA_VERIFY_PUSH",
    **extra,
) -> dict:
    event = _event(
        RESPONSE, session, seconds, ip, result=result, device="Mobile", agent="OktaVerify/9.40", **extra
    )
    event["debugContext"]["debugData"]["factor"] = factor
    return event


def write_events(path: Path, events: Iterable[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
    return path


PUSH_RULE = "okta_verify_push_source_response_mismatch"
#: the seed rule and the two rules it correlates, by file (the bundled pack holds the whole Okta family)
PUSH_RULE_FILES = [
    bundled_rules_path() / f"{name}.yml"
    for name in ("okta_verify_push_sent", "okta_verify_push_response", PUSH_RULE)
]


@functools.cache
def _push_pack() -> RulePack:
    return load_rules(PUSH_RULE_FILES)


def push_pack() -> RulePack:
    """The seed rule alone (a copy: selection and pipelines change the rules they are given)."""
    import copy

    return copy.deepcopy(_push_pack())


def run_engine(
    directory: Path,
    events: Sequence[dict] | None = None,
    *,
    pack: RulePack | None = None,
    paths: Sequence[str] | None = None,
    **options,
) -> tuple[list[dict], object]:
    """Run the engine (on the seed rule unless ``pack`` says otherwise); returns (alert dicts, run result).
    ``events`` are written to ``directory`` first."""
    if events is not None:
        paths = [str(write_events(directory / "events.jsonl", events))]
    engine = Engine(pack or push_pack(), EngineOptions(**options))
    alerts: list[dict] = []
    result = engine.run(expand_sources(paths), lambda alert: alerts.append(alert.to_dict()))
    return alerts, result


def sessions_of(alerts: Iterable[dict]) -> list[str]:
    return [alert["group"]["authenticationContext.externalSessionId"] for alert in alerts]


def by_group(alerts: Iterable[dict]) -> dict[tuple, dict]:
    """Correlation alerts keyed by (rule, window start, group); single-event alerts by (rule, time, event)."""
    return {
        (alert["rule_id"], alert["window"]["start"], tuple(sorted(alert["group"].items())))
        if "window" in alert
        else (alert["rule_id"], alert["time"], (("event_id", alert["event_id"]),)): alert
        for alert in alerts
    }


def differences(expected: Iterable[dict], actual: Iterable[dict]) -> list[str]:
    """What differs between two runs' alerts, group by group: metrics (numbers compared as numbers,
    floats to 1e-9), output fields, event ids, first seen and condition."""
    import math

    left, right = by_group(expected), by_group(actual)
    problems = [f"only in the first run: {key}" for key in left.keys() - right.keys()]
    problems += [f"only in the second run: {key}" for key in right.keys() - left.keys()]
    for key in left.keys() & right.keys():
        a, b = left[key], right[key]
        if "window" not in a:  # a rule match: the key holds rule, time and event
            if a["fields"] != b["fields"]:
                problems.append(f"{key}: fields: {a['fields']!r} != {b['fields']!r}")
            continue
        for name in a["metrics"].keys() | b["metrics"].keys():
            x, y = a["metrics"].get(name), b["metrics"].get(name)
            same = x == y or (
                isinstance(x, int | float) and isinstance(y, int | float) and math.isclose(x, y, rel_tol=1e-9)
            )
            if not same:
                problems.append(f"{key}: metric {name}: {x!r} != {y!r}")
        for part in ("fields", "event_ids", "first_seen", "window"):
            if a[part] != b[part]:
                problems.append(f"{key}: {part}: {a[part]!r} != {b[part]!r}")
        if a.get("condition", True) != b.get("condition", True):
            problems.append(f"{key}: condition differs")
    return problems
