"""``sigma-okta test``: run the detection tests beside the rules, on one engine or all of them."""

from __future__ import annotations

import argparse
import sys

from .arguments import add_geoip_argument, open_geoip
from .output import EXIT_OK, EXIT_TESTS_FAILED, EXIT_USAGE, CliError

ENGINE_CHOICES = ("python", "duckdb", "spark", "all")


def register(commands: argparse._SubParsersAction) -> None:
    test = commands.add_parser(
        "test",
        help="run the detection tests (*.tests.yaml) beside the rules on one or every engine",
        description="Find the rules and their tests (*.tests.yaml files beside the rules) under PATHS, run "
        "every test, and say which expectations failed and why. With --engine all, a test passes only "
        "if every engine passes it and they all report the same groups and values.",
        epilog="Exit codes: 0 every test passed, 6 a test failed, 2 a rule or tests file is invalid.",
    )
    test.add_argument(
        "paths",
        nargs="*",
        metavar="PATHS",
        help="rule folders, rule files or tests files (default: the bundled rule pack and its tests)",
    )
    test.add_argument(
        "--engine",
        choices=ENGINE_CHOICES,
        default="python",
        help="python (default), duckdb, spark, or all of them on the same events",
    )
    add_geoip_argument(test)
    test.add_argument(
        "--junit", metavar="FILE", help="write a JUnit XML report (one testcase per expectation)"
    )
    test.add_argument("--sarif", metavar="FILE", help="write SARIF 2.1.0 (one result per failed expectation)")
    test.add_argument("--report", metavar="FILE", help="write the results as JSON")
    test.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the summary (auto: on a TTY)",
    )
    test.set_defaults(handler=_test)


def _test(arguments: argparse.Namespace) -> int:
    from sigma.pipelines.okta.errors import RulePackError

    from ..detection_tests.reports import (
        TextReport,
        errors_sarif,
        junit_xml,
        suite_json,
        suite_sarif,
        write_bytes,
        write_json,
    )
    from ..detection_tests.runner import load_suite, run_suite

    engines = ["python", "duckdb", "spark"] if arguments.engine == "all" else [arguments.engine]
    try:
        suite = load_suite(arguments.paths, engines)
    except RulePackError as error:
        if arguments.sarif:
            write_json(arguments.sarif, errors_sarif(error.errors))
        raise CliError(str(error), EXIT_USAGE) from error
    if not suite.files:
        raise CliError(
            f"no tests (*.tests.yaml) under {', '.join(arguments.paths) or 'the bundled rule pack'}",
            EXIT_USAGE,
        )
    suite.geoip = open_geoip(arguments)  # a test's events with `geographicalContext: null` get located
    colour = arguments.color == "always" or (arguments.color == "auto" and sys.stdout.isatty())
    text = TextReport(sys.stdout, colour)
    run_suite(suite, on_result=text.result)
    text.summary(suite)
    if arguments.junit:
        write_bytes(arguments.junit, junit_xml(suite))
    if arguments.sarif:
        write_json(arguments.sarif, suite_sarif(suite))
    if arguments.report:
        write_json(arguments.report, suite_json(suite))
    return EXIT_OK if suite.passed else EXIT_TESTS_FAILED
