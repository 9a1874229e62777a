"""The generated DuckDB and Spark SQL, executed, give the engine's alerts metric for metric.

Every group is compared (``every_group``), not only alerting ones: metrics, output fields, event ids,
first seen and the condition's verdict. Data: the generator's realistic sessions, hand-built sessions on
every threshold and odd event shapes, and (DuckDB) random sessions from hypothesis.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from okta_builders import (
    KNOWN,
    NEW_BOTH,
    NEW_DEVICE_ONLY,
    differences,
    push,
    response,
    run_engine,
    write_events,
)
from sql_engines import SQL_ENGINES

from sigma.backends.okta.generator import GeneratorConfig, write_dataset
from sigma.backends.okta.targets.sql_execution import run_pack
from sigma.pipelines.okta.loader import load_bundled, load_rules

CONSTRUCTS = Path(__file__).parent / "rules" / "constructs.yml"


def sql_alerts(engine: str, pack, paths: list[str]) -> list[dict]:
    alerts: list[dict] = []
    run_pack(engine, pack, paths, lambda alert: alerts.append(alert.to_dict()), every_group=True)
    return alerts


def engine_alerts(pack, paths: list[str], folder: Path) -> list[dict]:
    return run_engine(folder, pack=pack, paths=paths, every_group=True)[0]


@pytest.fixture(scope="module")
def packs():
    return {"bundled": load_bundled(), "constructs": load_rules([CONSTRUCTS])}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("generated") / "events.jsonl"
    write_dataset(GeneratorConfig(seed=9, sessions_per_label=3, escape_share=0.2), path)
    return path


def edge_events() -> list[dict]:
    """Sessions on every threshold of the bundled rule, and event shapes that stress reading."""
    events = []
    # ratio exactly 0.5, 1/3, 99/200, a single push, failed pushes, a denial without push
    events += [push("half", 10), push("half", 40), response("half", 45)]
    events += [push("third", 10), push("third", 40), push("third", 70), response("third", 75)]
    events += [push("r99", 3 * i) for i in range(200)] + [response("r99", 3 * i + 1) for i in range(99)]
    events += [push("single", 10), response("single", 12, result="UNKNOWN")]
    events += [push("failed", 10, result="FAILURE"), push("failed", 40, result="FAILURE")]
    events += [response("denied_only", 20, result="FAILURE")]
    events += [push("sms", 10), response("sms", 20, result="FAILURE", factor="SMS")]
    events += [push("same_ip", 10), response("same_ip", 20, result="FAILURE", ip="203.0.113.7")]
    events += [push("known", 10, behaviors=KNOWN), response("known", 20, result="FAILURE")]
    events += [
        push("device_only", 10, behaviors=NEW_DEVICE_ONLY),
        response("device_only", 20, result="FAILURE"),
    ]
    events += [push("no_ip", 10), response("no_ip", 20, result="FAILURE", ip=None)]
    events += [
        push("object", 10, behaviors={"New Device": "POSITIVE", "New IP": "POSITIVE"}),
        response("object", 20, result="FAILURE"),
    ]
    # fan-out inside one 2 s bucket and across a bucket boundary; a differing collapse field
    events += [push("fan_in", 10.1), push("fan_in", 10.2), push("fan_in", 10.4), response("fan_in", 15)]
    events += [
        push("fan_across", 11.9),
        push("fan_across", 12.1),
        push("fan_across", 12.2),
        push("fan_across", 40),
        response("fan_across", 45),
    ]
    events += [push("agents", 10.1), push("agents", 10.2, agent="curl/8"), response("agents", 15)]
    # group keys: null and missing session ids, case-different ids, a window boundary
    events += [push(None, 10), push(None, 40), response(None, 50, result="FAILURE")]
    missing = push(None, 60)
    del missing["authenticationContext"]
    events.append(missing)
    events += [push("idxAbC", 10), response("idxabc", 20, result="FAILURE")]
    events += [
        push("boundary", 3599.999),
        push("boundary", 3600.0),
        response("boundary", 3600.5, result="FAILURE"),
    ]
    # shapes: upper-case values, a flattened dotted key, numbers where strings are usual, epoch times
    upper = push("upper", 10)
    upper["eventType"] = upper["eventType"].upper()
    events += [upper, response("upper", 20, result="failure")]
    flat = response("flat", 20, result="FAILURE")
    flat["client.ipAddress"] = flat["client"].pop("ipAddress")
    events += [push("flat", 10), flat]
    numeric = push("numeric", 10)
    numeric["authenticationContext"]["authenticationStep"] = 2
    numeric["outcome"]["result"] = 1
    events += [numeric, push("numeric", 40), response("numeric", 45, result="FAILURE")]
    seconds, millis = push("epoch", 10), response("epoch", 20, result="FAILURE")
    seconds["published"] = 1_773_151_210
    millis["published"] = 1_773_151_220_500
    events += [seconds, millis]
    naive, offset = push("zones", 10), response("zones", 20, result="FAILURE")
    naive["published"] = naive["published"].replace("T", " ").removesuffix("Z")
    offset["published"] = "2026-03-10T16:00:20.000+02:00"
    events += [naive, offset]
    no_time, bad_time = push("untimed", 10), response("untimed", 20, result="FAILURE")
    del no_time["published"]
    bad_time["published"] = "yesterday"
    events += [no_time, bad_time, push("untimed", 30)]
    return events


@pytest.fixture(scope="module")
def edges(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("edges") / "events.jsonl"
    write_events(path, edge_events())
    with path.open("ab") as stream:  # lines that no engine can read, and an escaped event type
        stream.write(b'{"eventType": "system.push.send_factor_verify_push", "trunc\n\n[1, 2]\n')
        escaped = orjson.dumps(push("escaped", 10)).replace(b"system.push", b"\\u0073ystem.push")
        stream.write(escaped + b"\n" + orjson.dumps(response("escaped", 20, result="FAILURE")) + b"\n")
    return path


@pytest.mark.parametrize("engine", SQL_ENGINES)
@pytest.mark.parametrize("rules", ["bundled", "constructs"])
def test_generated_sessions(engine, rules, packs, generated, tmp_path):
    pack = packs[rules]
    expected = engine_alerts(pack, [str(generated)], tmp_path)
    assert any(alert.get("condition", True) for alert in expected)
    assert differences(expected, sql_alerts(engine, pack, [str(generated)])) == []


@pytest.mark.parametrize("engine", SQL_ENGINES)
@pytest.mark.parametrize("rules", ["bundled", "constructs"])
def test_threshold_sessions_and_odd_shapes(engine, rules, packs, edges, tmp_path):
    pack = packs[rules]
    expected = engine_alerts(pack, [str(edges)], tmp_path)
    assert len(expected) > 20
    assert differences(expected, sql_alerts(engine, pack, [str(edges)])) == []


SEED_ID = "8085b79b-9b85-4e67-ad63-351c9e9a5e9a"


def test_the_threshold_verdicts_themselves(packs, edges, tmp_path):
    """The shared verdicts, read off the engine's run on the edge sessions (the SQL runs equal it)."""
    alerts = engine_alerts(packs["bundled"], [str(edges)], tmp_path)
    verdict = {
        alert["group"]["authenticationContext.externalSessionId"]: alert.get("condition", True)
        for alert in alerts
        if alert["rule_id"] == SEED_ID and alert["window"]["start"].startswith("2026-03-10T14")
    }
    assert verdict["half"] is False and verdict["third"] is True and verdict["r99"] is False
    assert verdict["fan_in"] is False and verdict["fan_across"] is True
    assert verdict["object"] is True and verdict["no_ip"] is True and verdict["upper"] is True
    assert verdict["flat"] is True and verdict["escaped"] is True and verdict["NULL"] is True
    assert verdict["same_ip"] is False and verdict["sms"] is False and verdict["known"] is False
    assert verdict["epoch"] is True and verdict["zones"] is True and verdict["untimed"] is False


