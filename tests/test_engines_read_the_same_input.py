"""One input layer for the three engines: on every input form and every kind of bad input, the Python
engine, DuckDB and Spark (``run --engine``) give the same alerts and the same bad-input report.

The SQL engines read what the engine's input layer stages (``backends/engine/staging.py``), so this
checks both that staging loses nothing the engine uses and that the SQL then agrees with the engine.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from okta_builders import NEW_BOTH, PUSH_RULE, push, response
from shared_corpus import OKTA_SAMPLES, SIGMAHQ_OKTA_RULES
from sql_engines import SQL_ENGINES

from sigma.backends.okta.engine.input_report import InputReport, Reason
from sigma.backends.okta.engine.runner import Engine, EngineOptions
from sigma.backends.okta.engine.sources import expand_sources
from sigma.backends.okta.targets.sql_execution import SqlEngineError, run_sources
from sigma.pipelines.okta.loader import bundled_rules_path, load_rules

LOCKOUT_RULE = """\
title: Account Locked Out (test)
id: 5a0f3c1e-0000-4000-8000-00000000000a
status: test
logsource: {product: okta, service: okta}
detection:
  selection: {eventType: user.account.lock}
  condition: selection
fields: [actor.alternateId]
level: low
"""


def lockout(uuid: str, published, **extra) -> dict:
    event = {"eventType": "user.account.lock", "uuid": uuid, "actor": {"alternateId": f"{uuid}@example.com"}}
    if published is not None:
        event["published"] = published
    return {**event, **extra}


def line(event: dict) -> bytes:
    return orjson.dumps(event) + b"\n"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """A folder with every input form the engine reads and every kind of bad line it counts."""
    folder = tmp_path_factory.mktemp("inputs")
    attack = [push("s1", 10), push("s1", 40), response("s1", 45, result="FAILURE")]
    bad = b"".join(
        [
            line(lockout("bad-time", "redacted")),
            line(lockout("no-time", None)),
            b'{"eventType": "user.account.lock", "published": "2026-03-10T14:00:01Z", "trunc\n',
            b"[1, 2]\n",
            b"\xef\xbb\xbf" + line(lockout("bom", "2026-03-10T14:00:02Z")),
            line(lockout("utf8", "2026-03-10T14:00:03Z")).replace(b"utf8@", b"utf8\xff@"),
            # a number beyond the double range, in a field no rule reads and in one a rule reads
            line(lockout("huge", "2026-03-10T14:00:04Z")).replace(b'"uuid"', b'"size": 1e999, "uuid"'),
            # duplicate keys: the last one counts, as in every JSON reader that keeps one
            b'{"eventType": "user.account.lock", "uuid": "first", "uuid": "dup", '
            b'"published": "2026-03-10T14:00:05Z"}\n',
            b'{"eventType": "user.account.lock", "uuid": "long", "pad": "' + b"x" * 3000 + b'"}\n',
            b"\n",
        ]
    )
    (folder / "bad.jsonl").write_bytes(bad + b"".join(line(event) for event in attack))
    # behaviors as an object (some exports write it so): rendered as Okta's {k=v} text and counted
    relay = [
        push("s2", 10),
        response("s2", 30, result="FAILURE"),
    ]
    relay[1]["debugContext"]["debugData"]["behaviors"] = {
        part.split("=")[0]: part.split("=")[1] for part in NEW_BOTH.strip("{}").split(", ")
    }
    (folder / "api-page.json").write_bytes(orjson.dumps([*relay, lockout("array", "2026-03-10T15:00:00Z")]))
    (folder / "pretty.json").write_bytes(
        orjson.dumps(lockout("pretty", "2026-03-10T15:00:01Z"), option=orjson.OPT_INDENT_2)
    )
    with gzip.open(folder / "more.jsonl.gz", "wb") as stream:
        stream.write(line(lockout("gzipped", "2026-03-10T15:00:02Z")) + b"not json\n")
    return folder


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    rule = tmp_path_factory.mktemp("rules") / "lockout.yml"
    rule.write_text(LOCKOUT_RULE)
    return load_rules([bundled_rules_path(), rule])


def comparable(alerts) -> list[dict]:
    """Alerts in one order; a match alert's event reduced to the fields the SQL selects (see README)."""
    result = []
    for alert in alerts:
        data = alert.to_dict()
        if "event" in data:
            data["event"] = sorted(data["fields"])
        result.append(data)
    return sorted(result, key=lambda data: json.dumps(data, sort_keys=True))


