"""Reports of a test run: a readable summary, JUnit XML for test-report views, SARIF 2.1.0 for code
scanning annotations on the tests and rule files, and JSON for everything else.

SARIF's rules are the Sigma rules under test (id, title, description, level, tags); each failed check
is one result, located at its expectation in the tests file and related to the line of the rule's
condition, so a pull request shows the failure on both.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path
from typing import IO, Any

from sigma.exceptions import SigmaError, SigmaRuleLocation

from sigma.pipelines.okta.yaml_positions import read_documents

from .checks import Check, Verdict
from .runner import Suite, TestResult

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_URI = "https://github.com/sigma-okta/sigma-okta"


def tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sigma-okta")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


# --- text ---------------------------------------------------------------------------------------------


class TextReport:
    """One line per test as it finishes, then the failures explained and a summary."""

    def __init__(self, stream: IO[str], colour: bool):
        self.stream = stream
        self.colour = colour

    def paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def result(self, result: TestResult) -> None:
        mark = self.paint("PASS", "32") if result.passed else self.paint("FAIL", "31;1")
        engines = ",".join(result.checks)
        warnings = sum(check.verdict is Verdict.WARN for checks in result.checks.values() for check in checks)
        extra = f"  {self.paint(f'{warnings} warning(s)', '33')}" if warnings else ""
        self.stream.write(
            f"{mark}  {result.test.name}  ({_where(result.test.location)}, {engines}, {result.seconds:.2f}s){extra}\n"
        )
        self.stream.flush()

    def summary(self, suite: Suite) -> None:
        failed = [result for result in suite.results if not result.passed]
        for result in failed:
            self.stream.write(
                f"\n{self.paint('FAILED', '31;1')} {result.test.name} ({_where(result.test.location)})\n"
            )
            for engine, checks in result.checks.items():
                for check in checks:
                    if not check.passed:
                        self.stream.write(f"  [{engine}] {check.description}  ({_where(check.location)})\n")
                        for line in check.message.splitlines():
                            self.stream.write(f"      {line}\n")
            for problem in result.disagreements:
                self.stream.write(f"  [engines disagree] {problem}\n")
        for result in suite.results:
            for engine, checks in result.checks.items():
                for check in checks:
                    if check.verdict is Verdict.WARN:
                        self.stream.write(
                            f"\n{self.paint('warning', '33')}: {result.test.name} [{engine}]: {check.message}\n"
                        )
        total = len(suite.results)
        checks = sum(len(checks) for result in suite.results for checks in result.checks.values())
        self.stream.write(
            f"\n{total - len(failed)} of {total} test(s) passed ({checks} checks on {', '.join(suite.engines)}) "
            f"in {suite.seconds:.1f}s\n"
        )


def _where(location: SigmaRuleLocation | None) -> str:
    if location is None:
        return "?"
    text = _relative(location.path)
    if location.line is not None:
        text += f":{location.line}"
    return text


def _relative(path: Path | str | None) -> str:
    if path is None:
        return "?"
    try:
        return os.path.relpath(os.path.realpath(path))
    except ValueError:  # pragma: no cover - another drive on Windows
        return str(path)


# --- JUnit --------------------------------------------------------------------------------------------


def junit_xml(suite: Suite) -> bytes:
    """One ``testsuite`` per tests file, one ``testcase`` per expectation and engine."""
    root = ET.Element("testsuites", name="sigma-okta test", time=f"{suite.seconds:.3f}")
    by_file: dict[Path, list[TestResult]] = {}
    for result in suite.results:
        by_file.setdefault(result.file, []).append(result)
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for path, results in by_file.items():
        element = ET.SubElement(root, "testsuite", name=_relative(path))
        counts = {"tests": 0, "failures": 0, "errors": 0}
        seconds = 0.0
        for result in results:
            seconds += result.seconds
            cases = [(engine, check) for engine, checks in result.checks.items() for check in checks]
            share = result.seconds / max(1, len(cases) + bool(result.disagreements))
            for engine, check in cases:
                case = ET.SubElement(
                    element,
                    "testcase",
                    classname=f"{_relative(path)}.{result.test.name}",
                    name=f"{check.description} [{engine}]",
                    file=_relative(check.location.path) if check.location else _relative(path),
                    line=str(check.location.line or 0) if check.location else "0",
                    time=f"{share:.3f}",
                )
                counts["tests"] += 1
                if check.verdict is Verdict.FAIL:
                    counts["failures"] += 1
                    failure = ET.SubElement(
                        case,
                        "failure",
                        message=check.message.splitlines()[0] if check.message else "failed",
                        type="expectation",
                    )
                    failure.text = check.message
                elif check.verdict is Verdict.ERROR:
                    counts["errors"] += 1
                    error = ET.SubElement(case, "error", message=check.message.splitlines()[0], type="engine")
                    error.text = check.message
                elif check.verdict is Verdict.WARN:
                    ET.SubElement(case, "system-out").text = f"warning: {check.message}"
            if result.disagreements:
                case = ET.SubElement(
                    element,
                    "testcase",
                    classname=f"{_relative(path)}.{result.test.name}",
                    name=f"engines agree [{', '.join(result.checks)}]",
                    time=f"{share:.3f}",
                )
                counts["tests"] += 1
                counts["failures"] += 1
                failure = ET.SubElement(case, "failure", message=result.disagreements[0], type="disagreement")
                failure.text = "\n".join(result.disagreements)
        for key, value in counts.items():
            element.set(key, str(value))
            totals[key] += value
        element.set("time", f"{seconds:.3f}")
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


# --- SARIF --------------------------------------------------------------------------------------------


def sarif_log(
    results: list[dict[str, Any]], rules: list[Any], descriptors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A SARIF 2.1.0 log of sigma-okta with ``rules`` (Sigma rules) as its reporting descriptors, or
    ``descriptors`` as they are."""
    descriptors = list(descriptors or [])
    index: dict[str, int] = {descriptor["id"]: number for number, descriptor in enumerate(descriptors)}
    for rule in rules:
        rule_id = sarif_rule_id(rule)
        if rule_id in index:
            continue
        index[rule_id] = len(descriptors)
        descriptor: dict[str, Any] = {
            "id": rule_id,
            "shortDescription": {"text": rule.title},
            "properties": {"tags": [str(tag) for tag in rule.tags]},
        }
        if rule.name:
            descriptor["name"] = rule.name
        if getattr(rule, "description", None):
            descriptor["fullDescription"] = {"text": rule.description.strip()}
        if rule.level is not None:
            descriptor["defaultConfiguration"] = {"level": _sarif_level(str(rule.level))}
        descriptors.append(descriptor)
    for result in results:
        if result.get("ruleId") in index:
            result["ruleIndex"] = index[result["ruleId"]]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "sigma-okta",
                        "version": tool_version(),
                        "informationUri": TOOL_URI,
                        "rules": descriptors,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def suite_sarif(suite: Suite) -> dict[str, Any]:
    results = []
    for result in suite.results:
        for engine, checks in result.checks.items():
            for check in checks:
                if check.passed and check.verdict is not Verdict.WARN:
                    continue
                results.append(
                    _sarif_result(
                        f"{result.test.name} [{engine}]: {check.description}: {check.message or 'failed'}",
                        check.rule,
                        check.location,
                        "warning" if check.verdict is Verdict.WARN else "error",
                    )
                )
        for problem in result.disagreements:
            rule = next(
                (check.rule for checks in result.checks.values() for check in checks if check.rule), None
            )
            results.append(
                _sarif_result(
                    f"{result.test.name}: the engines disagree: {problem}",
                    rule,
                    result.test.location,
                    "error",
                )
            )
    return sarif_log(results, suite.tested_rules())


