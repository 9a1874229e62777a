"""The watch loop in process, on a scripted source: the same alerts as `run`, checkpoints and restarts,
idle-timeout closing, late events, a changed rule's state discarded."""

from __future__ import annotations

import copy
import io
from pathlib import Path

import orjson
import pytest
from okta_builders import push, push_pack, response, run_engine

from sigma.backends.okta.engine.alerts import alert_id
from sigma.backends.okta.engine.input_report import Reason
from sigma.backends.okta.engine.runner import CompiledRules, Engine, EngineOptions
from sigma.backends.okta.engine.sources import expand_sources
from sigma.backends.okta.generator import GeneratorConfig, write_dataset
from sigma.backends.okta.live.checkpoint import StateFile
from sigma.backends.okta.live.sinks import FileSink, StdoutSink
from sigma.backends.okta.live.source import LiveBatch
from sigma.backends.okta.live.watch import Watch, WatchOptions
from sigma.pipelines.okta.loader import load_bundled
from sigma.pipelines.okta.risk_stream import split_stages

LATENESS = 300.0


class ScriptedSource:
    """A LiveSource over a list of lines: ``batch`` lines per poll, position {"next": index}; at the end
    empty batches (advancing ``clock`` by ``idle_step``), or None when it ``ends``. ``crash_after``
    polls raise, as a killed process would stop."""

    name = "scripted:test"

    def __init__(self, lines, batch=50, ends=False, clock=None, idle_step=0.0, crash_after=None):
        self.lines, self.batch, self.ends = lines, batch, ends
        self.clock, self.idle_step, self.crash_after = clock, idle_step, crash_after
        self.index = 0
        self.polls = 0

    def open(self, position):
        self.index = 0 if position is None else position["next"]

    def poll(self, timeout):
        self.polls += 1
        if self.crash_after is not None and self.polls > self.crash_after:
            raise KeyboardInterrupt("killed")
        if self.index >= len(self.lines):
            if self.ends:
                return None
            if self.clock is not None:
                self.clock.now += self.idle_step
            return LiveBatch([], {"next": self.index})
        lines = self.lines[self.index : self.index + self.batch]
        self.index += len(lines)
        return LiveBatch(lines, {"next": self.index}, size=sum(map(len, lines)))

    def close(self):
        pass


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("generated") / "events.jsonl"
    write_dataset(GeneratorConfig(seed=7, sessions_per_label=1, background_events=1500), path)
    return path


@pytest.fixture(scope="module")
def event_pack():
    """The bundled pack without the rules over the risk stream (watch does not evaluate those)."""
    return split_stages(load_bundled())[0]


def batch_alerts(pack, path: Path) -> list[dict]:
    alerts: list[dict] = []
    Engine(copy.deepcopy(pack), EngineOptions(allowed_lateness=LATENESS, workers=1)).run(
        expand_sources([str(path)]), lambda alert: alerts.append(alert.to_dict())
    )
    return alerts


def compiled(pack, **options) -> CompiledRules:
    return CompiledRules(copy.deepcopy(pack), EngineOptions(allowed_lateness=LATENESS, workers=1, **options))


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def by_id(alerts: list[dict]) -> dict[str, dict]:
    found = {alert["alert_id"]: alert for alert in alerts}
    assert len(found) == len(alerts), "an alert id given twice"
    return found


def test_watch_gives_the_alerts_of_run(generated, event_pack):
    expected = batch_alerts(event_pack, generated)
    out = io.BytesIO()
    watch = Watch(
        compiled(event_pack), ScriptedSource(lines_of(generated), batch=37, ends=True), [StdoutSink(out)]
    )
    result = watch.run()
    delivered = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert by_id(delivered) == by_id(expected)
    assert len({alert["rule_id"] for alert in delivered}) >= 5  # several rules fire
    assert result.delivered == len(expected)


