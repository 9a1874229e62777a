"""``sigma-okta``: run Okta detections locally, generate test data, check rules.

Exit codes (also in the README):
  0  the run completed (whether or not it raised alerts)
  1  an unexpected internal error (report it; ``--debug`` shows the traceback)
  2  bad usage or invalid rules (each problem is printed with file, line and rule)
  3  ``--strict``: the input had bad lines (the first one is named)
  4  an input could not be found or read
  5  ``--truth``: the alerts differ from the generator's ground truth
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from sigma.correlations import SigmaCorrelationTimespan
from sigma.exceptions import SigmaError, SigmaTimespanError

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_BAD_INPUT, EXIT_NO_INPUT, EXIT_TRUTH = 0, 1, 2, 3, 4, 5


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        return arguments.handler(arguments)
    except CliError as error:
        print(f"sigma-okta: {error}", file=sys.stderr)
        return error.code
    except SigmaError as error:
        if arguments.debug:
            raise
        print(f"sigma-okta: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # `sigma-okta run ... | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # an internal error: one line, unless --debug asks for the traceback
        if arguments.debug:
            raise
        print(
            f"sigma-okta: internal error: {type(error).__name__}: {error} (run with --debug for details)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sigma-okta",
        description="Okta Verify push-mismatch detection (Splunk ESCU 8085b79b) as Sigma: run it on Okta "
        "System Log exports, generate realistic test data, validate rule packs.",
        epilog="Exit codes: 0 done, 1 internal error, 2 usage or rule errors, 3 bad input with --strict, "
        "4 input not found, 5 alerts differ from --truth.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(commands)
    _add_convert(commands)
    _add_list(commands)
    _add_generate(commands)
    _add_validate(commands)
    return parser


# --- run ----------------------------------------------------------------------------------------


def _add_run(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run",
        help="evaluate rules on Okta System Log events and print alerts",
        description="Evaluate Sigma rules and `aggregate` correlations on Okta System Log events "
        "(NDJSON, .gz, JSON arrays as the Okta API returns them, folders of those, or - for stdin). "
        "Alerts go to stdout as one JSON object per line; a summary of bad input goes to stderr.",
    )
    run.add_argument(
        "rules", nargs="*", metavar="RULES", help="rule files or folders (default: the bundled rule pack)"
    )
    run.add_argument(
        "--events",
        "-e",
        required=True,
        action="append",
        metavar="PATH",
        help="event file or folder, or - for stdin (repeatable)",
    )
    run.add_argument("--output", "-o", metavar="FILE", help="write alerts to FILE instead of stdout")
    run.add_argument(
        "--format",
        choices=("json", "text"),
        default="json",
        help="json: one alert per line (default); text: readable",
    )
    run.add_argument(
        "--engine",
        choices=("python", "duckdb", "spark"),
        default="python",
        help="python: the streaming engine (default); duckdb, spark: run the rules' generated SQL "
        "(the queries of `sigma-okta convert -t duckdb|spark`) on those engines",
    )
    run.add_argument(
        "--time-field", default="published", metavar="FIELD", help="event time field (default: published)"
    )
    run.add_argument(
        "--allowed-lateness",
        metavar="SPAN",
        type=_timespan,
        help="emit a window once events are this much newer than its end (e.g. 10m), bounding "
        "memory on endless streams; later events for it are counted as late_event. Default: keep "
        "every window to the end of input, so any order gives the same alerts",
    )
    run.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="processes for large files (default: one per core)",
    )
    run.add_argument(
        "--no-prefilter",
        action="store_true",
        help="decode every line instead of only those that can match (slower, same alerts)",
    )
    run.add_argument(
        "--strict", action="store_true", help="decode and check every line, and exit with 3 if any was bad"
    )
    run.add_argument(
        "--max-line-bytes",
        type=_size,
        default=16 << 20,
        metavar="SIZE",
        help="skip (and count) longer lines (default: 16MiB)",
    )
    run.add_argument(
        "--truth",
        metavar="FILE",
        help="a ground-truth file of `sigma-okta generate`: say whether the alerts are exactly the expected "
        "ones, and exit with 5 if not",
    )
    run.add_argument(
        "--every-group",
        action="store_true",
        help='report every correlation group, with "condition": false where it does not hold '
        "(for comparing engines and debugging thresholds)",
    )
    run.set_defaults(handler=_run)


def _run(arguments: argparse.Namespace) -> int:
    from sigma.pipelines.okta.loader import load_bundled, load_rules

    from .engine.alerts import JsonLinesSink, TextSink
    from .engine.runner import Engine, EngineOptions
    from .engine.sources import SourceError, expand_sources

    pack = load_rules(arguments.rules) if arguments.rules else load_bundled()
    try:
        sources = expand_sources(arguments.events)
    except SourceError as error:
        raise CliError(str(error), EXIT_NO_INPUT) from error
    if arguments.engine != "python":
        return _run_sql(arguments, pack, sources)
    options = EngineOptions(
        time_field=arguments.time_field,
        workers=arguments.workers,
        allowed_lateness=arguments.allowed_lateness,
        prefilter=not arguments.no_prefilter,
        validate_all=arguments.strict,
        max_line_bytes=arguments.max_line_bytes,
        every_group=arguments.every_group,
    )
    engine = Engine(pack, options)
    truth = _GroundTruth(arguments.truth) if arguments.truth else None
    with _open_output(arguments.output) as stream:
        sink = (TextSink if arguments.format == "text" else JsonLinesSink)(stream)
        result = engine.run(sources, truth.watching(sink.write) if truth else sink.write)
        sink.close()
    report = result.report
    if report.has_offences:
        print(report.summary(), file=sys.stderr)
    if arguments.strict and report.has_offences:
        first = report.first
        raise CliError(f"--strict: bad input, first at {first}", EXIT_BAD_INPUT)
    return truth.verdict() if truth else EXIT_OK


class _GroundTruth:
    """Compares the alerts of a run with a ground-truth file written by `sigma-okta generate`."""

    def __init__(self, path: str):
        import json

        try:
            truth = json.loads(Path(path).read_text())
            self.rule_id = truth["rule_id"]
            self.expected = {(_instant(window), group) for window, group in truth["expected_alerts"]}
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CliError(f"cannot read the ground truth {path}: {error}", EXIT_NO_INPUT) from error
        self.found: set[tuple[str, str]] = set()

    def watching(self, emit):
        from .engine.alerts import CorrelationAlert

        def observe(alert) -> None:
            if isinstance(alert, CorrelationAlert) and alert.rule_id == self.rule_id and alert.condition:
                (group,) = alert.group.values()
                self.found.add((_instant(alert.to_dict()["window"]["start"]), group))
            emit(alert)

        return observe

    def verdict(self) -> int:
        missed, unexpected = self.expected - self.found, self.found - self.expected
        print(
            f"ground truth: {len(self.expected)} expected alerts, {len(self.expected & self.found)} found, "
            f"{len(missed)} missed, {len(unexpected)} unexpected",
            file=sys.stderr,
        )
        for window, group in sorted(missed):
            print(f"  missed      {window}  {group}", file=sys.stderr)
        for window, group in sorted(unexpected):
            print(f"  unexpected  {window}  {group}", file=sys.stderr)
        return EXIT_OK if not missed and not unexpected else EXIT_TRUTH


def _instant(text: str) -> str:
    """An ISO 8601 UTC time in one spelling, whatever its fraction digits."""
    import datetime as dt

    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).strftime("%Y-%m-%dT%H:%M:%SZ")


def _run_sql(arguments: argparse.Namespace, pack, sources) -> int:
    from .engine.alerts import JsonLinesSink, TextSink
    from .sql_runner import SqlEngineError, run_pack

    paths = [str(source.path) if source.path is not None else "-" for source in sources]
    truth = _GroundTruth(arguments.truth) if arguments.truth else None
    with _open_output(arguments.output) as stream:
        sink = (TextSink if arguments.format == "text" else JsonLinesSink)(stream)
        emit = truth.watching(sink.write) if truth else sink.write
        try:
            run_pack(arguments.engine, pack, paths, emit, every_group=arguments.every_group)
        except SqlEngineError as error:
            raise CliError(str(error), EXIT_USAGE) from error
        sink.close()
    return truth.verdict() if truth else EXIT_OK


class _open_output:
    """stdout's binary buffer, or a file; closes only what it opened."""

    def __init__(self, path: str | None):
        self.path = path
        self.stream: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes]:
        if self.path is None or self.path == "-":
            self.stream = sys.stdout.buffer
        else:
            try:
                self.stream = open(self.path, "wb")
            except OSError as error:
                raise CliError(f"cannot write {self.path}: {error.strerror}", EXIT_USAGE) from error
        return self.stream

    def __exit__(self, *exc: object) -> None:
        if self.stream is not None and self.stream is not sys.stdout.buffer:
            self.stream.close()


