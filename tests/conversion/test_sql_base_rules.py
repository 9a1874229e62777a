"""Base-rule conversion to SQL, executed: DuckDB and Spark match exactly the events the engine matches.

Every value modifier and condition form (tests/conversion/rules/modifiers.yml) on varied hand-made
events, and SigmaHQ's Okta rules on the real-format samples of ../shared when it is present.
"""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest
from shared_corpus import CORPUS
from sql_engines import SQL_ENGINES

from sigma.backends.okta.engine.documents import iter_document_events
from sigma.backends.okta.engine.sources import expand_sources, is_document
from sigma.backends.okta.targets.sql_execution import run_pack
from sigma.pipelines.okta.loader import load_rules

HERE = Path(__file__).parent
SHARED = CORPUS


def varied_events(count: int = 400, seed: int = 4) -> list[dict]:
    pick = random.Random(seed).choice
    events = []
    for number in range(count):
        event: dict = {
            "uuid": f"e{number:05d}",
            "published": f"2026-03-10T12:{number % 60:02d}:{number % 59:02d}.{number % 1000:03d}Z",
            "eventType": pick(
                [
                    "user.session.start",
                    "USER.SESSION.START",
                    "user.authentication.sso",
                    "policy.evaluate_sign_on",
                    "system.push.send_factor_verify_push",
                ]
            ),
            "displayMessage": pick(
                ["User login to Okta", "user LOGIN to app", "User logon to x", "Evaluation"]
            ),
            "actor": {
                "alternateId": pick(
                    ["ann.lee@example.com", "bob@EXAMPLE.COM", "0oa1x", "Ann.Lee@example.com"]
                )
            },
            "client": {
                "userAgent": {
                    "rawUserAgent": pick(
                        [
                            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/132.0",
                            "Mozilla/5.0 (Macintosh) Safari/605",
                            "curl/8.4.0",
                            "mozilla/5.0 (windows nt) firefox",
                        ]
                    )
                }
            },
            "outcome": {"result": pick(["SUCCESS", "success", "FAILURE", "ALLOW"])},
            "securityContext": {
                "asNumber": pick([11776, 20001, 7922, "7922"]),
                "isProxy": pick([True, False, "true"]),
            },
        }
        event["actor"]["displayName"] = pick([event["actor"]["alternateId"].upper(), "Someone"])
        if pick([True, True, False]):
            event["client"]["ipAddress"] = pick(["203.0.113.9", "10.1.2.3", "198.51.100.2", "2001:db8::1"])
        if pick([True, False]):
            event["outcome"]["reason"] = pick([None, "INVALID_CREDENTIALS"])
        session = pick(["idx1", None, "missing"])
        if session != "missing":
            event["authenticationContext"] = {"externalSessionId": session}
        step = pick([0, 1, 2, "2", "missing"])
        if step != "missing":
            event.setdefault("authenticationContext", {})["authenticationStep"] = step
        debug = {}
        if pick([True, False]):
            debug["factor"] = pick(["OKTA_VERIFY_PUSH", "SMS"])
        if pick([True, False]):
            debug["behaviors"] = "{New Device=POSITIVE, New IP=NEGATIVE}"
        event["debugContext"] = {"debugData": debug}
        events.append(event)
    return events


def matches(alerts: list) -> set[tuple[str, str]]:
    return {(alert.rule_title, alert.event_id) for alert in alerts}


def engine_matches(pack, path: Path) -> set[tuple[str, str]]:
    from sigma.backends.okta.engine.runner import Engine, EngineOptions

    alerts: list = []
    Engine(pack, EngineOptions(workers=1)).run(expand_sources([str(path)]), alerts.append)
    return matches(alerts)


def sql_matches(engine: str, pack, path: Path) -> set[tuple[str, str]]:
    alerts: list = []
    run_pack(engine, pack, [str(path)], alerts.append)
    return matches(alerts)


@pytest.fixture(scope="module")
def varied(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("varied") / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in varied_events()))
    return path


@pytest.mark.parametrize("engine", SQL_ENGINES)
def test_every_modifier_matches_the_same_events(engine, varied):
    pack = load_rules([HERE / "rules" / "modifiers.yml"])
    expected = engine_matches(pack, varied)
    titles = {title for title, _ in expected}
    assert titles == {rule.title for rule in pack.base_rules}, "every rule must match some events"
    assert all(sum(1 for t, _ in expected if t == title) < 400 for title in titles), "and not all of them"
    assert sql_matches(engine, pack, varied) == expected


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> Path:
    """The real-format samples of ../shared as one NDJSON file (both sides then read the same lines)."""
    from sigma.backends.okta.engine.input_report import InputReport

    path = tmp_path_factory.mktemp("samples") / "samples.jsonl"
    lines = []
    for source in expand_sources([str(SHARED / "okta-samples")]):
        report = InputReport([source])
        if is_document(source, report):
            events = [event for _, event in iter_document_events(source, report)]
        else:
            events = [orjson.loads(line) for line in source.path.read_bytes().splitlines() if line.strip()]
        for number, event in enumerate(events):
            event.setdefault("uuid", f"{source.path.name}-{number}")
            lines.append(orjson.dumps(event))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.shared
@pytest.mark.skipif(not (SHARED / "sigmahq-okta-rules").is_dir(), reason="../shared is absent")
@pytest.mark.parametrize("engine", SQL_ENGINES)
def test_sigmahq_okta_rules_on_the_samples(engine, samples, tmp_path):
    rules = [
        path for path in (SHARED / "sigmahq-okta-rules").glob("*.yml") if "impersonation" not in path.name
    ]
    pack = load_rules(rules)  # the impersonation rule needs a placeholder filled by the user's pipeline
    expected = engine_matches(pack, samples)
    assert len({title for title, _ in expected}) >= 5
    assert sql_matches(engine, pack, samples) == expected
