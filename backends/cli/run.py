"""``sigma-okta run``: evaluate rules on Okta System Log events with the Python engine, DuckDB or Spark."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from ..engine.input_report import InputReport, Reason
from .arguments import (
    add_geoip_argument,
    add_line_arguments,
    add_rules_argument,
    add_selection_arguments,
    instant,
    load_selected_pack,
    open_geoip,
    timespan,
    without_refused,
)
from .output import (
    EXIT_BAD_INPUT,
    EXIT_NO_INPUT,
    EXIT_OK,
    EXIT_TRUTH,
    EXIT_USAGE,
    CliError,
    note,
    open_output,
    warn,
)


def register(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run",
        help="evaluate rules on Okta System Log events and print alerts",
        description="Evaluate Sigma rules and `aggregate` correlations on Okta System Log events "
        "(NDJSON, .gz, JSON arrays as the Okta API returns them, folders of those, or - for stdin). "
        "Alerts go to stdout as one JSON object per line; a summary (rules, input read, alerts per rule, bad input) goes to stderr.",
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
        choices=("json", "text", "csv", "table"),
        default="json",
        help="json: one alert per line (default); text: readable blocks; csv, table: one row per alert "
        "(time, level, rule, group, metrics, event id)",
    )
    run.add_argument(
        "--engine",
        choices=("python", "duckdb", "spark"),
        default="python",
        help="python: the streaming engine (default); duckdb, spark: run the rules' generated SQL "
        "(the queries of `sigma-okta convert -t duckdb|spark`) on those engines",
    )
    run.add_argument(
        "--time-field",
        metavar="FIELD",
        help="event time field (default: published, or where the --pipeline maps it)",
    )
    run.add_argument(
        "--pipeline",
        "-p",
        action="append",
        default=[],
        metavar="PIPELINE",
        help="run on events stored in another schema: a processing pipeline id (see `sigma-okta list "
        "pipelines`: okta_elastic for events exported from Elastic, ...) or YAML file whose field "
        "mappings rename the rules' fields (repeatable; python engine only)",
    )
    add_geoip_argument(run)
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
    add_line_arguments(run)
    run.add_argument(
        "--strict", action="store_true", help="decode and check every line, and exit with 3 if any was bad"
    )
    run.add_argument(
        "--truth",
        metavar="FILE",
        help="a ground-truth file of `sigma-okta generate`: say whether the alerts are exactly the expected "
        "ones, and exit with 5 if not",
    )
    run.add_argument(
        "--risk-output",
        metavar="FILE",
        help="write the risk stream (one row per risk object and ATT&CK technique of every alert of a "
        "rule with `risk:`, docs/rule-pack.md) to FILE as NDJSON; rules over the risk stream read it",
    )
    run.add_argument(
        "--every-group",
        action="store_true",
        help='report every correlation group, with "condition": false where it does not hold '
        "(for comparing engines and debugging thresholds)",
    )
    run.add_argument(
        "--from",
        dest="time_from",
        type=instant,
        metavar="TIME",
        help="only events at or after TIME (ISO 8601, UTC unless given: 2026-03-10 or 2026-03-10T14:00:00Z)",
    )
    run.add_argument("--to", dest="time_to", type=instant, metavar="TIME", help="only events before TIME")
    run.add_argument(
        "--quiet", "-q", action="store_true", help="no summary on stderr (warnings and errors still go there)"
    )
    run.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on stderr while reading (default: on a terminal, for runs over a second)",
    )
    add_selection_arguments(run)
    run.set_defaults(handler=_run)


def _run(arguments: argparse.Namespace) -> int:
    from sigma.pipelines.okta.risk_stream import split_stages

    from ..engine.risk_events import run_in_stages
    from ..engine.runner import EngineOptions
    from ..engine.sources import SourceError, expand_sources

    started = time.perf_counter()
    pack, risk_rules = split_stages(load_selected_pack(arguments))
    time_field, id_field = arguments.time_field or "published", "uuid"
    if arguments.pipeline:
        pack, time_field, id_field = _mapped_pack(pack, arguments)
    if arguments.skip_unsupported:
        from ..engine.runner import refusals

        pack = without_refused(pack, refusals(pack))
        if risk_rules is not None:
            risk_rules = without_refused(risk_rules, refusals(risk_rules))
    try:
        sources = expand_sources(arguments.events)
    except SourceError as error:
        raise CliError(str(error), EXIT_NO_INPUT) from error
    geoip = open_geoip(arguments)
    options = EngineOptions(
        time_field=time_field,
        workers=arguments.workers,
        allowed_lateness=arguments.allowed_lateness,
        prefilter=not arguments.no_prefilter,
        validate_all=arguments.strict,
        max_line_bytes=arguments.max_line_bytes,
        every_group=arguments.every_group,
        time_from_us=arguments.time_from,
        time_to_us=arguments.time_to,
        id_field=id_field,
        geoip=geoip,
    )
    truth = _GroundTruth(arguments.truth, [pack, risk_rules]) if arguments.truth else None
    tally = _AlertTally()
    progress = _progress_bar(arguments, sources)
    with open_output(arguments.output) as stream:
        sink = _sink(arguments.format, stream)
        emit = tally.watching(truth.watching(sink.write) if truth else sink.write)

        def run(stage, stage_sources, stage_emit):
            # the risk stage reads the risk stream, in its own field names, with no progress of its own
            given = stage_sources is sources
            stage_options = options if given else replace(options, time_field="published", id_field="uuid")
            if arguments.engine == "python":
                return _run_python(
                    stage, stage_sources, stage_options, stage_emit, progress if given else None
                )
            return _run_sql(
                arguments.engine, stage, stage_sources, stage_options, stage_emit, progress if given else None
            )

        risk_output = Path(arguments.risk_output) if arguments.risk_output else None
        try:
            report, events_timed = run_in_stages(
                pack, risk_rules, run, sources, emit, expand_sources, risk_output
            )
        finally:
            if progress is not None:
                progress.close()
        sink.close()
    if risk_rules is not None:
        pack = _together(pack, risk_rules)
    if not arguments.quiet:
        note(_summary(pack, report, tally, time.perf_counter() - started, arguments.engine))
        if geoip is not None:
            note(geoip.summary(report))
    _warn_about_time(report, events_timed, time_field)
    _warn_about_key_case(pack, sources, time_field)
    if arguments.strict and report.has_offences:
        raise CliError(f"--strict: bad input, first at {report.first}", EXIT_BAD_INPUT)
    return truth.verdict() if truth else EXIT_OK


def _together(first, risk_rules):
    """The two stages as one pack again (for the summary and the warnings)."""
    from sigma.collection import SigmaCollection

    collection = SigmaCollection(
        init_rules=[*first.collection.rules, *risk_rules.collection.rules], resolve_references=False
    )
    return replace(first, collection=collection, aggregates=[*first.aggregates, *risk_rules.aggregates])


def _mapped_pack(pack, arguments: argparse.Namespace):
    """The pack renamed by ``--pipeline`` for events stored in its schema, its time and event id fields."""
    from sigma.exceptions import SigmaError
    from sigma.processing.pipeline import ProcessingPipeline

    from sigma.pipelines.okta.pack_pipeline import apply_to_pack

    from ..targets.catalog import TargetError, resolve_pipeline

    if arguments.engine != "python":
        raise CliError(
            f"--engine {arguments.engine} cannot use --pipeline: the generated SQL reads raw System Log "
            "events (use the python engine)",
            EXIT_USAGE,
        )
    pipeline = ProcessingPipeline()
    try:
        for name in arguments.pipeline:
            pipeline += resolve_pipeline(name)
        mapped = apply_to_pack(pack, pipeline, keep_going=arguments.skip_unsupported)
    except TargetError as error:
        raise CliError(str(error), EXIT_USAGE) from error
    except SigmaError as error:
        raise CliError(f"--pipeline {' '.join(arguments.pipeline)}: {error}") from error
    pack = without_refused(mapped.pack, mapped.refused) if mapped.refused else mapped.pack
    for name in mapped.untouched:
        warn(
            f"--pipeline changes nothing in rule '{name}' (its logsource?): it reads the raw Okta field names"
        )
    return pack, arguments.time_field or mapped.time_field, mapped.id_field


def _sink(format_name: str, stream):
    from ..engine.alerts import ALERT_COLUMNS, JsonLinesSink, TextSink, alert_row
    from .tables import RowSink

    if format_name == "text":
        return TextSink(stream)
    if format_name in ("csv", "table"):
        return RowSink(stream, format_name, ALERT_COLUMNS, alert_row)
    return JsonLinesSink(stream)


def _progress_bar(arguments: argparse.Namespace, sources):
    """A progress bar when asked for, or by default on a terminal (never with --quiet)."""
    from .progress import QUIET_START, ProgressBar, known_total

    wanted = (
        arguments.progress if arguments.progress is not None else sys.stderr.isatty() and not arguments.quiet
    )
    if not wanted:
        return None
    return ProgressBar(sys.stderr, known_total(sources), delay=0.0 if arguments.progress else QUIET_START)


def _run_python(pack, sources, options, emit, progress):
    """The streaming engine; returns the input report and how many matched events had a readable time."""
    from ..engine.runner import Engine

    result = Engine(pack, options).run(sources, emit, progress)
    unreadable = result.report.counts[Reason.MISSING_TIMESTAMP] + result.report.counts[Reason.BAD_TIMESTAMP]
    return result.report, result.events_matched - unreadable


def _run_sql(engine: str, pack, sources, options, emit, progress):
    """DuckDB or Spark on the events as the engine's input layer reads them (staged as clean NDJSON)."""
    from ..targets.sql_execution import SqlEngineError, run_sources

    try:
        return run_sources(engine, pack, sources, options, emit, progress)
    except SqlEngineError as error:
        raise CliError(f"--engine {engine}: {error}", EXIT_USAGE) from error


