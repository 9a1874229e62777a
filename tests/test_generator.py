"""Tests of the synthetic Okta data generator (:mod:`sigma.backends.okta.generator`).

The ground truth is checked against a small reference implementation of the ESCU rule written here,
independently of the generator and of the engine, following the rule's semantics literally.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import orjson
import pytest

from sigma.backends.okta.generator import (
    ATTACK_LABELS,
    BENIGN_LABELS,
    LABELS,
    LOGEVENT_KEYS,
    RULE_ID,
    EventStream,
    GeneratorConfig,
    generate_events,
    iter_events,
    parse_duration,
    parse_size,
    write_dataset,
)

PUSH = "system.push.send_factor_verify_push"
MFA = "user.authentication.auth_via_mfa"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
COLLAPSE_FIELDS = (
    "authenticationContext.externalSessionId",
    "eventType",
    "debugContext.debugData.factor",
    "outcome.result",
    "actor.alternateId",
    "client.device",
    "client.ipAddress",
    "client.userAgent.rawUserAgent",
    "debugContext.debugData.behaviors",
)
SMALL = {"sessions_per_label": 3, "background_events": 600}
PUSH_LABELS = ATTACK_LABELS + BENIGN_LABELS  # the push-mismatch rule's scenarios


# ---------------------------------------------------------------------------------------------------------
# Reference implementation of the rule (plain Python, independent of the generator)
# ---------------------------------------------------------------------------------------------------------


def field_value(event: dict, path: str) -> Any:
    value: Any = event
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def epoch_ms(published: str) -> int:
    return (datetime.fromisoformat(published) - EPOCH) // timedelta(milliseconds=1)


def is_rule_event(event: dict) -> bool:
    event_type = event.get("eventType")
    factor = field_value(event, "debugContext.debugData.factor")
    is_response = event_type == MFA and isinstance(factor, str) and factor.lower() == "okta_verify_push"
    return event_type == PUSH or is_response


def reference_groups(events) -> dict[tuple[str, str], dict[str, Any]]:
    """(window start, group) -> metrics and alert, computed the way the SPL describes."""
    rows: dict[tuple[int, str], set[tuple]] = defaultdict(set)
    for event in events:
        if not is_rule_event(event):
            continue
        ms = epoch_ms(event["published"])
        session = field_value(event, "authenticationContext.externalSessionId")
        key = tuple(
            "NULL" if field_value(event, f) is None else field_value(event, f) for f in COLLAPSE_FIELDS
        )
        rows[(ms // 3_600_000, "NULL" if session is None else session)].add((*key, ms // 2000))
    groups = {}
    for (window, group), keys in rows.items():
        event_type, outcome, ip, behaviors = 1, 3, 6, 8
        pushes = sum(k[event_type] == PUSH and k[outcome] == "SUCCESS" for k in keys)
        successes = sum(k[event_type] == MFA and k[outcome] == "SUCCESS" for k in keys)
        rejected = sum(k[event_type] == MFA and k[outcome] == "FAILURE" for k in keys)
        device = sum(k[event_type] == PUSH and "New Device=POSITIVE" in k[behaviors] for k in keys)
        new_ip = sum(k[event_type] == PUSH and "New IP=POSITIVE" in k[behaviors] for k in keys)
        dc_ip = len({k[ip] for k in keys})
        ratio = None
        if pushes:
            ratio = float(Decimal(repr(successes / pushes)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
        spam = ratio is not None and ratio < 0.5 and pushes > 1
        alert = (spam or rejected > 0) and dc_ip > 1 and device > 0 and new_ip > 0
        start = datetime.fromtimestamp(window * 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        groups[(start, group)] = {
            "dc_ip": dc_ip,
            "total_pushes": pushes,
            "total_successes": successes,
            "total_rejected": rejected,
            "suspect_device_from_source": device,
            "suspect_ip_from_source": new_ip,
            "ratio": ratio,
            "alert": alert,
        }
    return groups


def truth_groups(truth: dict) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (g["window_start"], g["group"]): {k: v for k, v in g.items() if k not in ("window_start", "group")}
        for g in truth["groups"]
    }


# ---------------------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------------------


def generate(**options) -> tuple[list[dict], list[bytes], dict]:
    stream = EventStream(GeneratorConfig(**options))
    events, lines = [], []
    for event, line in stream.records():
        events.append(event)
        lines.append(line)
    return events, lines, stream.ground_truth().as_dict()


@pytest.fixture(scope="module")
def small():
    return generate(seed=11, escape_share=0.2, **SMALL)


def sessions_by_label(truth: dict, label: str) -> list[dict]:
    return [s for s in truth["sessions"] if s["label"] == label]


# ---------------------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------------------


def test_same_seed_gives_identical_files(tmp_path):
    config = GeneratorConfig(seed=5, **SMALL)
    write_dataset(config, tmp_path / "a.jsonl", tmp_path / "a.json")
    write_dataset(config, tmp_path / "b.jsonl", tmp_path / "b.json")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_different_seeds_differ():
    first = [e["uuid"] for e in iter_events(GeneratorConfig(seed=1, **SMALL))]
    second = [e["uuid"] for e in iter_events(GeneratorConfig(seed=2, **SMALL))]
    assert first != second
    assert not set(first) & set(second)


def test_every_label_present_with_its_declared_outcome(small):
    _events, _lines, truth = small
    assert truth["rule_id"] == RULE_ID
    assert set(truth["labels"]) == set(LABELS)
    assert all(count == SMALL["sessions_per_label"] for count in truth["labels"].values())
    for session in truth["sessions"]:
        assert session["expected_alert"] == (session["label"] in ATTACK_LABELS)
    alerting = {(s["window_start"], s["session_id"]) for s in truth["sessions"] if s["expected_alert"]}
    assert [tuple(pair) for pair in truth["expected_alerts"]] == sorted(alerting)


@pytest.mark.parametrize(
    "options",
    [
        {"seed": 1},
        {"seed": 2, "shuffle": True},
        {"seed": 3, "escape_share": 0.5},
        {"seed": 4, "sessions_per_label": 12, "background_events": 300, "shuffle": True},
        {"seed": 5, "only_push": True, "sessions_per_label": 10},
    ],
)
def test_ground_truth_equals_reference_implementation(options):
    config = {**SMALL, **options}
    _events, lines, truth = generate(**config)
    # decode the serialised lines, as a consumer of the file would
    reference = reference_groups(json.loads(line) for line in lines)
    assert reference == truth_groups(truth)
    reference_alerts = sorted(key for key, metrics in reference.items() if metrics["alert"])
    assert reference_alerts == [tuple(pair) for pair in truth["expected_alerts"]]
    assert reference_alerts, "every run has attack sessions"


def test_fanout_pushes_share_one_two_second_bucket(small):
    events, _lines, truth = small
    pushes_by_session: dict[str, Counter] = defaultdict(Counter)
    for event in events:
        if event["eventType"] == PUSH:
            session = event["authenticationContext"]["externalSessionId"]
            pushes_by_session[session][epoch_ms(event["published"]) // 2000] += 1
    for label in ("benign_fanout", "fatigue_with_fanout"):
        for session in sessions_by_label(truth, label):
            buckets = pushes_by_session[session["session_id"]]
            assert len(buckets) == session["design"]["pushes"]
            assert set(buckets.values()) == {session["design"]["fanout"]}
            assert session["design"]["fanout"] >= 2
    for session in sessions_by_label(truth, "benign_fanout"):
        assert list(pushes_by_session[session["session_id"]].values()) == [3]


def test_no_push_has_a_null_session_and_null_sessions_have_only_responses(small):
    events, _lines, truth = small
    for event in events:
        if event["eventType"] == PUSH:
            assert isinstance(event["authenticationContext"]["externalSessionId"], str)
    null_rule_events = [
        e for e in events if is_rule_event(e) and e["authenticationContext"]["externalSessionId"] is None
    ]
    assert null_rule_events
    assert all(e["eventType"] == MFA and e["outcome"]["result"] == "FAILURE" for e in null_rule_events)
    assert all(
        s["session_id"] is None and s["group"] == "NULL" for s in sessions_by_label(truth, "null_session")
    )


def test_every_scenario_session_lies_inside_one_window(small):
    events, _lines, truth = small
    windows_of: dict[str, set[int]] = defaultdict(set)
    for event in events:
        session = event["authenticationContext"]["externalSessionId"]
        if session is not None:
            windows_of[session].add(epoch_ms(event["published"]) // 3_600_000)
    for session in truth["sessions"]:
        if session["crosses_window"]:  # near misses built across an hour (tests/test_generator_pack.py)
            continue
        window = epoch_ms(session["window_start"].replace("Z", ".000Z")) // 3_600_000
        assert epoch_ms(session["first_published"]) // 3_600_000 == window
        assert epoch_ms(session["last_published"]) // 3_600_000 == window
        if session["session_id"] is not None:
            assert windows_of[session["session_id"]] == {window}


def test_sized_run_keeps_push_share_and_size(tmp_path):
    target = 3_000_000
    summary = write_dataset(
        GeneratorConfig(seed=3, target_bytes=target, push_share=0.05), tmp_path / "sized.jsonl"
    )
    data = (tmp_path / "sized.jsonl").read_bytes()
    assert summary.bytes == len(data)
    assert target <= len(data) <= target * 1.05
    events = [orjson.loads(line) for line in data.splitlines()]
    share = sum(map(is_rule_event, events)) / len(events)
    assert summary.push_share == pytest.approx(share)
    assert share == pytest.approx(0.05, rel=0.2)
    assert 1500 <= sum(len(line) + 1 for line in data.splitlines()) / len(events) <= 3000


def test_escaped_lines_decode_to_the_same_events(small):
    events, lines, _truth = small
    escaped = [i for i, line in enumerate(lines) if b"\\u" in line]
    assert len(escaped) == pytest.approx(0.2 * len(lines), rel=0.25)
    for index in escaped:
        line = lines[index]
        assert line.isascii()
        assert b"=" not in line, "Gson-style escaping writes = as \\u003d"
        assert json.loads(line) == events[index] == orjson.loads(orjson.dumps(events[index]))
    assert any(
        b"New Device\\u003dPOSITIVE" in lines[i] for i in escaped if b"send_factor_verify_push" in lines[i]
    )
    plain = [line for line in lines if b"\\u" not in line]
    assert any(not line.isascii() for line in plain), "non-ASCII display names and cities appear unescaped"


def test_every_event_has_the_logevent_shape(small):
    events, _lines, _truth = small
    published = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
    uuids = set()
    for event in events:
        assert tuple(event) == LOGEVENT_KEYS
        assert published.match(event["published"])
        assert set(event["actor"]) == {"id", "type", "alternateId", "displayName", "detailEntry"}
        client = event["client"]
        assert set(client) == {"userAgent", "zone", "device", "id", "ipAddress", "geographicalContext"}
        assert set(client["userAgent"]) == {"rawUserAgent", "os", "browser"}
        assert set(client["geographicalContext"]["geolocation"]) == {"lat", "lon"}
        assert set(event["authenticationContext"]) >= {
            "externalSessionId",
            "rootSessionId",
            "authenticationStep",
        }
        assert set(event["securityContext"]) == {"asNumber", "asOrg", "isp", "domain", "isProxy"}
        assert set(event["outcome"]) == {"result", "reason"}
        assert event["debugContext"]["debugData"]["requestId"] == event["transaction"]["id"]
        assert event["request"]["ipChain"][0]["ip"] == client["ipAddress"]
        assert event["version"] == "0"
        assert event["target"] is None or all(
            set(t) >= {"id", "type", "alternateId", "displayName"} for t in event["target"]
        )
        uuids.add(event["uuid"])
        if (
            event["eventType"] == MFA
            and event["debugContext"]["debugData"].get("factor") == "OKTA_VERIFY_PUSH"
        ):
            assert client["device"] == "Mobile" and client["userAgent"]["rawUserAgent"].startswith(
                "OktaVerify/"
            )
            assert event["device"]["registered"] is True
            assert event["debugContext"]["debugData"]["pushOnlyResponseType"] in (
                "OV_RESPONSE_APPROVE",
                "OV_RESPONSE_DENY",
            )
        if event["eventType"] == PUSH:
            assert event["debugContext"]["debugData"]["behaviors"].startswith("{New Geo-Location=")
    assert len(uuids) == len(events)
    assert any(not e["actor"]["displayName"].isascii() for e in events)
    assert len({e["eventType"] for e in events}) >= 12


def test_denials_look_like_okta_identity_engine_denials(small):
    events, _lines, _truth = small
    denials = [
        e
        for e in events
        if is_rule_event(e) and e["eventType"] == MFA and e["outcome"]["result"] == "FAILURE"
    ]
    assert denials
    for event in denials:
        assert event["outcome"]["reason"] == "INVALID_CREDENTIALS"
        assert event["debugContext"]["debugData"]["pushOnlyResponseType"] == "OV_RESPONSE_DENY"


def test_gzip_output_is_readable(tmp_path):
    config = GeneratorConfig(seed=9, **SMALL)
    summary = write_dataset(config, tmp_path / "events.jsonl.gz", tmp_path / "truth.json")
    with gzip.open(tmp_path / "events.jsonl.gz", "rb") as handle:
        data = handle.read()
    assert len(data) == summary.bytes
    assert [orjson.loads(line) for line in data.splitlines()] == list(iter_events(config))
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert [tuple(p) for p in truth["expected_alerts"]] == sorted(
        k for k, v in reference_groups(orjson.loads(line) for line in data.splitlines()).items() if v["alert"]
    )


def test_only_push_keeps_the_rule_event_types():
    events, _lines, truth = generate(seed=6, only_push=True, sessions_per_label=4)
    assert {e["eventType"] for e in events} == {PUSH, MFA}
    assert set(truth["labels"]) == set(PUSH_LABELS)  # the other families hold no push events


def test_time_order_and_shuffle():
    ordered = list(iter_events(GeneratorConfig(seed=8, **SMALL)))
    times = [epoch_ms(e["published"]) for e in ordered]
    assert times == sorted(times)
    shuffled = list(iter_events(GeneratorConfig(seed=8, shuffle=True, **SMALL)))
    assert [epoch_ms(e["published"]) for e in shuffled] != times
    assert sorted(e["uuid"] for e in shuffled) == sorted(e["uuid"] for e in ordered)


def test_case_twin_sessions_are_distinct_groups():
    _events, _lines, truth = generate(seed=2, sessions_per_label=10, background_events=200)
    twins = [s for s in truth["sessions"] if s["case_twin_of"]]
    assert twins
    groups = truth_groups(truth)
    for twin in twins:
        original = twin["case_twin_of"]
        assert twin["session_id"] != original and twin["session_id"].lower() == original.lower()
        assert not groups[(twin["window_start"], twin["session_id"])]["alert"]
        assert not groups[(twin["window_start"], original)]["alert"]


def test_config_parsing_and_validation():
    assert parse_size("2GB") == 2_000_000_000 and parse_size("3MiB") == 3 * 1024**2
    assert parse_duration("90m") == timedelta(minutes=90)
    assert GeneratorConfig(start="2026-03-10T05:00:00Z", duration="2h").start_ms == 1773118800000
    with pytest.raises(ValueError):
        GeneratorConfig(start="2026-03-10T05:30:00Z")
    with pytest.raises(ValueError):
        GeneratorConfig(duration="90m")
    with pytest.raises(ValueError):
        parse_size("two gigs")


# --- runs restricted to named scenarios -------------------------------------------------------------


@pytest.mark.parametrize(
    "scenarios",
    [("mfa_fatigue",), ("benign_retry", "null_session"), ("benign_denial_same_network",), PUSH_LABELS],
)
def test_a_run_restricted_to_scenarios_has_only_their_sessions(scenarios):
    config = GeneratorConfig(seed=4, scenarios=scenarios, sessions_per_label=2, background_events=40)
    events, truth = generate_events(config)
    labels = Counter(session.label for session in truth.sessions)
    assert set(labels) == set(scenarios)
    assert all(count >= 2 for count in labels.values())
    expected = sorted(tuple(pair) for pair in truth.expected_alerts)
    reference = sorted(key for key, metrics in reference_groups(events).items() if metrics["alert"])
    assert reference == expected  # the truth of a restricted run still equals the reference reading
    attacks = {label for label in scenarios if label in ATTACK_LABELS}
    assert bool(expected) == bool(attacks)
    assert sum(1 for event in events if event["eventType"] not in (PUSH, MFA)) <= 40 + 10 * len(scenarios)


def test_a_restricted_run_is_deterministic_and_leaves_the_default_alone():
    config = dict(seed=9, scenarios=("push_denied_mismatch",), sessions_per_label=1, background_events=0)
    first, _ = generate_events(GeneratorConfig(**config))
    again, _ = generate_events(GeneratorConfig(**config))
    assert first == again and first
    assert "scenarios" not in GeneratorConfig(seed=9).as_dict()  # the default ground truth keeps its format


def test_unknown_scenarios_are_named():
    with pytest.raises(ValueError, match=r"unknown scenario.*nosuch.*mfa_fatigue"):
        GeneratorConfig(scenarios=("nosuch",))


def test_generate_command_line_restrictions(tmp_path):
    from sigma.backends.okta.cli import main

    events, truth = tmp_path / "events.jsonl", tmp_path / "truth.json"
    code = main(
        [
            "generate",
            "-o",
            str(events),
            "--truth",
            str(truth),
            "--scenario",
            "mfa_fatigue",
            "--sessions",
            "2",
            "--background",
            "0",
        ]
    )
    assert code == 0
    data = json.loads(truth.read_text())
    assert {session["label"] for session in data["sessions"]} == {"mfa_fatigue"}
    assert len(data["expected_alerts"]) == 2
    for bad in (["--push-share", "0"], ["--push-share", "1.5"], ["--push-share", "-1"], ["--sessions", "x"]):
        with pytest.raises(SystemExit):
            main(["generate", "-o", str(events), *bad])
    assert main(["generate", "-o", str(events), "--scenario", "nosuch"]) == 2
