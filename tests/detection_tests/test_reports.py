"""The reports of `sigma-okta test` and `validate`, checked by their consumers' own parsers: JUnit XML
by junitparser, SARIF 2.1.0 by Microsoft's SARIF Multitool (from the npm registry; `make` installs it)
and by the schema it ships."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import jsonschema
import pytest
from detection_test_builders import DENIED, TEMPLATES, pack_folder
from junitparser import Failure, JUnitXml

from sigma.backends.okta.cli import main

ROOT = Path(__file__).resolve().parents[2]
MULTITOOL_PACKAGE = ROOT / ".venv" / "node-tools" / "node_modules" / "@microsoft" / "sarif-multitool-linux"
MULTITOOL = Path(os.environ.get("SIGMA_OKTA_SARIF_MULTITOOL", MULTITOOL_PACKAGE / "Sarif.Multitool"))

FAILING = (
    TEMPLATES
    + "tests:\n"
    + "  - name: passes\n"
    + DENIED
    + "    expect:\n      - alerts: 1\n"
    + "  - name: fails\n"
    + DENIED
    + "    expect:\n"
    + "      - group: {authenticationContext.externalSessionId: idxA}\n"
    + "        metrics: {total_rejected: 5}\n"
)


@pytest.fixture
def reports(tmp_path, capsys):
    folder = pack_folder(tmp_path, FAILING)
    out = tmp_path / "out"
    code = main(
        [
            "test",
            str(folder),
            "--junit",
            str(out / "junit.xml"),
            "--sarif",
            str(out / "results.sarif"),
            "--report",
            str(out / "report.json"),
        ]
    )
    capsys.readouterr()
    assert code == 6
    return folder, out


def multitool_validate(path: Path, tmp_path: Path) -> list[dict]:
    if not MULTITOOL.is_file():
        pytest.skip(f"SARIF Multitool not installed at {MULTITOOL} (make tools installs it from npm)")
    log = tmp_path / "validation.sarif"
    subprocess.run(
        [str(MULTITOOL), "validate", str(path), "-o", str(log), "--log", "ForceOverwrite"],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(log.read_text())["runs"][0]["results"]


def test_junit_has_one_testcase_per_expectation_and_the_explanation(reports):
    _, out = reports
    xml = JUnitXml.fromfile(str(out / "junit.xml"))
    cases = [case for suite in xml for case in suite]
    assert len(cases) == 2
    failed = [case for case in cases if any(isinstance(result, Failure) for result in case.result)]
    (case,) = failed
    (failure,) = case.result
    assert "metric total_rejected: expected 5, got 1" in failure.text
    assert "true    total_rejected > 0    [total_rejected = 1]" in failure.text
    assert xml.tests == 2 and xml.failures == 1


def test_sarif_validates_and_points_at_the_expectation_and_the_condition(reports, tmp_path):
    folder, out = reports
    log = json.loads((out / "results.sarif").read_text())
    assert multitool_validate(out / "results.sarif", tmp_path) == []
    (result,) = log["runs"][0]["results"]
    assert result["ruleId"] == "8085b79b-9b85-4e67-ad63-351c9e9a5e9a"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("pack.tests.yaml")
    lines = (folder / "pack.tests.yaml").read_text().splitlines()
    assert (
        lines[location["region"]["startLine"] - 1].strip().startswith("- group:")
    )  # the failing expectation
    condition = result["relatedLocations"][0]["physicalLocation"]
    assert condition["artifactLocation"]["uri"].endswith("okta_verify_push_source_response_mismatch.yml")
    rule_file = folder / "okta_verify_push_source_response_mismatch.yml"
    assert (
        rule_file.read_text()
        .splitlines()[condition["region"]["startLine"] - 1]
        .strip()
        .startswith("condition:")
    )
    (descriptor,) = log["runs"][0]["tool"]["driver"]["rules"]
    assert descriptor["shortDescription"]["text"].startswith("Okta Mismatch Between Source and Response")
    assert "attack.t1621" in descriptor["properties"]["tags"]


def test_sarif_matches_the_schema_the_multitool_ships(reports):
    schema_path = MULTITOOL_PACKAGE / "sarif-2.1.0.json"
    if not schema_path.is_file():
        pytest.skip("the SARIF 2.1.0 schema comes with the SARIF Multitool (make tools)")
    _, out = reports
    schema = json.loads(schema_path.read_text())
    jsonschema.Draft7Validator(schema).validate(json.loads((out / "results.sarif").read_text()))


def test_json_report(reports):
    _, out = reports
    report = json.loads((out / "report.json").read_text())
    assert report["passed"] is False
    assert [test["passed"] for test in report["tests"]] == [True, False]
    assert report["tests"][1]["checks"]["python"][0]["verdict"] == "fail"


def test_a_broken_tests_file_gives_a_sarif_of_the_configuration_errors(tmp_path, capsys):
    folder = pack_folder(tmp_path, "rules: nosuch\ntests: 3\n")
    sarif = tmp_path / "config.sarif"
    assert main(["test", str(folder), "--sarif", str(sarif)]) == 2
    capsys.readouterr()
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    assert results and all(result["level"] == "error" for result in results)
    assert results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 2
    assert multitool_validate(sarif, tmp_path) == []


def test_validate_writes_sarif_for_rule_errors_and_for_pysigma_issues(tmp_path, capsys):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "title: x\nlogsource: {product: okta}\ndetection: {sel: {eventType|startwith: a}, condition: sel}\n"
    )
    sarif = tmp_path / "broken.sarif"
    assert main(["validate", str(broken), "--sarif", str(sarif)]) == 2
    (result,) = json.loads(sarif.read_text())["runs"][0]["results"]
    assert "Unknown modifier 'startwith'" in result["message"]["text"]
    assert multitool_validate(sarif, tmp_path) == []

    # a rule pySigma's validators object to: a duplicate tag and a title that is only in lower case
    noisy = tmp_path / "noisy.yml"
    noisy.write_text(
        "title: Noisy rule\nid: 5b0f4a9e-1d1c-4f7e-9b8a-000000000009\nstatus: test\n"
        "tags: [attack.t1621, attack.t1621]\nlogsource: {product: okta, service: okta}\n"
        "detection: {sel: {eventType: user.session.start}, condition: sel}\nlevel: low\n"
    )
    sarif = tmp_path / "noisy.sarif"
    assert main(["validate", str(noisy), "--sarif", str(sarif)]) == 0
    assert main(["validate", str(noisy), "--fail-on-issues"]) == 2
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    assert "pysigma/duplicate_tag" in {result["ruleId"] for result in results}
    assert multitool_validate(sarif, tmp_path) == []
    assert main(["validate", str(noisy), "--disable", "duplicate_tag", "--sarif", str(sarif)]) == 0
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    assert "pysigma/duplicate_tag" not in {result["ruleId"] for result in results}
    assert main(["validate", str(noisy), "--disable", "nosuch"]) == 2
    assert "unknown check(s) nosuch" in capsys.readouterr().err
