"""``sigma-okta convert``: rules to SPL, ES|QL, KQL, DuckDB or Spark SQL."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .arguments import add_rules_argument, load_pack
from .output import EXIT_OK, CliError


def register(commands: argparse._SubParsersAction) -> None:
    convert = commands.add_parser(
        "convert",
        help="convert rules to a SIEM query language (SPL, ES|QL, KQL, DuckDB or Spark SQL)",
        description="Convert Sigma rules and `aggregate` correlations to queries. Each target uses its "
        "default Okta pipeline unless -p names others (see `sigma-okta list pipelines`).",
    )
    add_rules_argument(convert)
    convert.add_argument("--target", "-t", required=True, help="splunk, esql, kusto, duckdb or spark")
    convert.add_argument(
        "--pipeline",
        "-p",
        action="append",
        default=[],
        metavar="PIPELINE",
        help="processing pipeline id or YAML file (repeatable)",
    )
    convert.add_argument("--output", "-o", metavar="DIR", help="write one file per rule into DIR")
    convert.set_defaults(handler=_convert)


def _convert(arguments: argparse.Namespace) -> int:
    from ..targets.catalog import TargetError, convert_pack, make_backend, rule_label, target_named

    try:
        target = target_named(arguments.target)
        backend = make_backend(target, arguments.pipeline)
    except TargetError as error:
        raise CliError(str(error)) from error
    pack = load_pack(arguments.rules)
    converted = convert_pack(pack, backend)
    if arguments.output:
        folder = Path(arguments.output)
        folder.mkdir(parents=True, exist_ok=True)
        for item in converted:
            path = folder / f"{rule_label(item.rule)}.{target.suffix}"
            path.write_text(item.query if item.query.endswith("\n") else item.query + "\n")
            print(path, file=sys.stderr)
        return EXIT_OK
    for number, item in enumerate(converted):
        if number:
            print()
        # each target's own comment syntax, so that the output stays pasteable (ES|QL has `//`, not `--`)
        comment = "--" if target.suffix == "sql" else "//" if target.suffix in ("esql", "kql") else "```"
        closing = " ```" if comment == "```" else ""
        print(f"{comment} {item.rule.title} ({rule_label(item.rule)}){closing}")
        print(item.query.rstrip("\n"))
    return EXIT_OK
