"""``sigma-okta watch``: the rules on an endless Okta stream (System Log API, a followed file, stdin),
with checkpointed state, exactly-once alerts into a file, and a webhook with a dead-letter file."""

from __future__ import annotations

import argparse
import signal
import sys

from .arguments import (
    add_geoip_argument,
    add_line_arguments,
    add_rules_argument,
    add_selection_arguments,
    load_selected_pack,
    open_geoip,
    timespan,
    without_refused,
)
from .output import EXIT_NO_INPUT, EXIT_OK, EXIT_USAGE, CliError, note, warn

DEFAULT_LATENESS = "5m"


def register(commands: argparse._SubParsersAction) -> None:
    watch = commands.add_parser(
        "watch",
        help="evaluate rules on an endless Okta stream, checkpointed, delivering each alert once",
        description="Evaluate Sigma rules and correlations on Okta System Log events as they arrive: from "
        "the System Log API (--okta-org), a followed file (--follow PATH) or stdin (--follow -). Windows "
        "are emitted once the watermark (the newest event time less --allowed-lateness) passes their end. "
        "With --state, windows, the source position and the delivered alert ids are checkpointed, so a "
        "restart after a crash delivers every alert exactly once to --output (at least once to stdout and "
        "--webhook). Stops cleanly on SIGTERM or SIGINT (a last checkpoint, exit 0).",
    )
    add_rules_argument(watch)
    sources = watch.add_argument_group("source (one of)")
    sources.add_argument(
        "--follow",
        metavar="PATH",
        help="read a file as it grows (appended lines, rotation by rename or truncation), or - for stdin",
    )
    sources.add_argument(
        "--okta-org", metavar="URL", help="poll the Okta System Log API of this org (https://ORG.okta.com)"
    )
    sources.add_argument(
        "--okta-token-env",
        metavar="NAME",
        default="OKTA_API_TOKEN",
        help="environment variable holding the SSWS API token (default: OKTA_API_TOKEN; an OAuth 2.0 "
        "access token with scope okta.logs.read may be given in OKTA_ACCESS_TOKEN instead)",
    )
    sources.add_argument(
        "--okta-since",
        metavar="TIME",
        help="where a new watch of the API starts (ISO 8601; default: an hour ago); a --state resumes "
        "where it was instead",
    )
    sources.add_argument(
        "--okta-poll-interval",
        type=seconds,
        default=10.0,
        metavar="SPAN",
        help="how often the API is asked again once caught up (default: 10s)",
    )
    time_group = watch.add_argument_group("event time")
    time_group.add_argument(
        "--allowed-lateness",
        type=timespan,
        default=timespan(DEFAULT_LATENESS),
        metavar="SPAN",
        help=f"emit a window once events this much newer than its end have arrived; later events for it "
        f"are counted as late_event (default: {DEFAULT_LATENESS}; `run --allowed-lateness` with the same "
        "span gives the same alerts)",
    )
    time_group.add_argument(
        "--idle-timeout",
        type=seconds,
        metavar="SPAN",
        help="after this long without a newer event, let event time advance with the wall clock from "
        "the newest event, so the last windows of a quiet stream close (docs/engine.md); default: never",
    )
    time_group.add_argument("--time-field", metavar="FIELD", help="event time field (default: published)")
    state = watch.add_argument_group("state and delivery")
    state.add_argument(
        "--state",
        metavar="FILE",
        help="SQLite checkpoint of open windows, source position and delivered alerts; a restart with "
        "the same FILE resumes there",
    )
    state.add_argument(
        "--checkpoint-interval",
        type=seconds,
        default=10.0,
        metavar="SPAN",
        help="processing time between checkpoints (default: 10s; also at shutdown)",
    )
    state.add_argument(
        "--output", "-o", metavar="FILE", help="append alerts to FILE as NDJSON (exactly once)"
    )
    state.add_argument(
        "--webhook", metavar="URL", help="POST each alert as JSON to URL (Idempotency-Key: the alert id)"
    )
    state.add_argument(
        "--webhook-header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a header to send with every webhook request (repeatable; e.g. an Authorization header)",
    )
    state.add_argument(
        "--webhook-retries",
        type=int,
        default=5,
        metavar="N",
        help="retries of a failing webhook request, with capped exponential backoff (default: 5)",
    )
    state.add_argument(
        "--dead-letter",
        metavar="FILE",
        help="where alerts the webhook did not accept after its retries go (NDJSON; needed with --webhook)",
    )
    operations = watch.add_argument_group("operations")
    operations.add_argument(
        "--status-interval",
        type=seconds,
        default=60.0,
        metavar="SPAN",
        help="a status line on stderr this often (events/s, open windows, memory, lag; default: 60s; 0: none)",
    )
    add_line_arguments(operations)
    operations.add_argument("--quiet", "-q", action="store_true", help="no status lines or summary")
    add_geoip_argument(watch)
    add_selection_arguments(watch)
    watch.set_defaults(handler=_watch, pipeline=[])


