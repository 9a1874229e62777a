"""The input layer of the SQL engines: a run's sources read as the Python engine reads them, staged as
one clean NDJSON file for DuckDB or Spark.

DuckDB's and Spark's JSON readers accept different inputs from the engine's and from each other: neither
reads a JSON array as events nor gunzips by magic bytes nor reads stdin, both drop bad lines in silence
(``ignore_errors``), and they disagree on byte-order marks, invalid UTF-8, duplicate keys and numbers
beyond the double range. So ``run --engine duckdb|spark`` does not point them at the user's files: the
engine's own reader (:class:`~.runner.Scan`, same options) reads every source, counts bad input by the
same reasons in the same :class:`~.input_report.InputReport`, and writes every event it keeps, decoded
and repaired exactly as the engine would use it, one per line. Matching, windows and conditions are then
all the SQL's: nothing of the rules is evaluated here beyond what the report needs (a missing or
unreadable time is counted, as by the engine, for events a rule matches). With ``--geoip`` the events
are located here (:mod:`.geoip`), as and where the engine locates them, so that the SQL reads the same
``client.geographicalContext`` as the engine's rules.

Events whose time cannot be read are not staged: they give no alert in any engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

import orjson

from sigma.pipelines.okta.loader import RulePack

from .input_report import EXCERPT_BYTES, InputReport, Reason
from .runner import CompiledRules, EngineOptions, Scan, objects_to_text, whole_event
from .sources import Source
from .timestamps import MISSING_TIME

_APPEND_NEWLINE = orjson.OPT_APPEND_NEWLINE


class StagingError(Exception):
    """An option the staged run cannot honour (the SQL engines evaluate whole batches)."""


class _StagingScan(Scan):
    """A :class:`Scan` that writes the events it keeps instead of evaluating rules on them."""

    def __init__(self, rules: CompiledRules, report: InputReport, output: BinaryIO):
        super().__init__(rules, report, lambda alert: None)
        self.output = output
        self.events_staged = 0

    def event(self, event: dict, whole: bool, source: Source, offset: int, raw: bytes | memoryview) -> None:
        rules = self.rules
        if not whole:
            # Decoded through the projection, as the engine does (so the report is the engine's); the
            # SQL gets the whole event, whose repairs in fields no rule reads the engine does not count.
            event = whole_event(raw)
            objects_to_text(event, rules.string_paths)
        elif rules.string_paths and objects_to_text(event, rules.string_paths):
            self.count_object_for_string(source, offset, raw)
        if rules.enricher is not None:
            # located (and counted) exactly where the engine locates it, so the SQL reads what it reads
            _, outcome = rules.matches(event)
            if outcome is not None:
                self.report.count_location(outcome)
        time_us = rules.time(event)
        if time_us <= MISSING_TIME:
            if any(predicate(event) for predicate in rules.predicates):
                reason = Reason.MISSING_TIMESTAMP if time_us == MISSING_TIME else Reason.BAD_TIMESTAMP
                self.report.add(reason, source, offset, bytes(raw[:EXCERPT_BYTES]))
            return
        if not rules.in_time_range(time_us):
            return
        self.output.write(orjson.dumps(event, option=_APPEND_NEWLINE))
        self.events_staged += 1


def stage_events(
    pack: RulePack,
    sources: Sequence[Source],
    path: Path,
    options: EngineOptions,
    progress: Callable[[int], None] | None = None,
) -> tuple[InputReport, int]:
    """Read ``sources`` as :class:`~.runner.Engine` would with ``options`` and write the events kept to
    the NDJSON file ``path``. Returns the input report (line numbers resolved) and the events staged.
    ``progress`` is called now and then with the bytes read so far.

    Raises :class:`StagingError` for ``allowed_lateness``: it decides which events count by their order
    in a stream, which a batch query over the staged file cannot reproduce.
    """
    if options.allowed_lateness is not None:
        raise StagingError("--allowed-lateness is a streaming option; the SQL engines read whole batches")
    rules = CompiledRules(pack, options)
    report = InputReport(sources)
    with open(path, "wb") as output:
        scan = _StagingScan(rules, report, output)
        scan.progress = progress
        for source in sources:
            scan.read(source)
    report.resolve_line_numbers()
    return report, scan.events_staged


__all__ = ["StagingError", "stage_events"]