def _warn_about_key_case(pack, sources, time_field: str) -> None:
    from ..engine.key_spelling import SAMPLE_EVENTS, keys_differing_in_case
    from ..engine.runner import pack_fields

    for spelled, name in keys_differing_in_case(sources, pack_fields(pack, time_field)).items():
        warn(
            f"events have '{spelled}' where the rules read '{name}' (in the first {SAMPLE_EVENTS:,} "
            "events): Sigma field names are case-sensitive, so they never match"
        )


class _AlertTally:
    """Counts the alerts of a run per rule, for the summary (groups whose condition is false are not alerts)."""

    def __init__(self) -> None:
        self.by_rule: Counter[str] = Counter()

    def watching(self, emit):
        def observe(alert) -> None:
            if getattr(alert, "condition", True):
                self.by_rule[alert.rule_title] += 1
            emit(alert)

        return observe


def _summary(pack, report: InputReport, tally: _AlertTally, seconds: float, engine: str) -> str:
    alerts = sum(tally.by_rule.values())
    rate = report.bytes_read / seconds / 1e6 if seconds > 0 else 0.0
    lines = [
        f"{len(pack)} {_plural(len(pack), 'rule')} on {engine}: "
        f"{report.bytes_read:,} bytes, {report.events_decoded:,} events decoded "
        f"in {seconds:.2f} s ({rate:,.1f} MB/s); {alerts:,} {_plural(alerts, 'alert')}"
    ]
    lines += [f"  {count:>8,}  {title}" for title, count in sorted(tally.by_rule.items(), key=_by_count)]
    if report.has_offences:
        lines.append(report.summary())
    return "\n".join(lines)


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def _plural(count: int, noun: str) -> str:
    return noun if count == 1 else noun + "s"


