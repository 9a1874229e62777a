"""The generator's ground truth for every rule of the pack (``backends/generator/pack*.py``).

The truth is computed from what the scenarios planted; here the engine, and DuckDB on a small stream,
must give exactly those alerts, rule by rule, at several seeds, including the scenarios built on
window boundaries (tumbling, epoch-aligned: 5 minutes and an hour).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime

import pytest
from okta_builders import run_engine

from sigma.backends.okta.generator import GeneratorConfig, generate_events, write_dataset
from sigma.backends.okta.generator.pack import MINUTES_5, PACK_RULES, RISK_THRESHOLD, USER_RISK_TECHNIQUES
from sigma.backends.okta.generator.scenarios import FAMILIES, SCENARIOS
from sigma.pipelines.okta.loader import bundled_rules_path, load_rules
from sigma.pipelines.okta.risk_stream import techniques

FEEDERS = ("okta_verify_push_sent", "okta_verify_push_response")  # files of base rules of their own


def truth_pack():
    """The rules the generator's truth covers, from the bundled files (the pack may hold more)."""
    names = [*FEEDERS, *(rule.name for rule in PACK_RULES)]
    return load_rules([bundled_rules_path() / f"{name}.yml" for name in names])


def key(alert: dict) -> tuple:
    """An alert as the truth names it: rule, window and group, or rule, time (ms) and risk object."""
    if "window" in alert:
        window = datetime.fromisoformat(alert["window"]["start"]).strftime("%Y-%m-%dT%H:%M:%SZ")
        return alert["rule_id"], window, tuple(str(v) for v in alert["group"].values())
    return alert["rule_id"], alert["time"][:23] + "Z", str(alert["risk"]["objects"][0])


def first_stage(truth: dict) -> dict:
    """The truth without the risk rule, which runs over the others' alerts (a second stage that
    ``Engine`` alone does not run: test_the_two_stage_run_gives_the_truth_of_the_risk_rule_too)."""
    rules = {rule_id: entry for rule_id, entry in truth["rules"].items() if entry["kind"] != "risk_threshold"}
    return {**truth, "rules": rules}


def expected(truth: dict) -> Counter:
    keys: Counter = Counter()
    for rule_id, entry in truth["rules"].items():
        for alert in entry["alerts"]:
            if "window_start" in alert:
                keys[(rule_id, alert["window_start"], tuple(str(v) for v in alert["group"].values()))] += 1
            else:
                keys[(rule_id, alert["time"], str(alert["object"]))] += 1
    return keys


def expected_metrics(truth: dict) -> dict[tuple, dict]:
    return {
        (rule_id, alert["window_start"], tuple(str(v) for v in alert["group"].values())): alert["metrics"]
        for rule_id, entry in truth["rules"].items()
        if entry["kind"] != "match"
        for alert in entry["alerts"]
    }


def assert_same(truth: dict, alerts: list[dict]) -> None:
    found = Counter(key(alert) for alert in alerts)
    wanted = expected(truth)
    titles = {rule_id: entry["title"] for rule_id, entry in truth["rules"].items()}
    problems = [f"missed {titles[k[0]]}: {k[1:]}" for k in (wanted - found).elements()]
    problems += [f"unexpected {titles.get(k[0], k[0])}: {k[1:]}" for k in (found - wanted).elements()]
    assert not problems, "\n".join(problems)
    metrics = expected_metrics(truth)
    for alert in alerts:
        if "window" in alert:
            for name, value in metrics[key(alert)].items():
                assert alert["metrics"][name] == value, (key(alert), name)


@pytest.fixture(scope="module")
def pack():
    return truth_pack()


