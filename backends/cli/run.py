"""``sigma-okta run``: evaluate rules on Okta System Log events with the Python engine, DuckDB or Spark."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .arguments import add_rules_argument, load_pack, size, timespan
from .output import EXIT_BAD_INPUT, EXIT_NO_INPUT, EXIT_OK, EXIT_TRUTH, EXIT_USAGE, CliError, open_output


def register(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run",
        help="evaluate rules on Okta System Log events and print alerts",
        description="Evaluate Sigma rules and `aggregate` correlations on Okta System Log events "
        "(NDJSON, .gz, JSON arrays as the Okta API returns them, folders of those, or - for stdin). "
        "Alerts go to stdout as one JSON object per line; a summary of bad input goes to stderr.",
    )
    add_rules_argument(run)
    run.add_argument(
        "--events",
        "-e",
        required=True,
        action="extend",
        nargs="+",
        metavar="PATH",
        help="event files or folders, or - for stdin (several after one --events, as a shell glob gives "
        "them, or --events repeated); put rule paths before --events or after --",
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
        type=timespan,
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
        type=size,
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
    from ..engine.alerts import JsonLinesSink, TextSink
    from ..engine.runner import Engine, EngineOptions
    from ..engine.sources import SourceError, expand_sources

    pack = load_pack(arguments.rules)
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
    with open_output(arguments.output) as stream:
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
        from ..engine.alerts import CorrelationAlert

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
    from ..engine.alerts import JsonLinesSink, TextSink
    from ..targets.sql_execution import SqlEngineError, run_pack

    paths = [str(source.path) if source.path is not None else "-" for source in sources]
    truth = _GroundTruth(arguments.truth) if arguments.truth else None
    with open_output(arguments.output) as stream:
        sink = (TextSink if arguments.format == "text" else JsonLinesSink)(stream)
        emit = truth.watching(sink.write) if truth else sink.write
        try:
            run_pack(arguments.engine, pack, paths, emit, every_group=arguments.every_group)
        except SqlEngineError as error:
            raise CliError(str(error), EXIT_USAGE) from error
        sink.close()
    return truth.verdict() if truth else EXIT_OK
