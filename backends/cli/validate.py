"""``sigma-okta validate``: check rule files and list what they define."""

from __future__ import annotations

import argparse
import sys

from .arguments import add_rules_argument, load_pack
from .output import EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    validate = commands.add_parser(
        "validate",
        help="check rule files (syntax, references, expressions, types) and list what they define",
    )
    add_rules_argument(validate)
    validate.set_defaults(handler=_validate)


def _validate(arguments: argparse.Namespace) -> int:
    from ..engine.runner import CompiledRules, EngineOptions

    pack = load_pack(arguments.rules)
    CompiledRules(pack, EngineOptions())  # the engine can evaluate every rule
    for rule in pack.base_rules:
        print(f"rule         {rule.name or rule.id}  {rule.title}")
    for rule in pack.correlations:
        kind = getattr(rule, "correlation_type", None) or str(rule.type)
        print(f"correlation  {rule.name or rule.id}  {rule.title}  ({kind})")
    print(f"{len(pack)} rule(s) OK", file=sys.stderr)
    return EXIT_OK