def _warn_about_time(report: InputReport, events_timed: int, time_field: str) -> None:
    missing = report.counts[Reason.MISSING_TIMESTAMP]
    if missing and not events_timed:
        warn(
            f"no matching event has a readable time field '{time_field}' ({missing:,} lack it): "
            "they give no alerts; is --time-field right?"
        )


class _GroundTruth:
    """Compares the alerts of a run with a ground-truth file written by `sigma-okta generate`, rule by rule.

    A correlation alert is its rule, window start and group values; a single-event alert its rule, the
    event's time (to the millisecond) and its risk object. Rules of the truth that the run did not
    evaluate are left out (and named); alerts of rules the truth does not know are not compared. A truth
    file without ``rules`` (written before the whole pack had ground truth) holds the push rule only."""

    def __init__(self, path: str, stages: list):
        import json

        try:
            truth = json.loads(Path(path).read_text())
            rules = truth.get("rules") or {truth["rule_id"]: _legacy_rule(truth)}
            self.expected = {
                rule_id: Counter(_expected_key(entry, a) for a in entry["alerts"])
                for rule_id, entry in rules.items()
            }
            self.titles = {
                rule_id: entry.get("title") or entry.get("name") or rule_id
                for rule_id, entry in rules.items()
            }
            self.object_fields = {rule_id: entry.get("object_field") for rule_id, entry in rules.items()}
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CliError(f"cannot read the ground truth {path}: {error}", EXIT_NO_INPUT) from error
        run = {
            str(rule.id)
            for pack in stages
            if pack is not None
            for rule in [*pack.collection.rules, *pack.aggregates]
            if rule.id is not None
        }
        self.not_run = sorted(self.titles[rule_id] for rule_id in self.expected if rule_id not in run)
        self.expected = {rule_id: keys for rule_id, keys in self.expected.items() if rule_id in run}
        self.found: dict[str, Counter] = {rule_id: Counter() for rule_id in self.expected}
        self.uncovered: Counter[str] = Counter()  # alerts of rules the truth has nothing on, by title

    def watching(self, emit):
        from ..engine.alerts import CorrelationAlert

        def observe(alert) -> None:
            found = self.found.get(alert.rule_id)
            if not getattr(alert, "condition", True):
                pass
            elif found is None:
                self.uncovered[alert.rule_title] += 1
            else:
                if isinstance(alert, CorrelationAlert):
                    window = _instant(alert.to_dict()["window"]["start"])
                    found[(window, tuple(str(value) for value in alert.group.values()))] += 1
                else:
                    found[
                        (_instant_ms(alert.time_us), _risk_object(alert, self.object_fields[alert.rule_id]))
                    ] += 1
            emit(alert)

        return observe

    def verdict(self) -> int:
        rows, problems = [], []
        totals = Counter()
        for rule_id, expected in sorted(self.expected.items(), key=lambda item: self.titles[item[0]]):
            found = self.found[rule_id]
            missed, unexpected = expected - found, found - expected
            counts = {
                "expected": sum(expected.values()),
                "found": sum((expected & found).values()),
                "missed": sum(missed.values()),
                "unexpected": sum(unexpected.values()),
            }
            totals.update(counts)
            rows.append((counts, self.titles[rule_id]))
            problems += [("missed    ", self.titles[rule_id], key) for key in sorted(missed.elements())]
            problems += [("unexpected", self.titles[rule_id], key) for key in sorted(unexpected.elements())]
        print(
            f"ground truth: {totals['expected']} expected alerts of {len(rows)} {_plural(len(rows), 'rule')}, "
            f"{totals['found']} found, {totals['missed']} missed, {totals['unexpected']} unexpected",
            file=sys.stderr,
        )
        if len(rows) > 1:
            print("  expected  found  missed  unexpected  rule", file=sys.stderr)
            for counts, title in rows:
                mark = "" if not counts["missed"] and not counts["unexpected"] else "  <-"
                print(
                    f"  {counts['expected']:>8}  {counts['found']:>5}  {counts['missed']:>6}  {counts['unexpected']:>10}  {title}{mark}",
                    file=sys.stderr,
                )
        for kind, title, (when, group) in problems:
            shown = ", ".join(group) if isinstance(group, tuple) else str(group)
            print(f"  {kind}  {when}  {shown}  ({title})", file=sys.stderr)
        if self.not_run:
            print(f"  not run here, so not compared: {', '.join(self.not_run)}", file=sys.stderr)
        if self.uncovered:
            listed = ", ".join(f"{title} ({count})" for title, count in sorted(self.uncovered.items()))
            print(
                f"  alerts of rules the ground truth does not cover, not compared: {listed}", file=sys.stderr
            )
        return EXIT_OK if not totals["missed"] and not totals["unexpected"] else EXIT_TRUTH


