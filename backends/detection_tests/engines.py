"""Run a rule pack on a test's events with one engine, and collect what the expectations look at.

Every engine runs with ``every_group``: each correlation group is reported with its metrics whether its
condition holds or not, so that a test can check the numbers of a group that must stay silent. Base
rules named by event expectations are made to emit their matches for the run (on a freshly loaded
pack, so the user's pack is not changed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sigma.pipelines.okta.loader import RulePack

ENGINES = ("python", "duckdb", "spark")


class EngineUnavailable(Exception):
    """The engine cannot run here (e.g. pyspark or Java is missing)."""


@dataclass
class Outcome:
    """What one engine reported: every correlation group (``condition`` true or false) and every match
    of a base rule, as alert dicts (the JSON of ``sigma-okta run``)."""

    engine: str
    groups: list[dict[str, Any]] = field(default_factory=list)
    matches: list[dict[str, Any]] = field(default_factory=list)

    def alerts(self) -> list[dict[str, Any]]:
        """What ``sigma-okta run`` would print: matches of emitting rules and firing groups."""
        return [*self.matches, *(group for group in self.groups if group.get("condition", True))]


def run_engine(
    engine: str, pack: RulePack, events: Path, emitting: Iterable[Any] = (), geoip: Any = None
) -> Outcome:
    """Evaluate ``pack`` on the NDJSON file ``events`` with ``engine``. ``emitting``: base rules whose
    matches are wanted although a correlation consumes them (``generate: false``). ``geoip``: an open
    :class:`~..engine.geoip.GeoDatabase` locating the events that lack a location (``test --geoip``)."""
    forced = [rule for rule in emitting if not rule._output]
    for rule in forced:
        rule._output = True
    outcome = Outcome(engine)

    def collect(alert: Any) -> None:
        data = alert.to_dict()
        (outcome.groups if "window" in data else outcome.matches).append(data)

    try:
        if engine == "python":
            from ..engine.runner import Engine, EngineOptions
            from ..engine.sources import expand_sources

            Engine(pack, EngineOptions(every_group=True, workers=1, geoip=geoip)).run(
                expand_sources([str(events)]), collect
            )
        elif engine in ("duckdb", "spark"):
            from ..targets.sql_execution import SqlEngineError, run_pack

            try:
                if geoip is None:
                    run_pack(engine, pack, [str(events)], collect, every_group=True)
                else:  # located where `run --geoip` locates them: in the staging of the events
                    from ..engine.runner import EngineOptions
                    from ..engine.sources import expand_sources
                    from ..targets.sql_execution import run_sources

                    options = EngineOptions(every_group=True, workers=1, geoip=geoip)
                    run_sources(engine, pack, expand_sources([str(events)]), options, collect)
            except SqlEngineError as error:
                raise EngineUnavailable(str(error)) from error
            except ImportError as error:
                raise EngineUnavailable(f"the {engine} engine is not installed: {error}") from error
        else:
            raise ValueError(f"unknown engine '{engine}' (engines: {', '.join(ENGINES)})")
    finally:
        for rule in forced:
            rule._output = False
    return outcome
