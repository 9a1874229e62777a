"""Alerts to the risk stream (``plugin/risk_stream.py`` defines its rows), and the two-stage run.

The rows are built from alerts only, so every engine (Python, DuckDB, Spark) that gives the same alerts
gives the same risk stream, and its risk rules then run on that stream with the same engine.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from sigma.pipelines.okta.loader import RulePack
from sigma.pipelines.okta.risk_stream import techniques

from .alerts import Alert, CorrelationAlert
from .timestamps import format_time

# uuid5 namespace of risk rows: ids are the same in every engine and every run
_NAMESPACE = uuid.UUID("6f1c1c64-3f0c-4f5e-9a53-0d3b2c7b9e41")


class RiskStream:
    """Collects the risk rows of the alerts it sees (of rules with a ``risk``)."""

    def __init__(self, pack: RulePack):
        self._techniques = {
            _rule_key(str(rule.id) if rule.id else None, rule.title): techniques(rule.tags)
            for rule in [*pack.base_rules, *pack.correlations]
        }
        self.rows: list[dict[str, Any]] = []

    def watching(self, emit: Callable[[Alert], None]) -> Callable[[Alert], None]:
        def observe(alert: Alert) -> None:
            self.add(alert)
            emit(alert)

        return observe

    def add(self, alert: Alert) -> None:
        risk = alert.risk
        if risk is None or not getattr(alert, "condition", True):
            return
        if isinstance(alert, CorrelationAlert):
            time_us = alert.first_seen_us
            identity = f"{alert.window_start_us}|{orjson.dumps(alert.group, option=orjson.OPT_SORT_KEYS)}"
        else:
            time_us, identity = alert.time_us, f"event|{alert.event_id}"
        if time_us is None:
            return  # a match without a readable time has no place in a window
        key = _rule_key(alert.rule_id, alert.rule_title)
        ids = self._techniques.get(key) or [None]
        for value in risk.get("objects", []):
            if value is None:
                continue
            risk_object = str(value)
            event_id = str(uuid.uuid5(_NAMESPACE, f"{key}|{identity}|{risk_object}"))
            for index, technique in enumerate(ids):
                self.rows.append(
                    {
                        "published": format_time(time_us),
                        "uuid": str(uuid.uuid5(_NAMESPACE, f"{event_id}|{index}")),
                        "risk_event_id": event_id,
                        "annotation_index": index,
                        "risk_object": risk_object,
                        "risk_object_type": risk.get("object_type"),
                        "risk_score": risk.get("score"),
                        "mitre_technique_id": technique,
                        "rule_id": alert.rule_id,
                        "search_name": alert.rule_title,
                    }
                )

    def write(self, path: Path) -> None:
        """The rows as NDJSON, in time order (then by id, so the file is the same in every engine)."""
        with path.open("wb") as stream:
            for row in sorted(self.rows, key=lambda row: (row["published"], row["uuid"])):
                stream.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))


def run_in_stages(
    first: RulePack,
    risk_rules: RulePack | None,
    run: Callable[[RulePack, Any, Callable[[Alert], None]], Any],
    sources: Any,
    emit: Callable[[Alert], None],
    stream_sources: Callable[[list[str]], Any],
    risk_output: Path | None = None,
) -> Any:
    """Run a pack split by :func:`~sigma.pipelines.okta.risk_stream.split_stages` with ``run(pack,
    sources, emit)``: first the rules over Okta events, then the risk rules over the risk stream of
    their alerts (read back through ``stream_sources(paths)``); with risk rules only, ``sources`` are
    that stream. ``risk_output`` keeps the stream. Returns what the run over ``sources`` returned."""
    if risk_rules is not None and not len(first):
        return run(risk_rules, sources, emit)
    stream = RiskStream(first) if risk_rules is not None or risk_output is not None else None
    result = run(first, sources, emit if stream is None else stream.watching(emit))
    if stream is None:
        return result
    if risk_rules is None:
        stream.write(risk_output)
        return result
    with tempfile.TemporaryDirectory(prefix="sigma-okta-risk-") as folder:
        path = Path(folder, "risk.ndjson")
        stream.write(path)
        if risk_output is not None:
            shutil.copyfile(path, risk_output)  # written once, sorted once
        run(risk_rules, stream_sources([str(path)]), emit)
    return result


def _rule_key(rule_id: str | None, title: str) -> str:
    return rule_id or f"title:{title}"


__all__ = ["RiskStream", "run_in_stages"]
