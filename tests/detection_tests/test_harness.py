"""`sigma-okta test`: each expectation kind passing and failing, the uncovered-alert policy, engine
disagreement, configuration errors with their locations, and `explain`."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from detection_test_builders import DENIED, TEMPLATES, pack_folder

from sigma.backends.okta.cli import main
from sigma.backends.okta.detection_tests import runner
from sigma.backends.okta.detection_tests.checks import Verdict
from sigma.backends.okta.detection_tests.engines import Outcome
from sigma.backends.okta.detection_tests.runner import load_suite, run_suite
from sigma.pipelines.okta.errors import RulePackError
from sigma.pipelines.okta.loader import bundled_rules_path, load_rules

RULE = "okta_verify_push_source_response_mismatch"

# a single-event rule, for event expectations
FACTOR_RESET = """\
title: Okta MFA Factor Reset
id: 3f0b3c2e-6d8e-4c1b-9f0e-000000000001
name: okta_factor_reset
status: test
logsource: {product: okta, service: okta}
detection:
  selection:
    eventType: user.mfa.factor.reset_all
  condition: selection
level: medium
"""


def run(folder: Path, engines=("python",)):
    return run_suite(load_suite([folder], list(engines)))


def verdicts(suite) -> list[tuple[str, str]]:
    return [
        (check.description, check.verdict.value)
        for result in suite.results
        for checks in result.checks.values()
        for check in checks
    ]


def failures(suite) -> list[str]:
    return [
        check.message
        for result in suite.results
        for checks in result.checks.values()
        for check in checks
        if check.verdict is Verdict.FAIL
    ]


# --- expectation kinds --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expectation", "passes"),
    [
        ("- group: {authenticationContext.externalSessionId: idxA}", True),
        ("- group: {authenticationContext.externalSessionId: idxA}\n  fires: false", False),
        (
            "- group: {authenticationContext.externalSessionId: idxA}\n  metrics: {total_rejected: 1, ratio: 0.0}",
            True,
        ),
        ("- group: {authenticationContext.externalSessionId: idxA}\n  metrics: {total_rejected: 2}", False),
        ("- group: {authenticationContext.externalSessionId: idxA}\n  fields: {src: 203.0.113.7}", True),
        ("- group: {authenticationContext.externalSessionId: idxA}\n  fields: {src: 198.51.100.20}", False),
        (
            "- group: {authenticationContext.externalSessionId: idxA}\n  first_seen: 2026-03-10T14:00:10Z",
            True,
        ),
        (
            "- group: {authenticationContext.externalSessionId: idxA}\n  first_seen: 2026-03-10T14:00:20Z",
            False,
        ),
        ("- alerts: 1", True),
        ("- alerts: {at_least: 1, at_most: 1}", True),
        ("- alerts: {at_least: 2}", False),
        ("- alerts: {exactly: 0}", False),
        ("- alerts: 1\n  window: 2026-03-10T14:30:00Z", True),
        ("- alerts: 1\n  window: 2026-03-10T15:30:00Z", False),
    ],
)
def test_correlation_expectations_pass_and_fail(tmp_path, expectation, passes):
    tests = (
        TEMPLATES
        + "tests:\n  - name: t\n"
        + DENIED
        + "    expect:\n"
        + textwrap.indent(expectation, "      ")
    )
    suite = run(pack_folder(tmp_path, tests))
    assert suite.passed is passes, verdicts(suite)


def test_a_group_that_never_formed_does_not_fire_but_has_no_values(tmp_path):
    base = TEMPLATES + "tests:\n  - name: t\n" + DENIED + "    uncovered: ignore\n    expect:\n"
    silent = (
        base + "      - group: {authenticationContext.externalSessionId: idxNone}\n        fires: false\n"
    )
    assert run(pack_folder(tmp_path / "a", silent)).passed
    valued = silent + "        metrics: {total_pushes: 0}\n"
    suite = run(pack_folder(tmp_path / "b", valued))
    assert not suite.passed
    assert "no such group" in failures(suite)[0] and "idxA" in failures(suite)[0]


def test_a_failed_condition_is_explained_clause_by_clause(tmp_path):
    tests = (
        TEMPLATES
        + "tests:\n  - name: t\n"
        + DENIED
        + (
            "    expect:\n      - group: {authenticationContext.externalSessionId: idxA}\n        fires: false\n"
        )
    )
    (message, *_) = failures(run(pack_folder(tmp_path, tests)))
    assert "expected the group not to fire; it fired" in message
    assert "true    total_rejected > 0    [total_rejected = 1]" in message
    assert "true    dc_ip > 1    [dc_ip = 2]" in message


def test_an_unknown_comparison_names_the_null_metric(tmp_path):
    tests = TEMPLATES + textwrap.dedent(
        """\
        tests:
          - name: t
            events:
              - {like: push, at: 10s, outcome: {result: FAILURE}, authenticationContext: {externalSessionId: idxA}}
            expect:
              - group: {authenticationContext.externalSessionId: idxA}
        """
    )
    (message,) = failures(run(pack_folder(tmp_path, tests)))
    assert "unknown ratio < 0.5    [ratio = null] (null: ratio)" in message


@pytest.mark.parametrize(
    ("expectation", "passes"),
    [
        ("- {event: reset, matches: true}", True),
        ("- {event: other, matches: false}", True),
        ("- {event: other, matches: true}", False),
        ("- {event: 2, matches: false}", True),
        ("- {event: reset, matches: false}", False),
        ("- alerts: 1", True),
    ],
)
def test_event_expectations_of_a_single_event_rule(tmp_path, expectation, passes):
    tests = f"""\
        rules: okta_factor_reset
        uncovered: ignore
        tests:
          - name: t
            events:
              - {{name: reset, eventType: user.mfa.factor.reset_all}}
              - {{name: other, eventType: user.mfa.factor.deactivate}}
            expect:
              {expectation}
        """
    suite = run(pack_folder(tmp_path, tests, extra_rules=FACTOR_RESET))
    assert suite.passed is passes, verdicts(suite)


def test_event_expectations_reach_base_rules_that_only_feed_a_correlation(tmp_path):
    tests = TEMPLATES.replace(f"rules: {RULE}", "rules: okta_verify_push_sent") + textwrap.dedent(
        """\
        tests:
          - name: t
            events:
              - {name: p, like: push, at: 10s}
              - {name: d, like: deny, at: 20s}
            expect:
              - {event: p, matches: true}
              - {event: d, matches: false}
        """
    )
    assert run(pack_folder(tmp_path, tests)).passed


# --- the uncovered-alert policy --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "passes", "verdict"), [("fail", False, "fail"), ("warn", True, "warn"), ("ignore", True, None)]
)
def test_alerts_that_no_expectation_covers(tmp_path, policy, passes, verdict):
    tests = (
        TEMPLATES
        + f"uncovered: {policy}\n"
        + textwrap.dedent(
            """\
        tests:
          - name: t
            events:
              - {like: push, at: 10s, authenticationContext: {externalSessionId: idxA}}
              - {like: deny, at: 20s, authenticationContext: {externalSessionId: idxA}}
              - {like: push, at: 10s, authenticationContext: {externalSessionId: idxB}}
              - {like: deny, at: 20s, authenticationContext: {externalSessionId: idxB}}
            expect:
              - group: {authenticationContext.externalSessionId: idxA}
        """
        )
    )
    suite = run(pack_folder(tmp_path, tests))
    assert suite.passed is passes
    uncovered = [v for description, v in verdicts(suite) if description.startswith("no unexpected alerts")]
    assert uncovered == ([verdict] if verdict else [])


# --- event sources ---------------------------------------------------------------------------------


def test_event_files_relative_to_the_tests_file(tmp_path):
    folder = pack_folder(
        tmp_path,
        TEMPLATES + "tests:\n  - name: t\n    event_files: [fixtures/denied.json]\n"
        "    expect:\n      - group: {authenticationContext.externalSessionId: idxF}\n",
    )
    events = [
        {
            "eventType": "system.push.send_factor_verify_push",
            "published": "2026-03-10T14:00:10Z",
            "uuid": "u1",
            "authenticationContext": {"externalSessionId": "idxF"},
            "client": {"ipAddress": "203.0.113.7"},
            "debugContext": {"debugData": {"behaviors": "{New Device=POSITIVE, New IP=POSITIVE}"}},
            "outcome": {"result": "SUCCESS"},
        },
        {
            "eventType": "user.authentication.auth_via_mfa",
            "published": "2026-03-10T14:00:20Z",
            "uuid": "u2",
            "authenticationContext": {"externalSessionId": "idxF"},
            "client": {"ipAddress": "198.51.100.20"},
            "debugContext": {"debugData": {"factor": "OKTA_VERIFY_PUSH"}},
            "outcome": {"result": "FAILURE"},
        },
    ]
    (folder / "fixtures").mkdir()
    (folder / "fixtures" / "denied.json").write_text(
        json.dumps(events)
    )  # a JSON array, as the Okta API pages
    assert run(folder).passed


def test_generated_scenarios_match_the_ground_truth(tmp_path):
    tests = f"""\
        rules: {RULE}
        tests:
          - name: generated
            generate: {{seed: 3, scenarios: [mfa_fatigue, benign_retry], sessions: 2, background: 50}}
            expect:
              - ground_truth: true
              - alerts: 2
        """
    assert run(pack_folder(tmp_path, tests)).passed


# --- engines ---------------------------------------------------------------------------------------


def test_engine_disagreement_is_reported_as_such(tmp_path, monkeypatch):
    tests = TEMPLATES + "tests:\n  - name: t\n" + DENIED + "    expect:\n      - alerts: 1\n"
    real = runner.run_engine

    def skewed(engine, pack, events, emitting=(), geoip=None):
        outcome = real("python", pack, events, emitting, geoip)
        if engine == "duckdb":  # an engine that counts one denial too many
            for group in outcome.groups:
                group["metrics"]["total_rejected"] += 1
        return Outcome(engine, outcome.groups, outcome.matches)

    monkeypatch.setattr(runner, "run_engine", skewed)
    suite = run(pack_folder(tmp_path, tests), engines=("python", "duckdb"))
    (result,) = suite.results
    assert all(check.passed for checks in result.checks.values() for check in checks)
    assert not result.passed
    assert any(
        "metric total_rejected is 1 in python, 2 in duckdb" in problem for problem in result.disagreements
    )


@pytest.mark.slow
def test_the_bundled_pack_passes_on_every_engine(capsys):
    assert main(["test", "--engine", "all"]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out
    assert "test(s) passed" in out and "python, duckdb, spark" in out


# --- configuration errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tests", "message", "line", "column"),
    [
        (
            "rules: nosuch\ntests:\n  - name: t\n    events: [{eventType: x}]\n    expect: [{alerts: 0}]\n",
            "unknown rule 'nosuch'",
            3,
            5,
        ),
        (
            f"rules: {RULE}\ntests:\n  - name: t\n    events: [{{eventType: x}}]\n    expect:\n"
            "      - group: {authenticationContext.externalSessionId: a}\n        metrics: {total_push: 1}\n",
            "unknown metric 'total_push'",
            7,
            19,
        ),
        (
            f"rules: {RULE}\ntests:\n  - name: t\n    evnets: []\n    expect: [{{alerts: 0}}]\n",
            "unknown key 'evnets' in a test",
            4,
            5,
        ),
        (
            f"rules: {RULE}\ntests:\n  - name: t\n    events: [{{eventType: x}}]\n    expect:\n      - alerts: -1\n",
            "`alerts` is a count",
            6,
            17,
        ),
        (
            f"rules: {RULE}\ntests:\n  - name: t\n    events: [{{eventType: x, at: soon}}]\n    expect: [{{alerts: 0}}]\n",
            "`at` and `every` are seconds",
            4,
            33,
        ),
        (
            f"rules: {RULE}\ntests:\n  - name: t\n    events: [{{eventType: x}}]\n    expect:\n"
            "      - group: {user: a}\n",
            "the group of 'okta_verify_push_source_response_mismatch' is",
            6,
            9,
        ),
        (
            f"rules: {RULE}\ntests:\n  - name: t\n    generate: {{scenarios: [nosuch]}}\n    expect: [{{alerts: 0}}]\n",
            "unknown scenario 'nosuch'",
            4,
            28,
        ),
    ],
)
def test_configuration_errors_name_file_line_and_column(tmp_path, tests, message, line, column):
    folder = pack_folder(tmp_path, tests)
    with pytest.raises(RulePackError) as raised:
        load_suite([folder], ["python"])
    text = str(raised.value)
    assert message in text, text
    assert f"pack.tests.yaml:{line}:{column}: test 't': " in text, text


def test_every_configuration_error_is_reported_at_once(tmp_path):
    tests = (
        f"rules: {RULE}\ntests:\n  - name: a\n    evnets: []\n    expect: []\n  - name: b\n    events: 3\n"
    )
    with pytest.raises(RulePackError) as raised:
        load_suite([pack_folder(tmp_path, tests)], ["python"])
    assert len(raised.value.errors) >= 4


def test_tests_files_are_not_rules():
    pack = load_rules([bundled_rules_path()])
    assert all(not path.name.endswith(".tests.yaml") for path in pack.files)
    assert (bundled_rules_path() / f"{RULE}.tests.yaml").is_file()


# --- command line ----------------------------------------------------------------------------------


def test_exit_codes(tmp_path, capsys):
    good = TEMPLATES + "tests:\n  - name: t\n" + DENIED + "    expect:\n      - alerts: 1\n"
    bad = good.replace("alerts: 1", "alerts: 2")
    assert main(["test", str(pack_folder(tmp_path / "good", good))]) == 0
    assert main(["test", str(pack_folder(tmp_path / "bad", bad))]) == 6
    assert main(["test", str(pack_folder(tmp_path / "broken", "tests: 3\n"))]) == 2
    assert "pack.tests.yaml:1:8" in capsys.readouterr().err


def test_explain_a_group_and_an_event(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text(
        "\n".join(
            json.dumps(event)
            for event in [
                {
                    "eventType": "system.push.send_factor_verify_push",
                    "published": "2026-03-10T14:00:10Z",
                    "uuid": "p1",
                    "authenticationContext": {"externalSessionId": "idxE"},
                    "client": {"ipAddress": "203.0.113.7"},
                    "outcome": {"result": "SUCCESS"},
                    "debugContext": {"debugData": {"behaviors": "{New Device=POSITIVE, New IP=NEGATIVE}"}},
                },
            ]
        )
        + "\n"
    )
    command = [sys.executable, "-m", "sigma.backends.okta.cli", "explain"]
    group = subprocess.run(
        [*command, RULE, "--events", str(events), "--group", "authenticationContext.externalSessionId=idxE"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "does not fire" in group
    assert "false   suspect_ip_from_source > 0    [suspect_ip_from_source = 0]" in group
    event = subprocess.run(
        [*command, "okta_verify_push_response", "--events", str(events)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert (
        "failed  eventType: 'user.authentication.auth_via_mfa'    [event: 'system.push.send_factor_verify_push']"
        in event
    )
    assert "failed  debugContext.debugData.factor: 'OKTA_VERIFY_PUSH'    [event: missing]" in event