SESSIONS = st.sampled_from(["s1", "s2", "S1", None])
IPS = st.sampled_from(["203.0.113.7", "198.51.100.20", None])
RESULTS = st.sampled_from(["SUCCESS", "FAILURE", "success", "UNKNOWN"])


@st.composite
def random_event(draw) -> dict:
    seconds = draw(st.integers(0, 7_400)) + draw(st.sampled_from([0.0, 0.5, 0.999, 1.0, 1.999]))
    session, ip, result = draw(SESSIONS), draw(IPS), draw(RESULTS)
    if draw(st.booleans()):
        return push(
            session,
            seconds,
            ip=ip,
            result=result,
            behaviors=draw(st.sampled_from([NEW_BOTH, KNOWN, NEW_DEVICE_ONLY])),
        )
    factor = draw(st.sampled_from(["OKTA_VERIFY_PUSH", "okta_verify_push", "SMS"]))
    return response(session, seconds, ip=ip, result=result, factor=factor)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(random_event(), min_size=1, max_size=40))
def test_random_sessions_duckdb(packs, tmp_path, events):
    path = write_events(tmp_path / "random.jsonl", events)
    for pack in packs.values():
        expected = engine_alerts(pack, [str(path)], tmp_path)
        assert differences(expected, sql_alerts("duckdb", pack, [str(path)])) == [], json.dumps(events)[:2000]


