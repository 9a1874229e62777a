"""The `sigma-okta` command: outputs, exit codes, and errors without tracebacks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from okta_builders import PUSH_RULE, push, response, write_events
from shared_corpus import OKTA_SAMPLES, SIGMAHQ_OKTA_RULES

from sigma.pipelines.okta.loader import load_bundled

CLI = [str(Path(sys.executable).with_name("sigma-okta"))]
#: the seed rule alone: the bundled pack holds the whole Okta family, whose other rules these events touch
SEED = ["--rule", PUSH_RULE]
ATTACK = [push("s1", 10), push("s1", 40), response("s1", 45, result="FAILURE")]


def sigma_okta(*arguments: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *arguments], input=stdin, capture_output=True, timeout=120)


@pytest.fixture
def events(tmp_path) -> Path:
    return write_events(tmp_path / "events.jsonl", ATTACK)


def test_run_prints_one_json_alert_per_line(events):
    done = sigma_okta("run", *SEED, "--events", str(events))
    assert done.returncode == 0, done.stderr
    (alert,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert alert["group"] == {"authenticationContext.externalSessionId": "s1"}
    summary = done.stderr.decode()  # what was run and read, and the alerts per rule
    assert summary.startswith("3 rules on python: ") and "1 alert\n" in summary
    assert "       1  Okta Mismatch Between Source and Response for Verify Push Request" in summary
    assert "bad input" not in summary
    quiet = sigma_okta("run", *SEED, "--events", str(events), "--quiet")
    assert quiet.stdout == done.stdout and quiet.stderr == b""


def test_every_group_as_text_shows_groups_whose_condition_is_false_without_counting_them(tmp_path):
    path = write_events(tmp_path / "events.jsonl", [*ATTACK, push("quiet", 10)])
    done = sigma_okta("run", *SEED, "--events", str(path), "--format", "text", "--every-group")
    text = done.stdout.decode()
    assert text.count("#1 [medium]") == 1 and "#2" not in text
    assert text.count("(condition false) [medium]") == 1
    assert text.rstrip().endswith("1 alert (1 more group: condition false)")


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_an_event_whose_time_cannot_be_read_gives_no_alert_of_any_kind(tmp_path, engine):
    rule = tmp_path / "lock.yml"
    rule.write_text(
        "title: Lock\nid: 5a0f3c1e-0000-4000-8000-0000000000b1\nlogsource: {product: okta, service: okta}\n"
        "detection: {selection: {eventType: user.account.lock}, condition: selection}\n"
    )
    path = tmp_path / "events.jsonl"
    path.write_text('{"eventType": "user.account.lock", "published": "redacted", "uuid": "u1"}\n')
    done = sigma_okta("run", str(rule), "--events", str(path), "--engine", engine)
    assert done.returncode == 0 and done.stdout == b""
    assert b"bad_timestamp                 1  dropped" in done.stderr


def test_a_time_field_no_matching_event_has_is_warned_about(events):
    done = sigma_okta("run", *SEED, "--events", str(events), "--time-field", "nosuch", "--quiet")
    assert done.returncode == 0 and done.stdout == b""
    assert b"warning: no matching event has a readable time field 'nosuch' (3 lack it)" in done.stderr


def test_no_rules_is_warned_about(tmp_path, events):
    (tmp_path / "empty").mkdir()
    done = sigma_okta("run", str(tmp_path / "empty"), "--events", str(events), "--quiet")
    assert done.returncode == 0
    assert done.stderr.decode().startswith(f"warning: no rules found in {tmp_path / 'empty'}")


def test_the_sql_engines_refuse_what_they_cannot_honour(events):
    done = sigma_okta(
        "run", *SEED, "--events", str(events), "--engine", "duckdb", "--allowed-lateness", "10m"
    )
    assert done.returncode == 2
    assert b"--engine duckdb: --allowed-lateness is a streaming option" in done.stderr


def test_run_text_format_is_readable(events):
    done = sigma_okta("run", *SEED, "--events", str(events), "--format", "text")
    text = done.stdout.decode()
    assert "Okta Mismatch Between Source and Response for Verify Push Request" in text
    assert "authenticationContext.externalSessionId=s1" in text
    assert text.rstrip().endswith("1 alert")


def test_run_reads_stdin_and_writes_a_file(events, tmp_path):
    output = tmp_path / "alerts.jsonl"
    done = sigma_okta("run", *SEED, "--events", "-", "--output", str(output), stdin=events.read_bytes())
    assert done.returncode == 0, done.stderr
    assert len(output.read_text().splitlines()) == 1


def test_bad_lines_are_summarised_and_the_good_events_kept(tmp_path):
    path = tmp_path / "events.jsonl"
    good = b"".join(json.dumps(event).encode() + b"\n" for event in ATTACK)
    path.write_bytes(b'{"eventType": "system.push.send_factor_verify_push", "trunc\n' + good + b"not json\n")
    done = sigma_okta("run", *SEED, "--events", str(path))
    assert done.returncode == 0
    assert len(done.stdout.splitlines()) == 1
    assert b"malformed_json" in done.stderr


def test_strict_fails_naming_the_first_bad_line(tmp_path):
    path = tmp_path / "events.jsonl"
    good = b"".join(json.dumps(event).encode() + b"\n" for event in ATTACK)
    path.write_bytes(good + b"garbage\n")
    done = sigma_okta("run", "--strict", "--events", str(path))
    assert done.returncode == 3
    assert f"{path}:4".encode() in done.stderr
    assert b"Traceback" not in done.stderr


def test_missing_input_exits_4_without_traceback(tmp_path):
    done = sigma_okta("run", *SEED, "--events", str(tmp_path / "absent.jsonl"))
    assert done.returncode == 4
    assert b"absent.jsonl" in done.stderr and b"Traceback" not in done.stderr


def test_invalid_rules_exit_2_with_their_location(tmp_path, events):
    rule = tmp_path / "bad.yml"
    rule.write_text(
        "title: x\ncorrelation:\n  type: aggregate\n  rules: [nope]\n  timespan: 1h\n"
        "  metrics: {n: {type: count}}\n  condition: n > 1\n"
    )
    done = sigma_okta("run", str(rule), "--events", str(events))
    assert done.returncode == 2
    assert f"{rule}:4".encode() in done.stderr and b"unknown rule 'nope'" in done.stderr
    assert b"Traceback" not in done.stderr


def test_usage_errors_exit_2():
    assert sigma_okta("run").returncode == 2
    assert sigma_okta("run", *SEED, "--events", "x", "--allowed-lateness", "soon").returncode == 2


def test_validate_lists_the_bundled_pack():
    done = sigma_okta("validate")
    assert done.returncode == 0
    assert b"okta_verify_push_source_response_mismatch" in done.stdout
    assert f"{len(load_bundled())} rule(s) OK".encode() in done.stderr


def test_generate_then_run_finds_exactly_the_attack_sessions(tmp_path):
    events, truth = tmp_path / "events.jsonl", tmp_path / "truth.json"
    done = sigma_okta("generate", "--seed", "3", "--output", str(events), "--truth", str(truth))
    assert done.returncode == 0, done.stderr
    alerts = [
        json.loads(line) for line in sigma_okta("run", *SEED, "--events", str(events)).stdout.splitlines()
    ]
    found = sorted(
        [a["window"]["start"].replace(".000Z", "Z"), a["group"]["authenticationContext.externalSessionId"]]
        for a in alerts
    )
    assert found == sorted(json.loads(truth.read_text())["expected_alerts"])
    assert found


def test_truth_reports_missed_and_unexpected_alerts(tmp_path):
    events, truth = tmp_path / "events.jsonl", tmp_path / "truth.json"
    sigma_okta("generate", "--seed", "4", "--output", str(events), "--truth", str(truth))
    done = sigma_okta("run", *SEED, "--events", str(events), "--truth", str(truth))
    assert done.returncode == 0 and b", 0 missed, 0 unexpected" in done.stderr
    expected = json.loads(truth.read_text())
    push_alerts = expected["rules"][expected["rule_id"]]["alerts"]  # the truth of every rule, by rule id
    dropped = list(push_alerts.pop()["group"].values())
    push_alerts.append(
        {
            "window_start": "2026-03-10T01:00:00Z",
            "group": {"authenticationContext.externalSessionId": "idxNotThere"},
        }
    )
    truth.write_text(json.dumps(expected))
    done = sigma_okta("run", *SEED, "--events", str(events), "--truth", str(truth))
    assert done.returncode == 5
    assert b"1 missed, 1 unexpected" in done.stderr
    assert dropped[0].encode() in done.stderr and b"idxNotThere" in done.stderr


# --- what a new user hits first (issue 12) -----------------------------------------------------------


def test_version():
    done = sigma_okta("--version")
    assert done.returncode == 0 and done.stdout.decode().startswith("sigma-okta ")


def test_several_event_files_after_one_events_option(tmp_path):
    # a shell glob gives `--events a.jsonl b.jsonl`: both are events, neither is read as a rule
    first = write_events(tmp_path / "a.jsonl", ATTACK)
    second = write_events(
        tmp_path / "b.jsonl", [push("s2", 10), push("s2", 40), response("s2", 45, result="FAILURE")]
    )
    output = tmp_path / "not" / "yet" / "alerts.jsonl"  # -o creates its folder, as generate -o does
    done = sigma_okta("run", *SEED, "--events", str(first), str(second), "-o", str(output))
    assert done.returncode == 0, done.stderr
    groups = [json.loads(line)["group"] for line in output.read_text().splitlines()]
    assert groups == [
        {"authenticationContext.externalSessionId": "s1"},
        {"authenticationContext.externalSessionId": "s2"},
    ]


def test_a_rule_folder_named_twice_is_read_once():
    rules = str(Path(__file__).resolve().parents[1] / "rules")
    done = sigma_okta("validate", rules, rules)
    assert done.returncode == 0, done.stderr
    assert b"duplicate" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["-t", "duckdb", "-p", "okta_elastic"],
            "target duckdb cannot use the pipeline okta_elastic (its Okta pipelines: none: it reads raw Okta "
            "System Log JSON)",
        ),
        (["-t", "esql", "-p", "okta_sentinel"], "target esql cannot use the pipeline okta_sentinel"),
        (["-t", "splunk", "-p", "nope.yml"], "pipeline file 'nope.yml' not found"),
    ],
)
def test_pipelines_a_target_cannot_use_are_refused(arguments, message):
    done = sigma_okta("convert", *arguments)
    assert done.returncode == 2
    assert message in done.stderr.decode()


WINDOWS_RULE = """\
title: Windows Process (test)
id: 5a0f3c1e-0000-4000-8000-0000000000c1
logsource: {product: windows, category: process_creation}
detection: {selection: {eventType: system.push.send_factor_verify_push}, condition: selection}
level: high
"""


@pytest.mark.parametrize("command", [["run", "--events", "EVENTS"], ["convert", "-t", "splunk"]])
def test_a_rule_for_another_logsource_is_skipped_with_a_message(tmp_path, events, command):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "windows.yml").write_text(WINDOWS_RULE)
    arguments = [str(events) if part == "EVENTS" else part for part in command]
    done = sigma_okta(*arguments[:1], str(folder), "rules", *arguments[1:])
    assert done.returncode == 0, done.stderr
    assert (
        f"{folder / 'windows.yml'}: rule 'Windows Process (test)' skipped: logsource product: windows, "
        "category: process_creation is not Okta's System Log (--all-logsources runs it anyway)"
    ) in done.stderr.decode()
    assert b"Windows Process" not in done.stdout
    forced = sigma_okta(*arguments[:1], str(folder), *arguments[1:], "--all-logsources")
    assert forced.returncode == 0 and b"skipped" not in forced.stderr
    if command[0] == "convert":
        assert b"Windows Process (test)" in forced.stdout
    else:  # the rule matches the two pushes: exactly the false positives the default avoids
        assert sum(b"Windows Process (test)" in line for line in forced.stdout.splitlines()) == 2


def test_rules_are_selected_by_name_tag_and_level(events):
    def titles(*selection: str) -> list[str]:
        done = sigma_okta("convert", "-t", "splunk", *selection)
        assert done.returncode == 0, done.stderr
        return [
            line.split(" (")[0][4:] for line in done.stdout.decode().splitlines() if line.startswith("```")
        ]

    mismatch = "Okta Mismatch Between Source and Response for Verify Push Request"
    # a correlation brings the rules it reads, which give no alerts of their own
    assert titles("--rule", "okta_verify_push_source_response_mismatch") == [mismatch]
    # a rule a correlation reads, selected without it, stands alone: its matches are alerts
    assert titles("--rule", "Okta Verify Push Sent") == ["Okta Verify Push Sent"]
    assert sorted(titles("--tag", "attack.t1621")) == [
        "Okta Authentication Failed During MFA Challenge",
        mismatch,
        "Okta Multiple Failed MFA Requests For User",
        "Okta Successful Single Factor Authentication",
    ]
    assert sorted(titles("--min-level", "high")) == [
        "Okta IDP Lifecycle Modifications",
        "Okta Phishing Detection with FastPass Origin Check",
        "Okta Unauthorized Access to Application",
        "Okta User Logins from Multiple Cities",
    ]
    assert titles("--min-level", "critical") == []
    wrong = sigma_okta("run", "--rule", "okta_verify_push_source_response_mismatchh", "--events", str(events))
    assert wrong.returncode == 2
    assert b"did you mean 'okta_verify_push_source_response_mismatch'?" in wrong.stderr


def test_from_and_to_select_events_by_time(tmp_path):
    later = [push("s9", 3600 + 10), push("s9", 3600 + 40), response("s9", 3600 + 45, result="FAILURE")]
    path = write_events(tmp_path / "events.jsonl", [*ATTACK, *later])

    def sessions(*window: str) -> list[str]:
        done = sigma_okta("run", *SEED, "--events", str(path), "--quiet", *window)
        assert done.returncode == 0, done.stderr
        return [
            json.loads(line)["group"]["authenticationContext.externalSessionId"]
            for line in done.stdout.splitlines()
        ]

    assert sessions() == ["s1", "s9"]
    assert sessions("--from", "2026-03-10T15:00:00Z") == ["s9"]
    assert sessions("--to", "2026-03-10T15:00:00") == ["s1"]
    assert sessions("--from", "2026-03-11") == []
    bad = sigma_okta("run", *SEED, "--events", str(path), "--from", "yesterday")
    assert bad.returncode == 2 and b"'yesterday' is not a time like 2026-03-10" in bad.stderr


def test_keys_that_differ_from_the_rules_fields_only_in_case_are_named(tmp_path):
    lowered = [{key.lower(): value for key, value in event.items()} for event in ATTACK]
    path = write_events(tmp_path / "export.jsonl", lowered)
    done = sigma_okta("run", *SEED, "--events", str(path), "--quiet")
    assert done.returncode == 0 and done.stdout == b""
    warnings = done.stderr.decode()
    assert "warning: events have 'eventtype' where the rules read 'eventType'" in warnings
    assert "'authenticationcontext.externalSessionId' where the rules read " in warnings
    assert "Sigma field names are case-sensitive" in warnings
    clean = sigma_okta("run", *SEED, "--events", str(write_events(tmp_path / "ok.jsonl", ATTACK)), "--quiet")
    assert clean.stderr == b""


def test_alerts_as_csv_and_as_a_table(events):
    import csv
    import io

    done = sigma_okta("run", *SEED, "--events", str(events), "--format", "csv", "--quiet")
    (row,) = csv.DictReader(io.StringIO(done.stdout.decode()))
    assert row["group"] == "s1" and row["level"] == "medium" and row["time"] == "2026-03-10T14:00:00.000Z"
    assert row["metrics"].startswith("dc_ip=2, total_pushes=2, ")
    table = sigma_okta("run", *SEED, "--events", str(events), "--format", "table", "--quiet").stdout.decode()
    header, rule, line = table.splitlines()
    assert header.split() == ["time", "level", "rule_title", "group", "metrics", "event_id", "rule_id"]
    assert set(rule) <= {"-", " "} and line.startswith("2026-03-10T14:00:00.000Z  medium  Okta Mismatch")


def test_list_as_a_table_csv_or_json():
    table = sigma_okta("list", "targets", "--format", "table").stdout.decode().splitlines()
    assert table[0].split() == ["target", "language", "pipelines"] and len(table) == 7
    rows = [json.loads(line) for line in sigma_okta("list", "pipelines").stdout.splitlines()]  # not a tty
    assert {"pipeline": "okta_elastic", "time field": "@timestamp"}.items() <= rows[1].items()
    assert sigma_okta("list", "targets", "--format", "csv").stdout.startswith(b"target,language,pipelines\n")


def test_a_pipeline_runs_the_rules_on_events_stored_in_its_schema(tmp_path):
    from schema_storage import stored_as

    stored = write_events(tmp_path / "sentinel.jsonl", [stored_as("okta_sentinel_legacy", e) for e in ATTACK])
    raw = sigma_okta("run", *SEED, "--events", str(tmp_path / "sentinel.jsonl"), "--quiet")
    assert raw.returncode == 0 and raw.stdout == b""  # the raw field names find nothing there
    done = sigma_okta("run", *SEED, "--events", str(stored), "-p", "okta_sentinel_legacy", "--quiet")
    assert done.returncode == 0, done.stderr
    (alert,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert alert["group"] == {"authenticationContext_externalSessionId_s": "s1"}
    assert alert["window"]["start"] == "2026-03-10T14:00:00.000Z"  # time read from published_t
    refused = sigma_okta(
        "run", *SEED, "--events", str(stored), "-p", "okta_sentinel_legacy", "--engine", "duckdb"
    )
    assert refused.returncode == 2 and b"--engine duckdb cannot use --pipeline" in refused.stderr
    missing = sigma_okta("run", *SEED, "--events", str(stored), "-p", "nope.yml")
    assert missing.returncode == 2 and b"pipeline file 'nope.yml' not found" in missing.stderr
    elastic = sigma_okta("run", *SEED, "--events", str(stored), "-p", "okta_elastic")
    assert elastic.returncode == 2
    assert b"collapse field 'debugContext.debugData.behaviors' is stored by okta_elastic" in elastic.stderr


def test_progress_is_drawn_when_asked_for_and_cleared_before_the_summary(events):
    done = sigma_okta("run", *SEED, "--events", str(events), "--progress")
    assert done.returncode == 0
    stderr = done.stderr.decode()
    assert stderr.startswith("\r\x1b[K[") and "100%" in stderr
    assert "\r\x1b[K3 rules on python: " in stderr  # the line is cleared, then the summary
    assert (
        sigma_okta("run", *SEED, "--events", str(events)).stderr.decode().startswith("3 rules on python")
    )  # no tty


PLACEHOLDER_RULE = """\
title: Impersonation from outside
id: 3e5a7c9b-1d2f-4a6b-8c0e-2f4a6c8e0b1d
logsource: {product: okta, service: okta}
detection:
  selection:
    eventType: user.session.impersonation.grant
  trusted:
    actor.alternateId|contains|expand: '%trusted_domains%'
  condition: selection and not trusted