def errors_sarif(errors: list[SigmaError]) -> dict[str, Any]:
    """Configuration or rule problems (``test --sarif`` on a broken tests file)."""
    return validation_sarif(errors, [])


def validation_sarif(errors: list[SigmaError], issues: list[Any]) -> dict[str, Any]:
    """Rule and configuration errors (level error) and pySigma validator issues (``validate --sarif``):
    each located at its file and line, with the check that found it as the SARIF rule."""
    results = [
        _sarif_result(
            _error_text(error), None, getattr(error, "source", None), "error", rule_id="sigma-okta/error"
        )
        for error in errors
    ]
    checks: dict[str, dict[str, Any]] = {
        "sigma-okta/error": {
            "id": "sigma-okta/error",
            "shortDescription": {"text": "The rule or tests file is invalid"},
        }
    }
    for issue in issues:
        rule_id = f"pysigma/{issue.check}"
        checks.setdefault(
            rule_id, {"id": rule_id, "shortDescription": {"text": f"pySigma validator {issue.check}"}}
        )
        level = {"high": "error", "medium": "warning"}.get(issue.severity, "note")
        results.append(_sarif_result(str(issue), None, issue.location, level, rule_id=rule_id))
    return sarif_log(results, [], descriptors=list(checks.values()))


def _error_text(error: Any) -> str:
    """An error's message with its rule, without the location (SARIF carries that separately)."""
    message = getattr(error, "message", None)
    if message is None:
        return str(error)
    rule = getattr(error, "rule", None)
    return f"rule '{rule}': {message}" if rule else message