def seconds(text: str) -> float:
    """Seconds (``0.5``) or a Sigma time span (``30s``, ``10m``)."""
    try:
        value = float(text)
    except ValueError:
        return timespan(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


def _watch(arguments: argparse.Namespace) -> int:
    from sigma.pipelines.okta.risk_stream import split_stages

    from ..engine.runner import CompiledRules, EngineOptions, refusals
    from ..live.checkpoint import StateError, StateFile
    from ..live.sinks import SinkError
    from ..live.source import LiveSourceError
    from ..live.watch import Watch, WatchOptions

    sinks = _sinks(arguments)
    source = _source(arguments)
    # before the rules compile: a stop asked for meanwhile is honoured once the loop begins
    stop = _StopRequest()
    pack, risk_rules = split_stages(load_selected_pack(arguments))
    if risk_rules is not None:
        names = ", ".join(
            sorted(rule.title for rule in [*risk_rules.collection.rules, *risk_rules.aggregates])
        )
        note(f"watch: rules over the risk stream are not evaluated live (use `run` for them): {names}")
    if arguments.skip_unsupported:
        pack = without_refused(pack, refusals(pack))
    options = EngineOptions(
        time_field=arguments.time_field or "published",
        workers=1,
        allowed_lateness=arguments.allowed_lateness,
        prefilter=not arguments.no_prefilter,
        max_line_bytes=arguments.max_line_bytes,
        geoip=open_geoip(arguments),
    )
    rules = CompiledRules(pack, options)
    try:
        state = StateFile(arguments.state) if arguments.state else None
    except StateError as error:
        raise CliError(str(error), EXIT_USAGE) from error
    watch = Watch(
        rules,
        source,
        sinks,
        state=state,
        options=WatchOptions(
            checkpoint_interval=arguments.checkpoint_interval,
            idle_timeout=arguments.idle_timeout,
            status_interval=None
            if arguments.quiet or not arguments.status_interval
            else arguments.status_interval,
        ),
        status=(lambda line: None)
        if arguments.quiet
        else (lambda line: print(line, file=sys.stderr, flush=True)),
        warn=warn,
    )
    stop.watch = watch
    try:
        result = watch.run()
    except LiveSourceError as error:
        raise CliError(f"{source.name}: {error}", EXIT_NO_INPUT) from error
    except (StateError, SinkError) as error:
        raise CliError(str(error), EXIT_USAGE) from error
    finally:
        if state is not None:
            state.close()
    if not arguments.quiet:
        report = result.report
        note(
            f"watch: {report.bytes_read:,} bytes, {report.events_decoded:,} events decoded; "
            f"{result.delivered:,} alerts delivered, {result.duplicates_skipped:,} already delivered "
            f"before a restart, {result.checkpoints:,} checkpoints"
        )
        if report.has_offences:
            note(report.summary())
    return EXIT_OK


class _StopRequest:
    """SIGTERM and SIGINT ask the watch to stop after its current batch (a checkpoint, then exit 0)."""

    def __init__(self) -> None:
        self.requested = False
        self._watch = None
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)

    @property
    def watch(self):
        return self._watch

    @watch.setter
    def watch(self, watch) -> None:
        self._watch = watch
        if self.requested:
            watch.request_stop()

    def _handle(self, signum, frame) -> None:
        self.requested = True
        if self._watch is not None:
            self._watch.request_stop()


def _sinks(arguments: argparse.Namespace) -> list:
    from ..live.sinks import FileSink, StdoutSink, WebhookSink

    sinks = []
    if arguments.output and arguments.output != "-":
        sinks.append(FileSink(arguments.output, warn=warn))
    if arguments.webhook:
        if not arguments.dead_letter:
            raise CliError("--webhook needs --dead-letter FILE: where alerts go that it does not accept")
        headers = {}
        for header in arguments.webhook_header:
            name, colon, value = header.partition(":")
            if not colon or not name.strip():
                raise CliError(f"--webhook-header {header!r}: not 'Name: value'")
            headers[name.strip()] = value.strip()
        from ..live.sinks import SinkError

        try:
            sinks.append(
                WebhookSink(
                    arguments.webhook,
                    arguments.dead_letter,
                    retries=arguments.webhook_retries,
                    headers=headers,
                    warn=warn,
                )
            )
        except SinkError as error:
            raise CliError(str(error)) from error
    if not sinks or arguments.output == "-":
        sinks.append(StdoutSink())
    return sinks


def _source(arguments: argparse.Namespace):
    """The live source the arguments name (exactly one)."""
    from ..live.source import LiveSourceError

    given = [name for name in ("follow", "okta_org") if getattr(arguments, name)]
    if len(given) != 1:
        raise CliError("watch needs one source: --follow PATH, --follow - (stdin) or --okta-org URL")
    try:
        if arguments.okta_org:
            from ..live.okta_api import OktaLogSource, authorization_from_environment

            return OktaLogSource(
                arguments.okta_org,
                authorization_from_environment(arguments.okta_token_env),
                since=arguments.okta_since,
                poll_interval=arguments.okta_poll_interval,
            )
        if arguments.follow == "-":
            from ..live.stdin_source import StdinSource

            return StdinSource(max_line_bytes=arguments.max_line_bytes)
        from ..live.follow import FollowedFile

        return FollowedFile(arguments.follow, max_line_bytes=arguments.max_line_bytes)
    except LiveSourceError as error:
        raise CliError(str(error), EXIT_NO_INPUT) from error