def _legacy_rule(truth: dict) -> dict:
    """The push rule's alerts from a truth file's ``expected_alerts`` (the format before ``rules``)."""
    alerts = [
        {"window_start": window, "group": {"authenticationContext.externalSessionId": group}}
        for window, group in truth["expected_alerts"]
    ]
    return {"title": truth.get("rule_name"), "alerts": alerts}


def _expected_key(entry: dict, alert: dict) -> tuple:
    if "window_start" in alert:
        return _instant(alert["window_start"]), tuple(str(value) for value in alert["group"].values())
    return _instant_ms_text(alert["time"]), str(alert["object"])


def _risk_object(alert, object_field: str | None) -> str:
    """What names a single-event alert: its risk object (the user or the address), else that field."""
    objects = (alert.risk or {}).get("objects") or []
    value = objects[0] if objects else alert.fields.get(object_field) if object_field else None
    return str(value)


def _instant_ms(time_us: int | None) -> str:
    import datetime as dt

    if time_us is None:
        return "(no time)"
    moment = dt.datetime.fromtimestamp(time_us // 1_000_000, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{time_us // 1000 % 1000:03d}Z"


def _instant_ms_text(text: str) -> str:
    import datetime as dt

    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return _instant_ms(int(moment.timestamp()) * 1_000_000 + moment.microsecond)


def _instant(text: str) -> str:
    """An ISO 8601 UTC time in one spelling, whatever its fraction digits."""
    import datetime as dt

    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).strftime("%Y-%m-%dT%H:%M:%SZ")