# --- convert ------------------------------------------------------------------------------------


def _add_convert(commands: argparse._SubParsersAction) -> None:
    convert = commands.add_parser(
        "convert",
        help="convert rules to a SIEM query language (SPL, ES|QL, KQL, DuckDB or Spark SQL)",
        description="Convert Sigma rules and `aggregate` correlations to queries. Each target uses its "
        "default Okta pipeline unless -p names others (see `sigma-okta list pipelines`).",
    )
    convert.add_argument("rules", nargs="*", metavar="RULES", help="rule files or folders (default: bundled)")
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
    from sigma.pipelines.okta.loader import load_bundled, load_rules

    from .targets import TargetError, convert_pack, make_backend, rule_label, target_named

    try:
        target = target_named(arguments.target)
        backend = make_backend(target, arguments.pipeline)
    except TargetError as error:
        raise CliError(str(error)) from error
    pack = load_rules(arguments.rules) if arguments.rules else load_bundled()
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
        comment = "--" if target.suffix in ("sql", "esql") else "//" if target.suffix == "kql" else "```"
        closing = " ```" if comment == "```" else ""
        print(f"{comment} {item.rule.title} ({rule_label(item.rule)}){closing}")
        print(item.query.rstrip("\n"))
    return EXIT_OK


def _add_list(commands: argparse._SubParsersAction) -> None:
    listing = commands.add_parser("list", help="list conversion targets or processing pipelines")
    listing.add_argument("what", choices=("targets", "pipelines"))
    listing.set_defaults(handler=_list)