@pytest.mark.parametrize("crash_after", [3, 11, 29, 47, 70])
def test_a_crash_and_restart_delivers_every_alert_once(tmp_path, generated, event_pack, crash_after):
    """Crash (an exception: no last checkpoint) after some polls, with checkpoints every poll or so;
    restart from the state: the output file holds run's alerts, each once."""
    expected = batch_alerts(event_pack, generated)
    lines, output, state_path = lines_of(generated), tmp_path / "alerts.ndjson", tmp_path / "state.db"
    clock = FakeClock()
    checkpoints = 0
    for attempt in range(2):
        state = StateFile(state_path)
        source = ScriptedSource(lines, batch=40, ends=True, crash_after=crash_after if attempt == 0 else None)
        watch = Watch(
            compiled(event_pack),
            source,
            [FileSink(output)],
            state=state,
            options=WatchOptions(checkpoint_interval=3.0),
            clock=clock,
        )
        original = source.poll

        def ticking(timeout, original=original):
            clock.now += 1.0
            return original(timeout)

        source.poll = ticking
        try:
            watch.run()
        except KeyboardInterrupt:
            assert attempt == 0
        checkpoints += watch.result.checkpoints
        state.close()
    delivered = [orjson.loads(line) for line in output.read_bytes().splitlines()]
    assert by_id(delivered) == by_id(expected)
    assert checkpoints > 1


def session_events(session: str, start: float) -> list[dict]:
    """Two unanswered pushes and a phone-side event: the push-mismatch rule fires for the session."""
    return [push(session, start), push(session, start + 30), response(session, start + 60, result="UNKNOWN")]


def encoded(events) -> list[bytes]:
    return [orjson.dumps(event) for event in events]


def test_idle_timeout_closes_the_last_window_as_time_passes(tmp_path):
    # window 14:00-15:00; the last event at 14:10; lateness 5m: the window closes once event time
    # passes 15:05, i.e. 55 minutes of quiet after the idle timeout let event time follow the clock
    clock = FakeClock()
    out = io.BytesIO()
    source = ScriptedSource(encoded(session_events("s1", 540)), clock=clock, idle_step=60.0)
    watch = Watch(
        compiled(push_pack()),
        source,
        [StdoutSink(out)],
        options=WatchOptions(idle_timeout=120.0),
        clock=clock,
    )
    watch.start()
    seen_at = None
    for _ in range(80):
        batch = source.poll(0)
        if batch.lines:
            watch._process(batch.lines, batch.size)
        watch._idle()
        if out.getvalue() and seen_at is None:
            seen_at = clock.now - 1000.0
    (alert,) = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert alert["group"] == {"authenticationContext.externalSessionId": "s1"}
    # newest event 14:10 + quiet >= 55m - ... : 14:10 + elapsed - 5m >= 15:00  <=>  elapsed >= 55m
    assert 55 * 60 <= seen_at < 57 * 60
    # a straggler for the closed window is late, as it would be with traffic
    late = encoded([push("s1", 1200)])
    watch._process(late, len(late[0]))
    assert watch.report.counts[Reason.LATE_EVENT] == 1


def test_without_idle_timeout_a_quiet_stream_holds_its_last_window():
    clock = FakeClock()
    out = io.BytesIO()
    source = ScriptedSource(encoded(session_events("s1", 540)), clock=clock, idle_step=600.0)
    watch = Watch(compiled(push_pack()), source, [StdoutSink(out)], clock=clock)
    watch.start()
    for _ in range(50):
        batch = source.poll(0)
        if batch.lines:
            watch._process(batch.lines, batch.size)
        watch._idle()
    assert out.getvalue() == b""
    assert watch.open_windows() == 1


def test_late_events_are_counted_as_in_run(tmp_path):
    # an event for the 14:00 window after one at 15:20 (watermark 15:15): late, in run and in watch
    events = [*session_events("s1", 60), push("s2", 4800), push("s1", 600)]
    expected, result = run_engine(tmp_path, events, allowed_lateness=LATENESS, workers=1)
    out = io.BytesIO()
    watch = Watch(
        compiled(push_pack()), ScriptedSource(encoded(events), batch=2, ends=True), [StdoutSink(out)]
    )
    watch.run()
    assert watch.report.counts[Reason.LATE_EVENT] == result.report.counts[Reason.LATE_EVENT] == 1
    assert [orjson.loads(line) for line in out.getvalue().splitlines()] == expected