def test_converting_a_pack_leaves_its_rules_unchanged(tmp_path):
    """Pipelines change the rules they convert; a pack converted for one target converts for the next."""
    from sigma.backends.okta.targets.catalog import TARGETS, convert_pack, make_backend

    text = CONSTRUCTS.read_text().replace(
        "status: test\nlevel: high\ncorrelation:\n  type: aggregate\n",
        "status: test\nlevel: high\ncorrelation:\n  type: aggregate\n  generate: true\n",
    )
    assert "generate: true" in text
    (tmp_path / "rules.yml").write_text(text)
    pack = load_rules([tmp_path / "rules.yml"])
    first = {
        name: [c.query for c in convert_pack(pack, make_backend(target))] for name, target in TARGETS.items()
    }
    again = {
        name: [c.query for c in convert_pack(pack, make_backend(target))] for name, target in TARGETS.items()
    }
    assert first == again
    assert all(len(queries) == 3 for queries in first.values())  # two base rules and the correlation


BOOLEAN_DERIVED = """\
title: Spam flag
name: spam_flag
correlation:
  type: aggregate
  rules: [okta_verify_push_sent, okta_verify_push_response]
  group-by: [authenticationContext.externalSessionId]
  timespan: 1h
  metrics:
    pushes: {type: count, rule: okta_verify_push_sent}
    denied: {type: count, rule: okta_verify_push_response, where: {outcome.result: FAILURE}}
    pushed_at: {type: max, field: authenticationContext.authenticationStep, where: {outcome.result: FAILURE}}
  derived:
    spam: pushes > 2
    odd: pushed_at > 0
  condition: spam or (not odd and denied > 0)
"""


@pytest.mark.parametrize("engine", SQL_ENGINES)
def test_boolean_derived_values(engine, generated, tmp_path):
    from sigma.pipelines.okta.loader import bundled_rules_path

    (tmp_path / "spam.yml").write_text(BOOLEAN_DERIVED)
    pack = load_rules([bundled_rules_path(), tmp_path / "spam.yml"])
    expected = engine_alerts(pack, [str(generated)], tmp_path)
    # `odd` is unknown (null) where no event failed, and `not unknown` stays unknown
    assert {alert["metrics"]["odd"] for alert in expected if alert["rule_title"] == "Spam flag"} == {
        None,
        False,
    }
    assert differences(expected, sql_alerts(engine, pack, [str(generated)])) == []


STANDARD = Path(__file__).parent / "rules" / "standard_correlations.yml"


def non_finite_events() -> list[str]:
    """Failed MFA pushes of one session whose authentication steps are, in turn, a JSON number beyond the
    double range, ordinary numbers, text spelling a number beyond it, and numbers whose sum overflows."""
    steps = ["1e999", "5", '"1e999"', "-1e999", "3", '"-1E400"']
    lines = []
    for session, values in (("overflowing", steps), ("huge", ["1e308", "1.5e308", "1"])):
        for index, step in enumerate(values):
            lines.append(
                f'{{"uuid":"{session}-{index}","published":"2026-01-01T00:0{index}:00.000Z",'
                '"eventType":"user.authentication.auth_via_mfa","outcome":{"result":"FAILURE"},'
                f'"actor":{{"alternateId":"{session}@example.com"}},'
                f'"authenticationContext":{{"externalSessionId":"{session}","authenticationStep":{step}}}}}'
            )
    return lines