def report_of(report: InputReport) -> tuple[dict, dict]:
    firsts = {reason: offence.location for reason, offence in report.first_by_reason.items()}
    return dict(report.counts), firsts


def python_run(pack, sources, options):
    alerts: list = []
    result = Engine(pack, options).run(sources, alerts.append)
    return comparable(alerts), report_of(result.report)


def sql_run(engine, pack, sources, options):
    alerts: list = []
    report, _ = run_sources(engine, pack, sources, options, alerts.append)
    return comparable(alerts), report_of(report)


@pytest.mark.parametrize("engine", SQL_ENGINES)
@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_every_input_form_and_bad_line_gives_the_same_alerts_and_report(engine, strict, inputs, pack):
    sources = expand_sources([str(inputs)])
    options = EngineOptions(workers=1, validate_all=strict, max_line_bytes=2048, every_group=True)
    expected = python_run(pack, sources, options)
    alerts, (counts, _) = expected
    found = {alert.get("event_id") for alert in alerts}
    # what the fixture is for: each form is read, each repaired event alerts, each dropped one does not
    assert {"array", "pretty", "gzipped", "bom", "utf8", "huge", "dup"} <= found
    assert not found & {"bad-time", "no-time", "long", "first"}
    relay = {"authenticationContext.externalSessionId": "s2"}  # behaviors as an object, in an API page
    assert any(alert.get("group") == relay and "condition" not in alert for alert in alerts)
    assert counts[Reason.BAD_TIMESTAMP] == counts[Reason.MISSING_TIMESTAMP] == 1
    assert counts[Reason.LINE_TOO_LONG] == counts[Reason.OBJECT_FOR_STRING] == 1
    assert counts[Reason.MALFORMED_JSON] == 2 and counts[Reason.INVALID_UTF8] == counts[Reason.BOM] == 1
    assert sql_run(engine, pack, sources, options) == expected


@pytest.mark.shared
@pytest.mark.skipif(not SIGMAHQ_OKTA_RULES.is_dir(), reason="../shared is absent")
@pytest.mark.parametrize("engine", SQL_ENGINES)
def test_the_real_format_samples_give_the_same_alerts_and_report(engine):
    rules = [path for path in SIGMAHQ_OKTA_RULES.glob("*.yml") if "impersonation" not in path.name]
    pack = load_rules([bundled_rules_path(), *rules])  # impersonation needs a user's placeholder values
    sources = expand_sources([str(OKTA_SAMPLES)])
    options = EngineOptions(workers=1)
    expected = python_run(pack, sources, options)
    assert len(expected[0]) >= 5
    assert sql_run(engine, pack, sources, options) == expected


def test_a_streaming_option_the_sql_engines_cannot_honour_is_refused(inputs, pack):
    sources = expand_sources([str(inputs)])
    with pytest.raises(SqlEngineError, match="--allowed-lateness"):
        run_sources("duckdb", pack, sources, EngineOptions(allowed_lateness=600), lambda alert: None)
    with pytest.raises(SqlEngineError, match="--time-field uuid"):
        run_sources("duckdb", pack, sources, EngineOptions(time_field="uuid"), lambda alert: None)


def test_duckdb_reads_a_json_array_from_stdin(inputs):
    sigma_okta = str(Path(sys.executable).with_name("sigma-okta"))
    page = (inputs / "api-page.json").read_bytes()
    runs = [
        subprocess.run(
            # the seed rule: match alerts of the others would differ in `event` (the SQL selects columns)
            [sigma_okta, "run", "--rule", PUSH_RULE, "--events", "-", "--engine", engine, "--quiet"],
            input=page,
            capture_output=True,
            timeout=120,
        )
        for engine in ("python", "duckdb")
    ]
    assert [run.returncode for run in runs] == [0, 0], runs[1].stderr
    assert runs[0].stdout == runs[1].stdout
    (alert,) = [json.loads(text) for text in runs[0].stdout.splitlines()]
    assert alert["group"] == {"authenticationContext.externalSessionId": "s2"}