def test_the_generators_rules_are_the_rule_files(pack):
    """The constants the truth is computed with restate the rule files (id, title, windows, thresholds)."""
    by_id = {str(rule.id): rule for rule in [*pack.collection.rules, *pack.aggregates]}
    for model in PACK_RULES:
        rule = by_id[model.rule_id]
        assert rule.title == model.title and rule.name == model.name
        if model.kind == "match":
            assert rule.custom_attributes["risk"]["object"] == model.object_field
            continue
        assert list(rule.group_by) == list(model.group_by)
        assert rule.timespan.seconds * 1000 == model.window_ms
        if model.kind in ("event_count", "value_count"):
            condition = rule.condition
            operator = condition.op.name.lower()
            assert (operator, condition.count) == model.threshold
            assert rule.type.name.lower() == model.kind
            assert getattr(condition, "fieldref", None) == model.value_field
    # the risk rule's truth adds up the techniques of the rules whose risk object is a user
    user_risk = {}
    for rule in by_id.values():
        risk = getattr(rule, "custom_attributes", {}).get("risk") or getattr(rule, "risk", None)
        if risk and risk["object_type"] == "user" and rule.name != RISK_THRESHOLD:
            user_risk[rule.name] = tuple(techniques(rule.tags))
    assert user_risk == USER_RISK_TECHNIQUES


@pytest.mark.parametrize("seed", [3, 8])
def test_the_engine_gives_exactly_the_truth_of_every_rule(tmp_path, pack, seed):
    config = GeneratorConfig(seed=seed, sessions_per_label=2, escape_share=0.2)
    write_dataset(config, tmp_path / "events.jsonl", tmp_path / "truth.json")
    truth = first_stage(json.loads((tmp_path / "truth.json").read_text()))
    assert all(intent["held"] for intent in truth["intents"]), [i for i in truth["intents"] if not i["held"]]
    alerts, _ = run_engine(tmp_path, pack=pack, paths=[str(tmp_path / "events.jsonl")])
    assert_same(truth, alerts)
    fired = {rule_id for rule_id, entry in truth["rules"].items() if entry["alerts"]}
    assert fired == set(truth["rules"]), "every rule has alerts to find"


def test_duckdb_gives_exactly_the_truth_of_every_rule_on_a_small_stream(tmp_path, pack):
    from sigma.backends.okta.targets.sql_execution import run_pack

    config = GeneratorConfig(seed=5, duration="4h", sessions_per_label=1, background_events=800)
    write_dataset(config, tmp_path / "events.jsonl", tmp_path / "truth.json")
    truth = first_stage(json.loads((tmp_path / "truth.json").read_text()))
    alerts: list[dict] = []
    run_pack("duckdb", pack, [str(tmp_path / "events.jsonl")], lambda alert: alerts.append(alert.to_dict()))
    assert_same(truth, alerts)
    engine, _ = run_engine(tmp_path, pack=pack, paths=[str(tmp_path / "events.jsonl")])
    assert sorted(map(key, engine)) == sorted(map(key, alerts))


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_the_two_stage_run_gives_the_truth_of_the_risk_rule_too(tmp_path, engine):
    from sigma.backends.okta.cli import main

    config = GeneratorConfig(seed=4, duration="6h", sessions_per_label=1, background_events=1500)
    write_dataset(config, tmp_path / "events.jsonl", tmp_path / "truth.json")
    truth = json.loads((tmp_path / "truth.json").read_text())
    risk = next(entry for entry in truth["rules"].values() if entry["kind"] == "risk_threshold")
    assert risk["alerts"], "users with more than five techniques a day, or the test proves nothing"
    run = ["run", "--events", str(tmp_path / "events.jsonl"), "--truth", str(tmp_path / "truth.json")]
    assert main([*run, "--engine", engine, "-o", str(tmp_path / "alerts.jsonl"), "-q"]) == 0
    risk["alerts"].pop()  # one alert fewer than the run gives: the comparison must see it
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    assert main([*run, "--engine", engine, "-o", str(tmp_path / "again.jsonl"), "-q"]) != 0


