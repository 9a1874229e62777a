"""Find the rules and their tests under the given paths, run every test on every requested engine, and
collect the checks; engines that disagree on the same events are reported as such."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sigma.exceptions import SigmaError

from sigma.pipelines.okta.errors import RulePackError
from sigma.pipelines.okta.loader import RulePack, bundled_rules_path, load_rules, rule_files

from .checks import Check, Verdict, check_test
from .engines import EngineUnavailable, Outcome, run_engine
from .events import TestEvents, write_test_events
from .model import DetectionTest, EventExpectation, TestFile
from .parser import TESTS_SUFFIXES, check_references, find_rule, is_tests_file, load_tests_file


@dataclass
class TestResult:
    """One test on the engines it ran on."""

    __test__ = False  # not a pytest class

    test: DetectionTest
    file: Path
    checks: dict[str, list[Check]]  # engine -> checks
    disagreements: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.disagreements and all(
            check.passed for checks in self.checks.values() for check in checks
        )


@dataclass
class Suite:
    pack: RulePack
    files: list[TestFile]
    engines: list[str]
    results: list[TestResult] = field(default_factory=list)
    geoip: Any = None  # an open GeoDatabase (``test --geoip``): events lacking a location are located
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results)

    def tested_rules(self) -> list[Any]:
        seen: dict[int, Any] = {}
        for tests in self.files:
            for test in tests.tests:
                for reference in test.rules:
                    rule = find_rule(self.pack, reference)
                    if rule is not None:
                        seen.setdefault(id(rule), rule)
        return list(seen.values())


def discover(paths: Sequence[str | Path]) -> tuple[list[Path], list[Path]]:
    """The rule paths to load and the tests files to run. A folder gives its rules and every tests file
    below it; a tests file its own folder's rules; a rule file itself and its sidecar tests."""
    rules: list[Path] = []
    tests: list[Path] = []
    for raw in paths or [bundled_rules_path()]:
        path = Path(raw)
        if path.is_dir():
            rules.append(path)
            tests.extend(sorted(p for p in path.rglob("*") if p.is_file() and is_tests_file(p)))
        elif path.is_file() and is_tests_file(path):
            rules.append(path.parent)
            tests.append(path)
        else:
            rules.append(path)  # a rule file, or a missing path that the loader reports
            for suffix in TESTS_SUFFIXES:
                sidecar = path.with_name(path.name.rsplit(".", 1)[0] + suffix)
                if sidecar.is_file():
                    tests.append(sidecar)
    return _unique(rules), _unique(tests)


def load_suite(paths: Sequence[str | Path], engines: Sequence[str]) -> Suite:
    """Load the rules and the tests; raises :class:`RulePackError` listing every configuration problem."""
    rule_paths, test_paths = discover(paths)
    pack = load_rules(rule_paths)
    if not rule_files(rule_paths):
        raise RulePackError([SigmaError(f"no rules under {', '.join(map(str, rule_paths))}")])
    errors: list[SigmaError] = []
    files = []
    for path in test_paths:
        try:
            tests = load_tests_file(path)
        except RulePackError as error:
            errors.extend(error.errors)
            continue
        errors.extend(check_references(tests, pack))
        files.append(tests)
    if errors:
        raise RulePackError(errors)
    return Suite(pack, files, list(engines))


def run_suite(suite: Suite, *, on_result=None) -> Suite:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sigma-okta-test-") as scratch:
        for number, tests in enumerate(suite.files):
            for index, test in enumerate(tests.tests):
                folder = Path(scratch) / f"{number}-{index}"
                folder.mkdir()
                result = run_test(suite.pack, tests, test, suite.engines, folder, suite.geoip)
                suite.results.append(result)
                if on_result is not None:
                    on_result(result)
    suite.seconds = time.perf_counter() - started
    return suite


def run_test(
    pack: RulePack,
    tests: TestFile,
    test: DetectionTest,
    engines: Sequence[str],
    folder: Path,
    geoip: Any = None,
) -> TestResult:
    started = time.perf_counter()
    events = write_test_events(test, tests.templates, tests.path, folder)
    emitting = [
        find_rule(pack, expectation.rule)
        for expectation in test.expectations
        if isinstance(expectation, EventExpectation)
    ]
    result = TestResult(test, tests.path, {})
    outcomes: dict[str, Outcome] = {}
    for engine in engines:
        try:
            outcome = run_engine(engine, pack, events.path, emitting, geoip)
        except EngineUnavailable as error:
            result.checks[engine] = [
                Check(f"the {engine} engine runs", Verdict.ERROR, test.location, None, str(error))
            ]
            continue
        outcomes[engine] = outcome
        result.checks[engine] = check_test(test, pack, outcome, events)
    if len(outcomes) > 1:
        result.disagreements = disagreements(outcomes, events)
    result.seconds = time.perf_counter() - started
    return result


def disagreements(outcomes: dict[str, Outcome], events: TestEvents) -> list[str]:
    """What the engines report differently on the same events, group by group and match by match."""
    (first, reference), *others = outcomes.items()
    problems = []
    for engine, outcome in others:
        for problem in compare_outcomes(reference, outcome):
            problems.append(f"{first} and {engine} differ: {problem}")
    return problems


def compare_outcomes(left: Outcome, right: Outcome) -> list[str]:
    import math

    def groups(outcome: Outcome) -> dict[tuple, dict]:
        return {
            (group["rule_title"], group["window"]["start"], tuple(sorted(group["group"].items()))): group
            for group in outcome.groups
        }

    def matches(outcome: Outcome) -> set[tuple]:
        return {(match["rule_title"], match["event_id"]) for match in outcome.matches}

    problems = []
    a, b = groups(left), groups(right)
    problems += [f"group only in {left.engine}: {key}" for key in sorted(a.keys() - b.keys(), key=str)]
    problems += [f"group only in {right.engine}: {key}" for key in sorted(b.keys() - a.keys(), key=str)]
    for key in sorted(a.keys() & b.keys(), key=str):
        x, y = a[key], b[key]
        if x.get("condition", True) != y.get("condition", True):
            problems.append(
                f"{key}: the condition is {x.get('condition', True)} in {left.engine}, {y.get('condition', True)} in {right.engine}"
            )
        for name in sorted(x["metrics"].keys() | y["metrics"].keys()):
            p, q = x["metrics"].get(name), y["metrics"].get(name)
            numbers = isinstance(p, int | float) and isinstance(q, int | float)
            if not (p == q or (numbers and math.isclose(p, q, rel_tol=1e-9))):
                problems.append(f"{key}: metric {name} is {p!r} in {left.engine}, {q!r} in {right.engine}")
        for part in ("fields", "first_seen", "event_ids"):
            if x[part] != y[part]:
                problems.append(
                    f"{key}: {part} is {x[part]!r} in {left.engine}, {y[part]!r} in {right.engine}"
                )
    m, n = matches(left), matches(right)
    problems += [f"match only in {left.engine}: {key}" for key in sorted(m - n)]
    problems += [f"match only in {right.engine}: {key}" for key in sorted(n - m)]
    return problems


def _unique(paths: list[Path]) -> list[Path]:
    seen: dict[Path, Path] = {}
    for path in paths:
        seen.setdefault(path.resolve() if path.exists() else path, path)
    return list(seen.values())