def push_pack_with_threshold(tmp_path: Path, total_pushes: int):
    """The seed rule with another push-count threshold, from a copy of its files."""
    from okta_builders import PUSH_RULE_FILES

    from sigma.pipelines.okta.loader import load_rules

    for path in PUSH_RULE_FILES:
        text = path.read_text()
        if path.stem.endswith("mismatch"):
            assert "total_pushes > 1" in text
            text = text.replace("total_pushes > 1", f"total_pushes > {total_pushes}")
        (tmp_path / path.name).write_text(text)
    return load_rules([tmp_path / path.name for path in PUSH_RULE_FILES])


def test_the_state_of_a_changed_rule_is_discarded_with_a_warning(tmp_path):
    state_path = tmp_path / "state.db"
    events = encoded(session_events("s1", 60))
    first = Watch(
        compiled(push_pack()),
        ScriptedSource(events[:2]),
        [StdoutSink(io.BytesIO())],
        state=StateFile(state_path),
    )
    first.start()
    batch = first.source.poll(0)
    first._process(batch.lines, batch.size)
    first.position = batch.position
    first.checkpoint()
    first.state.close()
    assert first.open_windows() == 1

    warnings: list[str] = []
    same = Watch(
        compiled(push_pack()),
        ScriptedSource(events),
        [StdoutSink(io.BytesIO())],
        state=StateFile(state_path),
        warn=warnings.append,
    )
    same.start()
    assert same.open_windows() == 1 and not warnings
    same.state.close()

    rules_dir = tmp_path / "changed"
    rules_dir.mkdir()
    changed = Watch(
        compiled(push_pack_with_threshold(rules_dir, 2)),
        ScriptedSource(events),
        [StdoutSink(io.BytesIO())],
        state=StateFile(state_path),
        warn=warnings.append,
    )
    changed.start()
    assert changed.open_windows() == 0
    (warning,) = warnings
    assert "Okta Mismatch Between Source and Response for Verify Push Request" in warning
    assert "changed since the checkpoint" in warning
    assert changed.source.index == 2  # the position is kept: the rule starts again from the next events
    changed.state.close()


def test_alert_ids_are_deterministic_and_name_rule_window_and_group(tmp_path):
    events = [*session_events("s1", 60), *session_events("s2", 60)]
    first, _ = run_engine(tmp_path, events, allowed_lateness=LATENESS)
    again, _ = run_engine(tmp_path, list(reversed(events)))
    assert sorted(alert["alert_id"] for alert in first) == sorted(alert["alert_id"] for alert in again)
    assert len({alert["alert_id"] for alert in first}) == 2

    engine = Engine(push_pack(), EngineOptions())
    alerts = []
    engine.run(expand_sources([str(tmp_path / "events.jsonl")]), alerts.append)
    changed = copy.copy(alerts[0])
    changed.window_start_us += 3_600_000_000
    assert alert_id(changed) != alert_id(alerts[0])


def test_alerts_delivered_beyond_a_checkpoint_stay_known_across_later_checkpoints(
    tmp_path, generated, event_pack
):
    """A crash far beyond the last checkpoint; a restart that stops cleanly (a checkpoint) before the
    replay reaches where the crash was; a third run to the end: still each alert once."""
    expected = batch_alerts(event_pack, generated)
    lines, output, state_path = lines_of(generated), tmp_path / "alerts.ndjson", tmp_path / "state.db"
    clock = FakeClock()
    plans = [(40, None, 30.0), (None, 2, 3.0), (None, None, 3.0)]  # (crash after, stop after, interval)
    starts = []
    for crash_after, stop_after, interval in plans:
        state = StateFile(state_path)
        source = ScriptedSource(lines, batch=40, ends=True, crash_after=crash_after)
        watch = Watch(
            compiled(event_pack),
            source,
            [FileSink(output)],
            state=state,
            options=WatchOptions(checkpoint_interval=interval),
            clock=clock,
            status=starts.append,
        )
        original = source.poll

        def ticking(timeout, original=original, watch=watch, stop_after=stop_after, source=source):
            clock.now += 1.0
            if stop_after is not None and source.polls >= stop_after:
                watch.request_stop()
            return original(timeout)

        source.poll = ticking
        try:
            watch.run()
        except KeyboardInterrupt:
            assert crash_after is not None
        state.close()
    delivered = [orjson.loads(line) for line in output.read_bytes().splitlines()]
    assert by_id(delivered) == by_id(expected)
    assert "alerts delivered beyond the checkpoint" in starts[1] and "beyond the checkpoint" in starts[2]


