"""``sigma-okta convert``: rules to SPL, ES|QL, KQL, DuckDB or Spark SQL."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .arguments import add_rules_argument, add_selection_arguments, load_selected_pack
from .output import EXIT_OK, CliError, note


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
    convert.add_argument(
        "--format",
        "-f",
        default="query",
        metavar="FORMAT",
        help="query (default), or a deployable scheduled rule: savedsearches (splunk: savedsearches.conf "
        "stanzas), kibana (esql: Kibana detection rules as NDJSON), sentinel-yaml or sentinel-arm (kusto: "
        "Sentinel analytics rules); schedules as in docs/semantics.md",
    )
    convert.add_argument("--output", "-o", metavar="DIR", help="write one file per rule into DIR")
    add_selection_arguments(convert)
    convert.set_defaults(handler=_convert)


def _convert(arguments: argparse.Namespace) -> int:
    from ..targets.catalog import TargetError, convert_pack, make_backend, rule_label, target_named

    try:
        target = target_named(arguments.target)
        backend = make_backend(target, arguments.pipeline)
    except TargetError as error:
        raise CliError(str(error)) from error
    render = None
    if arguments.format != "query":
        from ..targets.artifacts import FORMATS

        formats = FORMATS.get(target.name, {})
        if arguments.format not in formats:
            known = ", ".join(["query", *formats])
            raise CliError(f"target {target.name} has no format '{arguments.format}' (formats: {known})")
        suffix, render = formats[arguments.format]
    pack = _without_risk_rules(load_selected_pack(arguments), backend)
    refused: list | None = [] if arguments.skip_unsupported else None
    converted = convert_pack(pack, backend, refused)
    for error in refused or ():
        note(f"skipped (target {target.name} cannot express it): {error}")
    if render is not None:
        from ..targets.artifacts import ArtifactError, schema_of_backend

        schema = schema_of_backend(backend)
        try:
            documents = [(item, render(item.rule, item.query, schema)) for item in converted]
        except ArtifactError as error:
            raise CliError(str(error)) from error
        if arguments.output:
            _write_files(
                Path(arguments.output), [(f"{rule_label(i.rule)}.{suffix}", text) for i, text in documents]
            )
        else:
            # each a valid stream of its kind: NDJSON lines, YAML documents, JSON texts one per line
            separator = {"ndjson": "", "yaml": "---\n"}.get(suffix, "\n")
            sys.stdout.write(separator.join(text for _, text in documents))
        return EXIT_OK
    if arguments.output:
        _write_files(
            Path(arguments.output), [(f"{rule_label(i.rule)}.{target.suffix}", i.query) for i in converted]
        )
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


def _without_risk_rules(pack, backend):
    """The pack without its rules over the risk stream when the target cannot read that stream (a SIEM
    keeps its alerts' risk in a store of its own): each is left out with a line, as rules of another
    logsource are, unless nothing would be left."""
    from sigma.pipelines.okta.risk_stream import split_stages

    first, risk_rules = split_stages(pack)
    if risk_rules is None or getattr(backend, "reads_risk_stream", False):
        return pack
    if not len(first):
        return pack  # only those: convert_pack says why it cannot
    for rule in [*risk_rules.base_rules, *risk_rules.correlations]:
        if getattr(rule, "_output", True):
            note(
                f"skipped: rule '{rule.title}' reads sigma-okta's risk stream, which {backend.name} does not "
                "hold (convert it for duckdb or spark, or run it with `sigma-okta run`)"
            )
    return first


def _write_files(folder: Path, files: list[tuple[str, str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files:
        path = folder / name
        path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        print(path, file=sys.stderr)