"""
TOKEN_RULE = """\
title: API token created
id: 8b0d2f4a-6c8e-4a1b-9d3f-5a7c9e1b3d5f
logsource: {product: okta, service: okta}
detection:
  selection:
    eventType: system.api_token.create
  condition: selection
"""
TRUSTED_DOMAINS = """\
name: our trusted domains
priority: 10
vars:
  trusted_domains: ["@example.com"]
transformations:
  - type: value_placeholders
"""


@pytest.fixture
def placeholder_case(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "impersonation.yml").write_text(PLACEHOLDER_RULE)
    (rules / "token.yml").write_text(TOKEN_RULE)
    (tmp_path / "vars.yml").write_text(TRUSTED_DOMAINS)
    events = [
        {
            "uuid": "out",
            "published": "2026-03-10T14:00:00Z",
            "eventType": "user.session.impersonation.grant",
            "actor": {"alternateId": "eve@evil.example"},
        },
        {
            "uuid": "in",
            "published": "2026-03-10T14:00:01Z",
            "eventType": "user.session.impersonation.grant",
            "actor": {"alternateId": "ana@example.com"},
        },
        {"uuid": "token", "published": "2026-03-10T14:00:02Z", "eventType": "system.api_token.create"},
    ]
    return rules, tmp_path / "vars.yml", write_events(tmp_path / "events.jsonl", events)


def test_a_placeholder_is_filled_by_a_vars_pipeline_or_its_rule_skipped_on_request(placeholder_case):
    rules, variables, events = placeholder_case

    def alerted(done) -> list[str]:
        assert done.returncode == 0, done.stderr
        return sorted(json.loads(line)["event_id"] for line in done.stdout.splitlines())

    refused = sigma_okta("run", str(rules), "--events", str(events))
    assert refused.returncode == 2 and b"rule 'Impersonation from outside'" in refused.stderr
    skipping = sigma_okta("run", str(rules), "--events", str(events), "--skip-unsupported")
    assert alerted(skipping) == ["token"]
    assert b"rule 'Impersonation from outside' skipped: the engine cannot evaluate" in skipping.stderr
    assert alerted(sigma_okta("run", str(rules), "--events", str(events), "-p", str(variables))) == [
        "out",
        "token",
    ]


def test_convert_names_every_refusal_or_skips_them_and_a_vars_pipeline_keeps_the_targets_mapping(
    placeholder_case,
):
    rules, variables, _ = placeholder_case
    refused = sigma_okta("convert", "-t", "kusto", str(rules))
    assert refused.returncode == 2 and b"Impersonation from outside" in refused.stderr
    skipping = sigma_okta("convert", "-t", "kusto", str(rules), "--skip-unsupported")
    assert skipping.returncode == 0
    assert b"skipped (target kusto cannot express it): " in skipping.stderr
    assert b"API token created" in skipping.stdout and b"Impersonation" not in skipping.stdout
    filled = sigma_okta("convert", "-t", "kusto", str(rules), "-p", str(variables))
    assert filled.returncode == 0, filled.stderr
    query = filled.stdout.decode()
    # the Sentinel mapping is still there: the vars pipeline was added to it, not put in its place
    assert "OktaV2_CL" in query and 'OriginalActorAlternateId contains "@example.com"' in query


@pytest.mark.skipif(not SIGMAHQ_OKTA_RULES.is_dir(), reason="../shared is absent")
@pytest.mark.parametrize("target", ["splunk", "esql", "kusto", "duckdb", "spark"])
def test_the_whole_sigmahq_okta_folder_converts_with_its_placeholder_filled(tmp_path, target):
    variables = tmp_path / "vars.yml"
    variables.write_text(TRUSTED_DOMAINS.replace("trusted_domains", "legtimate_identifiers"))
    done = sigma_okta(
        "convert", "-t", target, str(SIGMAHQ_OKTA_RULES), "-p", str(variables), "--skip-unsupported"
    )
    assert done.returncode == 0, done.stderr
    assert b"Okta Session Impersonation Granted From Untrusted Domain" in done.stdout
    refusals = [line for line in done.stderr.decode().splitlines() if line.startswith("skipped")]
    titles = re.findall(r"(?m)^(?:--|//|```) .+ \([0-9a-f-]{36}\)(?: ```)?$", done.stdout.decode())
    assert len(titles) + len(refusals) == 24, refusals  # every rule: converted or refused by name
    assert len(refusals) <= 3, refusals
    run = sigma_okta("run", str(SIGMAHQ_OKTA_RULES), "-p", str(variables), "--events", str(OKTA_SAMPLES))
    assert run.returncode == 0, run.stderr


def test_a_pipeline_refusal_fails_the_run_or_is_skipped_on_request(tmp_path):
    from schema_storage import stored_as

    token = {"uuid": "t1", "published": "2026-03-10T14:00:00Z", "eventType": "system.api_token.create"}
    stored = write_events(tmp_path / "ocsf.jsonl", [stored_as("okta_ocsf", token)])
    refused = sigma_okta("run", "--events", str(stored), "-p", "okta_ocsf")
    assert refused.returncode == 2
    assert b"rule 'okta_phishing_detection_with_fastpass_origin_check'" in refused.stderr
    done = sigma_okta("run", "--events", str(stored), "-p", "okta_ocsf", "--skip-unsupported", "--quiet")
    assert done.returncode == 0, done.stderr
    assert b"rule 'Okta Phishing Detection with FastPass Origin Check' skipped" in done.stderr
    (alert,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert (alert["rule_title"], alert["event_id"]) == (
        "Okta New API Token Created",
        "t1",
    )  # uuid as OCSF keeps it