def test_a_webhook_gets_each_alert_once_across_a_crash_and_a_failing_spell(tmp_path, generated, event_pack):
    """Confirmed ids are committed to the state one by one: a crash after some deliveries and a
    restart post none of them again; 503s in between are retried (sleep recorded, not waited)."""
    import http.server
    import threading

    from sigma.backends.okta.live.sinks import WebhookSink

    received: list[str] = []
    failures = [503, 503]

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = failures.pop(0) if failures and len(received) == 10 else 200
            if status == 200:
                received.append(orjson.loads(body)["alert_id"])
                assert self.headers["Idempotency-Key"] == received[-1]
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        expected = batch_alerts(event_pack, generated)
        sleeps: list[float] = []
        for crash_after in (30, None):
            state = StateFile(tmp_path / "state.db")
            sink = WebhookSink(
                f"http://127.0.0.1:{server.server_address[1]}/", tmp_path / "dead.ndjson", sleep=sleeps.append
            )
            source = ScriptedSource(lines_of(generated), batch=40, ends=True, crash_after=crash_after)
            watch = Watch(
                compiled(event_pack),
                source,
                [sink],
                state=state,
                options=WatchOptions(checkpoint_interval=1e9),
            )
            try:
                watch.run()
            except KeyboardInterrupt:
                assert crash_after is not None and received
            state.close()
    finally:
        server.shutdown()
        server.server_close()
    assert sorted(received) == sorted(alert["alert_id"] for alert in expected)
    assert sleeps == [0.5, 1.0]
    assert (tmp_path / "dead.ndjson").read_bytes() == b""


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "watch needs one source"),
        (["--follow", "x.jsonl", "--okta-org", "https://example.okta.com"], "watch needs one source"),
        (["--follow", "x.jsonl", "--webhook", "http://127.0.0.1:9/"], "--webhook needs --dead-letter"),
        (["--follow", "x.jsonl", "--webhook", "ftp://x/", "--dead-letter", "d"], "not an http"),
        (
            [
                "--follow",
                "x.jsonl",
                "--webhook",
                "http://x/",
                "--dead-letter",
                "d",
                "--webhook-header",
                "nocolon",
            ],
            "not 'Name: value'",
        ),
    ],
)
def test_the_command_line_refuses_what_cannot_work(arguments, message, capsys):
    from sigma.backends.okta.cli import main

    assert main(["watch", *arguments]) == 2
    assert message in capsys.readouterr().err


def test_a_line_the_source_drops_as_too_long_is_counted_as_in_run(tmp_path):
    from sigma.backends.okta.live.stdin_source import StdinSource

    events = encoded(session_events("s1", 60))
    long_line = b'{"eventType": "' + b"x" * 1500 + b'"}'
    data = b"\n".join([events[0], long_line, *events[1:]]) + b"\n"
    (tmp_path / "events.jsonl").write_bytes(data)
    expected, result = run_engine(tmp_path, paths=[str(tmp_path / "events.jsonl")], max_line_bytes=1000)
    out = io.BytesIO()
    source = StdinSource(io.BytesIO(data), read_bytes=64, max_line_bytes=1000)
    watch = Watch(compiled(push_pack(), max_line_bytes=1000), source, [StdoutSink(out)])
    watch.run()
    assert watch.report.counts[Reason.LINE_TOO_LONG] == result.report.counts[Reason.LINE_TOO_LONG] == 1
    assert expected and [orjson.loads(line) for line in out.getvalue().splitlines()] == expected
