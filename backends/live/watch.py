"""The watch loop: a live source's batches through the engine's Scan, alerts to sinks, checkpoints.

The rules are compiled once (:class:`~..engine.runner.CompiledRules`, the same object `run` uses) and
each batch's lines go through :meth:`Scan.chunk` as one chunk, so prefiltering, decoding, bad-input
counting, matching and correlation state are the batch engine's own. After each batch the windows that
the watermark has passed are emitted (``Scan.close_ripe_windows``).

Event time and the watermark: the watermark is the newest event time seen less ``--allowed-lateness``
(kept by the Scan, per event). With ``--idle-timeout``, once no newer event time has been seen for that
long in processing time, event time is taken to advance with the wall clock from the newest event:
watermark = newest event time + time elapsed since it arrived - lateness. So the last window of a quiet
day closes about ``lateness`` after its end, as it would had events kept coming; an event that arrives
later than that for a closed window is counted as ``late_event``, exactly as during traffic.

Exactly once: alerts are delivered synchronously as they are emitted; a checkpoint is taken between
batches, after every emitted alert was confirmed, and holds the open windows, the source position after
the batch and the watermark (checkpoint.py). A restart resumes there, replays the input after it and
regenerates the same alerts with the same ids (``alerts.alert_id``); the ids a sink holds beyond the
checkpoint (sinks.py: read from the output file, or recorded in the state) are not delivered again.
They stay remembered, across further checkpoints and crashes, until the replay has given them again.
"""

from __future__ import annotations

import os
import pickle
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from ..engine.alerts import Alert, CorrelationAlert, alert_id
from ..engine.input_report import EXCERPT_BYTES, InputReport, Reason
from ..engine.runner import CompiledRules, Scan
from ..engine.sources import Chunk, Source
from .checkpoint import PICKLE_PROTOCOL, Checkpoint, StateFile, WindowState, fingerprint, rule_key
from .sinks import Sink
from .source import LiveSource, Position


@dataclass
class WatchOptions:
    checkpoint_interval: float = 10.0  # seconds of processing time between checkpoints
    idle_timeout: float | None = None  # seconds without a newer event before event time follows the clock
    status_interval: float | None = None  # seconds between status lines (None: none)
    poll_timeout: float = 0.5  # the longest a poll waits: how soon a stop request is seen


@dataclass
class WatchResult:
    report: InputReport
    delivered: int = 0
    duplicates_skipped: int = 0
    checkpoints: int = 0
    alerts_by_rule: dict[str, int] = field(default_factory=dict)