@pytest.mark.parametrize("engine", SQL_ENGINES)
def test_non_finite_numbers_are_not_numbers(engine, tmp_path):
    # docs/aggregate-correlation.md: a number beyond the double range is not a number (kept as its text,
    # counted as non_finite_number), and a sum or average beyond it is null: the same in every engine
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(non_finite_events()) + "\n")
    pack = load_rules([STANDARD])
    expected = engine_alerts(pack, [str(path)], tmp_path)
    metrics = {
        (alert["rule_title"], next(iter(alert["group"].values()))): alert["metrics"]
        for alert in expected
        if "value_sum" in alert["metrics"] or "value_avg" in alert["metrics"]
    }
    assert metrics[("Authentication steps summed per session", "overflowing")] == {"value_sum": 8}
    assert metrics[("Average authentication step per user", "overflowing@example.com")] == {"value_avg": 4.0}
    assert metrics[("Authentication steps summed per session", "huge")] == {"value_sum": None}
    assert differences(expected, sql_alerts(engine, pack, [str(path)])) == []


@pytest.mark.parametrize("engine", SQL_ENGINES)
def test_standard_correlations_do_not_group_events_without_the_group_by_value(engine, tmp_path):
    # Sigma's reading (and pySigma-backend-sqlite's, and `stats ... by`): an event lacking a group-by
    # field is not correlated; `aggregate` rules keep Splunk's fillnull NULL group (group-by-missing)
    lines = []
    for index, actor in enumerate(['"a@example.com"', None, "null", None, None, None]):
        member = "" if actor is None else f'"actor":{{"alternateId":{actor}}},'
        lines.append(
            f'{{"uuid":"e{index}","published":"2026-01-01T00:0{index}:00.000Z",'
            f'"eventType":"user.authentication.auth_via_mfa","outcome":{{"result":"FAILURE"}},{member}'
            f'"authenticationContext":{{"externalSessionId":"s1","authenticationStep":4}}}}'
        )
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    pack = load_rules([STANDARD])
    expected = engine_alerts(pack, [str(path)], tmp_path)
    groups = {(alert["rule_title"], tuple(alert["group"].values())) for alert in expected}
    assert ("Many failed pushes per user", ("a@example.com",)) in groups
    assert not any(values == ("NULL",) for _, values in groups)
    # the per-session sum groups by the session, which every event has: all six count
    assert [
        a["metrics"] for a in expected if a["rule_title"] == "Authentication steps summed per session"
    ] == [{"value_sum": 24}]
    assert differences(expected, sql_alerts(engine, pack, [str(path)])) == []


def test_aggregate_rules_group_missing_values_as_null_unless_told_otherwise(tmp_path):
    text = STANDARD.read_text().split("---\ntitle: Many failed pushes per user")[0] + (
        "---\ntitle: Sessions per user\nname: agg_users\ncorrelation:\n  type: aggregate\n"
        "  rules: [std_push_denied]\n  group-by: [actor.alternateId]\n  timespan: 1h\n"
        "  metrics:\n    pushes: {type: count}\n  condition: pushes > 0\n"
    )
    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"uuid":"e1","published":"2026-01-01T00:00:00Z","eventType":"user.authentication.auth_via_mfa",'
        '"outcome":{"result":"FAILURE"}}\n'
    )
    for missing, expected in (("", [("NULL",)]), ("  group-by-missing: null\n", [])):
        path = tmp_path / "rules.yml"
        path.write_text(text + missing)
        pack = load_rules([path])
        alerts = engine_alerts(pack, [str(events)], tmp_path)
        assert [
            tuple(a["group"].values()) for a in alerts if a["rule_title"] == "Sessions per user"
        ] == expected
        assert differences(alerts, sql_alerts("duckdb", pack, [str(events)])) == []


def test_a_correlations_input_rule_run_for_its_own_matches(tmp_path):
    """A base rule that correlations read is left unfinalized by pySigma (its condition only); run
    alone (`--rule okta_verify_push_response`) its matches need the whole statement."""
    from sigma.backends.okta.cli import main

    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"uuid": "a1", "published": "2026-03-10T14:00:01.000Z", "eventType": "user.authentication.auth_via_mfa",'
        ' "outcome": {"result": "FAILURE"}, "debugContext": {"debugData": {"factor": "OKTA_VERIFY_PUSH"}}}\n'
    )
    alerts = {}
    for engine in ("python", "duckdb"):
        output = tmp_path / f"{engine}.jsonl"
        run = ["run", "--rule", "okta_verify_push_response", "--events", str(events), "-o", str(output), "-q"]
        assert main([*run, "--engine", engine]) == 0
        alerts[engine] = [json.loads(line)["event_id"] for line in output.read_text().splitlines()]
    assert alerts == {"python": ["a1"], "duckdb": ["a1"]}
