"""Run a rule pack as generated SQL on DuckDB or Apache Spark: ``sigma-okta run --engine duckdb|spark``.

The queries are exactly what ``sigma-okta convert -t duckdb|spark`` prints; this module only executes
them and turns their rows into the alerts the Python engine writes, so the three engines can be
compared alert for alert (and the same rule pointed at a Spark cluster for data that outgrows one
machine).

:func:`run_pack` points the SQL at NDJSON files as they are (what a cluster job does);
:func:`run_sources` first reads any input through the engine's input layer, so all three engines see
the same events and report the same bad input (``sigma-okta run --engine``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sigma.pipelines.okta.loader import RulePack
from sigma.pipelines.okta.model import AggregateCorrelationRule, MetricKind
from sigma.pipelines.okta.standard import as_aggregate

from ..engine.alerts import Alert, CorrelationAlert, MatchAlert, risk_record
from ..engine.input_report import InputReport
from ..engine.runner import EngineOptions
from ..engine.sources import Source
from ..engine.staging import StagingError, stage_events
from .sql import OktaDuckDBBackend, OktaSparkBackend, OktaSqlBackend

ENGINES = ("duckdb", "spark")


class SqlEngineError(Exception):
    """The SQL engine cannot run this input or option, or is not installed."""


def run_pack(
    engine: str,
    pack: RulePack,
    paths: Sequence[str],
    emit: Callable[[Alert], None],
    *,
    every_group: bool = False,
) -> int:
    """Evaluate ``pack`` on the NDJSON files ``paths`` with ``engine``; emits the alerts in the engine's
    order (rule matches first, then correlation alerts by window, rule and group). Returns the count."""
    if any(path == "-" for path in paths):
        raise SqlEngineError(f"the {engine} engine reads files, not standard input")
    executor = _DuckDB() if engine == "duckdb" else _Spark()
    backend = _backend(engine, paths)
    count = 0
    for rule in pack.base_rules:
        if rule._output:
            for row in executor.query(backend.match_statements(rule)):
                emit(_match_alert(rule, row))
                count += 1
    correlations = [*pack.aggregates, *(as_aggregate(rule) for rule in pack.standard_correlations)]
    alerts: list[CorrelationAlert] = []
    for order, rule in enumerate(correlations):
        statements = backend.aggregate_statements(rule, every_group=every_group, timestamps=False)
        alerts.extend(_correlation_alert(rule, order, row) for row in executor.query(statements))
    alerts.sort(key=lambda alert: (alert.window_start_us, alert.order[1:]))
    for alert in alerts:
        emit(alert)
    return count + len(alerts)


def run_sources(
    engine: str,
    pack: RulePack,
    sources: Sequence[Source],
    options: EngineOptions,
    emit: Callable[[Alert], None],
    progress: Callable[[int], None] | None = None,
) -> tuple[InputReport, int]:
    """Evaluate ``pack`` with ``engine`` on any input the Python engine reads (NDJSON, .gz, JSON arrays
    and documents, folders, stdin): the engine's input layer stages the events it keeps as one clean
    NDJSON file (:mod:`~sigma.backends.okta.engine.staging`), and the SQL runs on that. Returns the input
    report, the same as the Python engine's with ``options``, and the number of events staged.
    ``progress`` follows the staging (bytes read so far), not the SQL.

    Raises :class:`SqlEngineError` for an option the SQL cannot honour (another time field, a lateness).
    """
    if options.time_field != "published":
        raise SqlEngineError(
            f"--time-field {options.time_field}: the generated SQL reads the time from 'published' "
            "(the System Log's field); use the python engine for another field"
        )
    with tempfile.TemporaryDirectory(prefix="sigma-okta-") as folder:
        staged = Path(folder, "events.ndjson")
        try:
            report, events_staged = stage_events(pack, sources, staged, options, progress)
        except StagingError as error:
            raise SqlEngineError(str(error)) from error
        run_pack(engine, pack, [str(staged)], emit, every_group=options.every_group)
    return report, events_staged


def _backend(engine: str, paths: Sequence[str]) -> OktaSqlBackend:
    if engine == "duckdb":
        return OktaDuckDBBackend(events_path=list(paths))
    if len(paths) != 1:
        raise SqlEngineError("the spark engine reads one path: a file, a folder or a glob pattern")
    return OktaSparkBackend(events_path=paths[0])


def _correlation_alert(rule: AggregateCorrelationRule, order: int, row: dict[str, Any]) -> CorrelationAlert:
    metrics: dict[str, Any] = {}
    for metric in rule.metrics:
        value = row[metric.name]
        if metric.kind in (MetricKind.FIRST_SEEN, MetricKind.LAST_SEEN) and value is not None:
            value = _iso(value)
        elif metric.kind in (MetricKind.COUNT, MetricKind.DISTINCT) and value is not None:
            value = int(value)
        metrics[metric.name] = value
    for derived in rule.derived:
        metrics[derived.name] = row[derived.name]
    group = {name: row[name] for name in rule.group_by}
    fields = {output.name: list(row[output.name] or []) for output in rule.outputs}
    alert = CorrelationAlert(
        rule_id=str(rule.id) if rule.id else None,
        rule_title=rule.title,
        level=str(rule.level) if rule.level else None,
        group=group,
        window_start_us=int(row["window_start"]),
        window_end_us=int(row["window_end"]),
        first_seen_us=int(row["first_seen"]),
        metrics=metrics,
        fields=fields,
        event_ids=list(row["event_ids"] or []),
        order=(int(row["window_start"]), order, tuple(group.values())),
        condition=bool(row["condition"]),
    )
    risk = rule.custom_attributes.get("risk")
    if isinstance(risk, dict):
        alert.risk = risk_record(risk, fields, group)
    return alert


def _match_alert(rule: Any, row: dict[str, Any]) -> MatchAlert:
    # a member of a list of objects without any value is a list column holding [], absent in the engine
    fields = {name: row[name] for name in rule.fields if row.get(name) not in (None, [])}
    risk = rule.custom_attributes.get("risk")
    return MatchAlert(
        rule_id=str(rule.id) if rule.id else None,
        rule_title=rule.title,
        level=str(rule.level) if rule.level else None,
        time_us=row.get("event_us"),
        event_id=row.get("uuid"),
        fields=fields,
        event={name: value for name, value in row.items() if name != "event_us" and value is not None},
        risk=risk_record(risk, fields) if isinstance(risk, dict) else None,
    )


def _iso(microseconds: int) -> str:
    from ..engine.timestamps import format_time

    return format_time(int(microseconds))


class _DuckDB:
    def __init__(self) -> None:
        import duckdb

        self.connection = duckdb.connect()
        self.connection.execute("SET TimeZone = 'UTC'")  # naive timestamps are UTC, as in the engine

    def query(self, statements: list[str]) -> list[dict[str, Any]]:
        for statement in statements[:-1]:
            self.connection.execute(statement)
        cursor = self.connection.execute(statements[-1])
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class _Spark:
    """A local Spark session (``local[*]``), or the one ``SPARK_REMOTE``/``PYSPARK`` settings point to."""

    _session: Any = None

    def __init__(self) -> None:
        try:
            from pyspark.sql import SparkSession
        except ImportError as error:
            raise SqlEngineError("the spark engine needs pyspark: pip install 'sigma-okta[spark]'") from error
        if _Spark._session is None:
            os.environ.setdefault("PYSPARK_PYTHON", "python3")
            _Spark._session = (
                SparkSession.builder.master(os.environ.get("SIGMA_OKTA_SPARK_MASTER", "local[*]"))
                .appName("sigma-okta")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .getOrCreate()
            )
            _Spark._session.sparkContext.setLogLevel("ERROR")
        self.session = _Spark._session

    def query(self, statements: list[str]) -> list[dict[str, Any]]:
        for statement in statements[:-1]:
            self.session.sql(statement)
        return [row.asDict(recursive=True) for row in self.session.sql(statements[-1]).collect()]
