"""``sigma-okta validate``: check rule files and list what they define."""

from __future__ import annotations

import argparse
import sys

from .arguments import add_rules_argument, load_pack
from .output import EXIT_OK, EXIT_USAGE, CliError


def register(commands: argparse._SubParsersAction) -> None:
    validate = commands.add_parser(
        "validate",
        help="check rule files (syntax, references, expressions, types, pySigma's checks) and list them",
        description="Load the rules with every check of the `aggregate` extension, make sure the engine can "
        "evaluate each, and run pySigma's own validators (the checks SigmaHQ applies to its rules). "
        "Rule errors exit with 2; validator issues are warnings unless --fail-on-issues.",
    )
    add_rules_argument(validate)
    validate.add_argument(
        "--sarif", metavar="FILE", help="write the problems as SARIF 2.1.0 (for code scanning annotations)"
    )
    validate.add_argument(
        "--disable",
        action="append",
        default=[],
        metavar="CHECK",
        help="skip one of pySigma's validators, e.g. attacktag (repeatable; `all` skips them all)",
    )
    validate.add_argument(
        "--attack-data",
        metavar="FILE",
        help="MITRE ATT&CK STIX JSON for the attacktag check (default: downloaded by pySigma, if online)",
    )
    validate.add_argument(
        "--fail-on-issues", action="store_true", help="exit with 2 when a validator reports an issue"
    )
    validate.set_defaults(handler=_validate)


def _validate(arguments: argparse.Namespace) -> int:
    from sigma.exceptions import SigmaError

    from sigma.pipelines.okta.errors import RulePackError
    from sigma.pipelines.okta.rule_checks import run_pysigma_checks, validator_names

    from ..engine.runner import CompiledRules, EngineOptions

    try:
        pack = load_pack(arguments.rules)
        CompiledRules(pack, EngineOptions())  # the engine can evaluate every rule
    except SigmaError as error:
        if arguments.sarif:
            problems = error.errors if isinstance(error, RulePackError) else [error]
            _write_sarif(arguments.sarif, problems, [])
        raise
    disabled = validator_names() if "all" in arguments.disable else arguments.disable
    try:
        issues, skipped = run_pysigma_checks(pack, disabled, arguments.attack_data)
    except ValueError as error:
        raise CliError(str(error), EXIT_USAGE) from error
    for rule in pack.base_rules:
        print(f"rule         {rule.name or rule.id}  {rule.title}")
    for rule in pack.correlations:
        kind = getattr(rule, "correlation_type", None) or str(rule.type)
        print(f"correlation  {rule.name or rule.id}  {rule.title}  ({kind})")
    for issue in issues:
        print(f"warning: {issue}", file=sys.stderr)
    for reason in skipped:
        print(f"check skipped: {reason}", file=sys.stderr)
    if arguments.sarif:
        _write_sarif(arguments.sarif, [], issues)
    print(f"{len(pack)} rule(s) OK, {len(issues)} issue(s) from pySigma's checks", file=sys.stderr)
    return EXIT_USAGE if issues and arguments.fail_on_issues else EXIT_OK


def _write_sarif(path: str, errors, issues) -> None:
    from ..detection_tests.reports import validation_sarif, write_json

    write_json(path, validation_sarif(errors, issues))