def _list(arguments: argparse.Namespace) -> int:
    from sigma.pipelines.okta import pipelines
    from sigma.pipelines.okta.okta_schemas import get_schema

    from .targets import TARGETS

    if arguments.what == "targets":
        for target in TARGETS.values():
            supported = ", ".join(target.pipelines) or "none needed (raw System Log JSON)"
            print(f"{target.name:8} {target.language:36} pipelines: {supported}")
    else:
        for name in pipelines:
            schema = get_schema(name)
            print(f"{name:22} {schema.title}  [{schema.table_or_index}, time: {schema.time_field}]")
    return EXIT_OK


# --- generate -----------------------------------------------------------------------------------


def _add_generate(commands: argparse._SubParsersAction) -> None:
    generate = commands.add_parser(
        "generate",
        help="write a realistic Okta System Log dataset with labelled attack and benign sessions",
        description="Write seeded, realistic Okta System Log events (NDJSON, or .gz by suffix): background "
        "traffic plus labelled push-fatigue, push-denial, fan-out, null-session and other-factor sessions, "
        "and a ground-truth file naming the sessions the bundled rule must alert on.",
    )
    generate.add_argument(
        "--output", "-o", required=True, metavar="FILE", help="events file (.jsonl or .jsonl.gz)"
    )
    generate.add_argument("--truth", metavar="FILE", help="write the ground truth (JSON) here")
    generate.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    generate.add_argument(
        "--size", type=_size, metavar="SIZE", help="repeat until the file is about this big (e.g. 2GB)"
    )
    generate.add_argument(
        "--push-share",
        type=float,
        metavar="FRACTION",
        help="share of push and push-response events (default: 0.02)",
    )
    generate.add_argument("--only-push", action="store_true", help="only push and push-response events")
    generate.add_argument("--shuffle", action="store_true", help="write events out of time order")
    generate.set_defaults(handler=_generate)


def _generate(arguments: argparse.Namespace) -> int:
    from .generator import GeneratorConfig, write_dataset

    config = GeneratorConfig(seed=arguments.seed, only_push=arguments.only_push, shuffle=arguments.shuffle)
    if arguments.size is not None:
        config.target_bytes = arguments.size
    if arguments.push_share is not None:
        config.push_share = arguments.push_share
    summary = write_dataset(
        config, Path(arguments.output), Path(arguments.truth) if arguments.truth else None
    )
    print(
        f"wrote {summary.events:,} events ({summary.bytes / 1e6:,.1f} MB) to {summary.events_path} "
        f"in {summary.seconds:.1f}s: {summary.rule_events:,} push or push-response events "
        f"({summary.push_share:.1%}), {sum(summary.sessions.values())} labelled sessions, "
        f"{summary.expected_alerts} of which must alert"
        + (f"; ground truth in {summary.truth_path}" if summary.truth_path else ""),
        file=sys.stderr,
    )
    return EXIT_OK


# --- validate -----------------------------------------------------------------------------------


def _add_validate(commands: argparse._SubParsersAction) -> None:
    validate = commands.add_parser(
        "validate",
        help="check rule files (syntax, references, expressions, types) and list what they define",
    )
    validate.add_argument(
        "rules", nargs="*", metavar="RULES", help="rule files or folders (default: bundled)"
    )
    validate.set_defaults(handler=_validate)


def _validate(arguments: argparse.Namespace) -> int:
    from sigma.pipelines.okta.loader import load_bundled, load_rules

    from .engine.runner import CompiledRules, EngineOptions

    pack = load_rules(arguments.rules) if arguments.rules else load_bundled()
    CompiledRules(pack, EngineOptions())  # the engine can evaluate every rule
    for rule in pack.base_rules:
        print(f"rule         {rule.name or rule.id}  {rule.title}")
    for rule in pack.correlations:
        kind = getattr(rule, "correlation_type", None) or str(rule.type)
        print(f"correlation  {rule.name or rule.id}  {rule.title}  ({kind})")
    print(f"{len(pack)} rule(s) OK", file=sys.stderr)
    return EXIT_OK


# --- argument types -----------------------------------------------------------------------------


def _timespan(text: str) -> float:
    try:
        return float(SigmaCorrelationTimespan(text).seconds)
    except SigmaTimespanError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time span like 30s, 10m or 1h") from error


_SIZE = re.compile(r"(?i)\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*")
_UNITS = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def _size(text: str) -> int:
    match = _SIZE.fullmatch(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 500MB or 2GB")
    unit = (match.group(2) or "b")[0].lower()
    return int(float(match.group(1)) * _UNITS[unit])


if __name__ == "__main__":
    sys.exit(main())