class Watch:
    """One watch: ``rules`` over ``source`` into ``sinks``, checkpointed to ``state`` (optional)."""

    def __init__(
        self,
        rules: CompiledRules,
        source: LiveSource,
        sinks: list[Sink],
        *,
        state: StateFile | None = None,
        options: WatchOptions | None = None,
        warn: Callable[[str], None] = lambda message: print(f"warning: {message}", file=sys.stderr),
        status: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ):
        if rules.lateness_us is None:
            raise ValueError("watch needs an allowed lateness (EngineOptions.allowed_lateness)")
        self.rules = rules
        self.source = source
        self.sinks = sinks
        self.state = state
        self.options = options or WatchOptions()
        self.warn = warn
        self.status = status
        self.clock = clock
        self.wall_clock = wall_clock
        self.input = Source(source.name, None, False)  # how bad input names this source
        self.report = InputReport([self.input])
        self.scan = Scan(rules, self.report, self._deliver)
        self.result = WatchResult(self.report)
        self.position: Position | None = None
        self.offset = 0  # bytes of lines handed to the scan, for offence locations
        self.newest_event_us: int | None = None  # the newest event time seen (not moved by idling)
        self.newest_arrived = clock()
        self._last_max_time: int | None = None
        #: per sink, ids delivered (or found delivered) since the last checkpoint: none is delivered again
        self.recent: dict[str, set[str]] = {}
        #: per sink, ids delivered beyond the checkpoint by an earlier process, that the replay has not
        #: given again yet (id -> window end, None for a match alert); kept in every checkpoint until then
        self.ahead: dict[str, dict[str, int | None]] = {}
        self.stop_requested = False
        self.keys = [rule_key(plan.rule) for plan in rules.plans]
        extra = (rules.options.time_field, rules.options.id_field)
        self.fingerprints = [fingerprint(plan.rule, extra) for plan in rules.plans]
        self._status_events = 0
        self._status_at = clock()

    # --- starting ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Resume from the state (windows, position, watermark), open the sinks and the source."""
        saved = self.state.load() if self.state is not None else None
        if saved is not None:
            self._restore(saved)
        recorded = self.state.delivered() if self.state is not None else {}
        for sink in self.sinks:
            ledger = saved.ledgers.get(sink.name) if saved is not None else None
            self.ahead[sink.name] = {**recorded.get(sink.name, {}), **sink.open(ledger)}
            self.recent[sink.name] = set()
        self.source.open(self.position)
        resumed = f", resumed from {self.state.path}" if saved is not None else ""
        held = sum(map(len, self.ahead.values()))
        if held:  # a crash after they were delivered and before a checkpoint: not delivered again
            resumed += f" ({held:,} alerts delivered beyond the checkpoint)"
        self.status(
            f"watch: watching {self.source.name}{resumed}: {len(self.rules.base_rules)} rules, "
            f"{len(self.rules.plans)} correlations, alerts to {', '.join(sink.name for sink in self.sinks)}"
        )

    def _restore(self, saved: Checkpoint) -> None:
        if saved.source_name != self.source.name:
            from .checkpoint import StateError

            raise StateError(
                f"--state {self.state.path} was written reading {saved.source_name}, not {self.source.name}: "
                "give each watch its own --state"
            )
        self.position = saved.position
        scan = self.scan
        scan.max_time_us, scan.watermark_us = saved.max_time_us, saved.watermark_us
        self.newest_event_us = saved.newest_event_us
        self._last_max_time = scan.max_time_us
        for index, plan in enumerate(self.rules.plans):
            stored = saved.windows.pop(self.keys[index], None)
            if stored is None:
                continue
            if stored.fingerprint != self.fingerprints[index]:
                self.warn(
                    f"rule '{plan.rule.title}' changed since the checkpoint in {self.state.path}: the state "
                    "of its open windows is discarded (its alerts start again from the next events)"
                )
                continue
            try:
                scan.stores[index] = pickle.loads(stored.store)
            except Exception as error:  # a state this code cannot read: the rule starts afresh
                self.warn(f"rule '{plan.rule.title}': its saved windows cannot be read ({error}): discarded")
        for gone in saved.windows.values():
            self.warn(f"rule '{gone.title}' is no longer watched: its saved windows are dropped")
        self.report.events_decoded = saved.counters.get("events_decoded", 0)
        self.report.bytes_read = saved.counters.get("bytes_read", 0)
        self.offset = saved.counters.get("offset", 0)

    # --- the loop ---------------------------------------------------------------------------------

    def run(self) -> WatchResult:
        """Until the source ends (stdin) or :meth:`request_stop`; then a last checkpoint."""
        self.start()
        options = self.options
        last_checkpoint = self.clock()
        last_status = self.clock()
        self._last_max_time = self.scan.max_time_us
        dirty = False
        try:
            while not self.stop_requested:
                batch = self.source.poll(options.poll_timeout)
                if batch is None:  # the source ended (stdin): like `run`, every window is complete
                    for alert in self.scan.complete():
                        self._deliver(alert)
                    break
                for note in batch.notes:
                    self.status(f"watch: {self.source.name}: {note}")
                for offset, head in batch.too_long:  # dropped by the source: counted as `run` counts them
                    self.report.add(Reason.LINE_TOO_LONG, self.input, offset, head)
                if batch.lines:
                    self._process(batch.lines, batch.size)
                dirty = dirty or bool(batch.lines) or batch.position != self.position
                self.position = batch.position
                dirty = self._idle() or dirty
                now = self.clock()
                if self.state is not None and dirty and now - last_checkpoint >= options.checkpoint_interval:
                    self.checkpoint()
                    last_checkpoint, dirty = now, False
                if options.status_interval is not None and now - last_status >= options.status_interval:
                    self.status(self.status_line(now - last_status))
                    last_status = now
            # only after a clean stop: after an error some emitted alert may be unconfirmed, and the
            # last checkpoint (before it) is where a restart must replay from
            if self.state is not None:
                self.checkpoint()
        finally:
            for sink in self.sinks:
                sink.close()
            self.source.close()
        return self.result

    def request_stop(self) -> None:
        """Stop after the batch being processed (from a signal handler: only sets a flag)."""
        self.stop_requested = True

    def _process(self, lines: list[bytes], size: int) -> None:
        limit = self.rules.options.max_line_bytes
        if max(map(len, lines)) > limit:  # the sources bound their lines; a stray one is counted
            kept = []
            offset = self.offset
            for line in lines:
                if len(line) > limit:
                    self.report.add(Reason.LINE_TOO_LONG, self.input, offset, line[:EXCERPT_BYTES])
                else:
                    kept.append(line)
                offset += len(line) + 1
            lines = kept
        data = b"\n".join(lines) + b"\n"
        scan = self.scan
        scan.chunk(Chunk(data, self.offset), self.input)
        self.offset += len(data)
        self.report.bytes_read += size or len(data)
        self._status_events += len(lines)
        if scan.max_time_us != self._last_max_time:  # a newer event: event time moved by itself
            self.newest_event_us = self._last_max_time = scan.max_time_us
            self.newest_arrived = self.clock()
        scan.close_ripe_windows()

    def _idle(self) -> bool:
        """With an idle timeout, let event time follow the clock on a quiet stream (module docstring).
        True when the watermark moved."""
        idle = self.options.idle_timeout
        scan = self.scan
        if idle is None or self.newest_event_us is None:
            return False
        elapsed = self.clock() - self.newest_arrived
        if elapsed < idle:
            return False
        assumed = self.newest_event_us + int(elapsed * 1e6)
        if scan.max_time_us is not None and assumed <= scan.max_time_us:
            return False
        # as if an event of that time had arrived: the watermark never moves back, and events for the
        # windows it closes are late
        scan.max_time_us = self._last_max_time = assumed
        scan.watermark_us = assumed - self.rules.lateness_us
        scan.close_ripe_windows()
        return True

    # --- delivery ---------------------------------------------------------------------------------

    def _deliver(self, alert: Alert) -> None:
        if not getattr(alert, "condition", True):
            return
        identifier = alert_id(alert)
        payload = None
        for sink in self.sinks:
            recent = self.recent[sink.name]
            if identifier in recent:
                self.result.duplicates_skipped += 1
                continue
            recent.add(identifier)
            ahead = self.ahead[sink.name]
            if identifier in ahead:  # delivered before a crash: the replay has caught up with it
                del ahead[identifier]
                self.result.duplicates_skipped += 1
                continue
            if payload is None:
                payload = orjson.dumps(alert.to_dict())
            sink.deliver(identifier, payload)
            if sink.records_each and self.state is not None:
                window_end = alert.window_end_us if isinstance(alert, CorrelationAlert) else None
                self.state.record_delivered(sink.name, identifier, window_end)
        if payload is not None:
            self.result.delivered += 1
            by_rule = self.result.alerts_by_rule
            by_rule[alert.rule_title] = by_rule.get(alert.rule_title, 0) + 1

    # --- checkpoints and status -------------------------------------------------------------------

    def checkpoint(self) -> None:
        """Sync the sinks, then commit windows, position, watermark and ledgers in one transaction."""
        ledgers = {sink.name: sink.sync() for sink in self.sinks}
        windows = {
            self.keys[index]: WindowState(
                plan.rule.title,
                self.fingerprints[index],
                pickle.dumps(self.scan.stores[index], protocol=PICKLE_PROTOCOL),
            )
            for index, plan in enumerate(self.rules.plans)
        }
        watermark = self.scan.watermark_us
        if watermark is not None:  # a window that ended by the watermark is never given again
            for ahead in self.ahead.values():
                for identifier in [i for i, end in ahead.items() if end is not None and end <= watermark]:
                    del ahead[identifier]
        report = self.report
        self.state.save(
            Checkpoint(
                source_name=self.source.name,
                position=self.position,
                max_time_us=self.scan.max_time_us,
                watermark_us=self.scan.watermark_us,
                newest_event_us=self.newest_event_us,
                windows=windows,
                ledgers=ledgers,
                delivered={name: dict(ahead) for name, ahead in self.ahead.items() if ahead},
                counters={
                    "events_decoded": report.events_decoded,
                    "bytes_read": report.bytes_read,
                    "offset": self.offset,
                },
            )
        )
        for recent in self.recent.values():
            recent.clear()  # none of these can be given again (checkpoint.py)
        self.result.checkpoints += 1

    def open_windows(self) -> int:
        """Open (window, group) states: the sessions held in memory."""
        return sum(len(groups) for store in self.scan.stores for groups in store.values())

    def status_line(self, seconds: float) -> str:
        rate = self._status_events / seconds if seconds > 0 else 0.0
        self._status_events = 0
        lag = "-"
        if self.newest_event_us is not None:
            lag = f"{self.wall_clock() - self.newest_event_us / 1e6:,.1f}s"
        late = self.report.counts[Reason.LATE_EVENT]
        return (
            f"watch: {rate:,.0f} events/s, {self.report.events_decoded:,} decoded, "
            f"{self.open_windows():,} open windows, {self.result.delivered:,} alerts, {late:,} late, "
            f"RSS {rss_bytes() / 1e6:,.1f} MB, newest event {lag} behind the clock"
        )


def rss_bytes() -> int:
    """Resident memory now (Linux /proc), else the peak (getrusage)."""
    try:
        with open("/proc/self/statm", "rb") as stream:
            return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