def test_near_misses_stay_under_and_split_scenarios_straddle_a_boundary():
    events, truth = generate_events(
        GeneratorConfig(seed=4, sessions_per_label=2, families=("mfa_burst", "spray", "lockout"))
    )
    intents = truth.intents
    assert intents and all(intent["held"] for intent in intents)
    for rule in (
        "okta_multiple_failed_mfa_requests_for_user",
        "okta_multiple_users_failing_to_authenticate_from_ip",
        "okta_multiple_accounts_locked_out",
    ):
        assert {intent["fires"] for intent in intents if intent["rule"] == rule} == {True, False}
    # a split burst: failures on both sides of a 5-minute boundary, one on its first millisecond
    failures = defaultdict(list)
    for event in events:
        if (
            event["eventType"] == "user.authentication.auth_via_mfa"
            and event["outcome"]["result"] == "FAILURE"
        ):
            failures[event["actor"]["alternateId"]].append(_ms(event["published"]))
    for session in truth.sessions:
        if session.label == "mfa_burst_split":
            times = failures[session.user]
            boundaries = {t // MINUTES_5 for t in times}
            assert len(boundaries) == 2 and any(t % MINUTES_5 == 0 for t in times)
            assert max(Counter(t // MINUTES_5 for t in times).values()) <= 9 < len(times)
        if session.label == "mfa_burst":
            times = failures[session.user]
            assert times[0] % MINUTES_5 == 0  # the burst opens on the window's first millisecond


def test_scenarios_across_an_hour_are_one_address_or_city_per_window():
    _events, truth = generate_events(
        GeneratorConfig(seed=6, sessions_per_label=2, families=("cities", "session_cookie"))
    )
    across = [s for s in truth.sessions if s.crosses_window]
    assert {s.label for s in across} == {"cities_next_hour", "session_cookie_next_hour"}
    for session in across:
        assert session.first_published[:13] != session.last_published[:13]
    assert all(intent["held"] for intent in truth.intents)


def test_families_select_scenarios_and_only_push_keeps_the_push_family():
    assert set(FAMILIES) == {
        "push",
        "mfa_burst",
        "spray",
        "lockout",
        "session_cookie",
        "cities",
        "changes",
        "threats",
        "apps",
    }
    spray = GeneratorConfig(families=("spray",)).labels
    assert spray == tuple(s.label for s in SCENARIOS if s.family == "spray") and len(spray) == 3
    assert all(
        SCENARIOS[i].family == "push"
        for i, s in enumerate(SCENARIOS)
        if s.label in GeneratorConfig(only_push=True).labels
    )
    with pytest.raises(ValueError, match="unknown scenario family nosuch"):
        GeneratorConfig(families=("nosuch",))


def test_run_truth_reports_per_rule_and_names_what_differs(tmp_path):
    from sigma.backends.okta.cli import main

    events, truth_path = tmp_path / "events.jsonl", tmp_path / "truth.json"
    assert (
        main(
            [
                "generate",
                "-o",
                str(events),
                "--truth",
                str(truth_path),
                "--seed",
                "2",
                "--sessions",
                "1",
                "--background",
                "300",
                "--family",
                "changes",
                "--family",
                "lockout",
            ]
        )
        == 0
    )
    rules = [
        str(bundled_rules_path() / f"{name}.yml") for name in (*FEEDERS, *(rule.name for rule in PACK_RULES))
    ]
    assert (
        main(
            [
                "run",
                *rules,
                "--events",
                str(events),
                "-o",
                str(tmp_path / "alerts.jsonl"),
                "--truth",
                str(truth_path),
                "-q",
            ]
        )
        == 0
    )
    truth = json.loads(truth_path.read_text())
    token = next(entry for entry in truth["rules"].values() if entry["name"] == "okta_new_api_token_created")
    dropped = token["alerts"].pop()
    lockouts = next(
        entry for entry in truth["rules"].values() if entry["name"] == "okta_multiple_accounts_locked_out"
    )
    lockouts["alerts"].append(
        {
            "window_start": "2026-03-10T01:05:00Z",
            "group": {"client.ipAddress": "192.0.2.1", "outcome.result": "SUCCESS"},
        }
    )
    truth_path.write_text(json.dumps(truth))
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sigma.backends.okta.cli",
            "run",
            *rules,
            "--events",
            str(events),
            "--truth",
            str(truth_path),
            "-q",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 5
    assert "1 missed, 1 unexpected" in done.stderr
    assert f"unexpected  {dropped['time']}  {dropped['object']}  (Okta New API Token Created)" in done.stderr
    assert (
        "missed      2026-03-10T01:05:00Z  192.0.2.1, SUCCESS  (Okta Multiple Accounts Locked Out)"
        in done.stderr
    )


def _ms(published: str) -> int:
    moment = datetime.fromisoformat(published.replace("Z", "+00:00"))
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000