def _sarif_result(
    message: str, rule: Any, location: SigmaRuleLocation | None, level: str, rule_id: str | None = None
) -> dict[str, Any]:
    result: dict[str, Any] = {"message": {"text": message}, "level": level}
    result["ruleId"] = rule_id or (sarif_rule_id(rule) if rule is not None else "sigma-okta")
    locations = [_sarif_location(location)] if location is not None and location.path is not None else []
    if locations:
        result["locations"] = locations
    condition = _condition_location(rule)
    if condition is not None:
        related = _sarif_location(condition)
        related["id"] = 1
        related["message"] = {"text": "the rule's condition"}
        result["relatedLocations"] = [related]
        if not locations:
            result["locations"] = [_sarif_location(condition)]
    return result


def _sarif_location(location: SigmaRuleLocation) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(location.path)}}
    if location.line:
        region: dict[str, Any] = {"startLine": location.line}
        if location.char:
            region["startColumn"] = location.char
        physical["region"] = region
    return {"physicalLocation": physical}


def _uri(path: Path | str) -> str:
    """A relative URI for files below the working directory (what code scanning matches against the
    repository), an absolute ``file:`` URI otherwise."""
    relative = _relative(path)
    if relative.startswith(".."):
        return Path(path).resolve().as_uri()
    return Path(relative).as_posix()


def sarif_rule_id(rule: Any) -> str:
    return str(rule.id) if rule.id else (rule.name or rule.title)


def _sarif_level(level: str) -> str:
    return {
        "critical": "error",
        "high": "error",
        "medium": "warning",
        "low": "note",
        "informational": "note",
    }.get(level, "warning")


def _condition_location(rule: Any) -> SigmaRuleLocation | None:
    source = getattr(rule, "source", None)
    if rule is None or source is None or source.path is None:
        return None
    return _find_condition(str(source.path), source.line or 1)


@cache
def _find_condition(path: str, line: int) -> SigmaRuleLocation | None:
    try:
        from sigma.rule.base import SigmaYAMLLoader

        documents = read_documents(Path(path), SigmaYAMLLoader)
    except Exception:  # the rule loaded once; if its file changed since, point at the rule
        return SigmaRuleLocation(Path(path), line)
    for document in documents:
        if document.line == line or len(documents) == 1:
            for keys in (["correlation", "condition"], ["detection", "condition"]):
                location = document.locate(keys)
                if location.line != document.line:
                    return location
    return SigmaRuleLocation(Path(path), line)


# --- JSON ---------------------------------------------------------------------------------------------


def suite_json(suite: Suite) -> dict[str, Any]:
    def check_json(check: Check) -> dict[str, Any]:
        return {
            "description": check.description,
            "verdict": check.verdict.value,
            "location": _where(check.location),
            "rule": sarif_rule_id(check.rule) if check.rule is not None else None,
            "message": check.message,
        }

    return {
        "passed": suite.passed,
        "engines": suite.engines,
        "seconds": round(suite.seconds, 3),
        "tests": [
            {
                "name": result.test.name,
                "file": _relative(result.file),
                "location": _where(result.test.location),
                "passed": result.passed,
                "seconds": round(result.seconds, 3),
                "checks": {
                    engine: [check_json(check) for check in checks]
                    for engine, checks in result.checks.items()
                },
                "disagreements": result.disagreements,
            }
            for result in suite.results
        ],
    }


def write_json(path: str, data: Any) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=2) + "\n")


def write_bytes(path: str, data: bytes) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(data)
