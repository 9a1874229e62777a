"""temporal_ordered, value_percentile, value_median and sliding windows: the engine and the generated
SQL on DuckDB and Spark report the same groups, with bit-equal percentiles; SPL, ES|QL and KQL refuse
them by name (backends/targets/aggregate_plan.py: RANKING_REFUSALS)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from correlation_types import START, correlation_pack, event
from okta_builders import differences, run_engine, write_events
from sql_engines import SQL_ENGINES

from sigma.backends.okta.targets.aggregate_plan import AggregateConversionError
from sigma.backends.okta.targets.catalog import make_backend, target_named
from sigma.backends.okta.targets.sql_execution import run_pack
from sigma.pipelines.okta.loader import load_rules
from sigma.pipelines.okta.standard import as_aggregate

STANDARD = Path(__file__).parent / "rules" / "standard_correlations.yml"

CORRELATIONS = {
    "ordered": """
title: Push then session
name: ordered
correlation:
  type: temporal_ordered
  rules: [push_denied, session_start]
  group-by: [actor.alternateId]
  timespan: 10m
""",
    "percentile": """
title: Step percentile
name: step_percentile
correlation:
  type: value_percentile
  rules: [push_denied]
  group-by: [actor.alternateId]
  timespan: 30m
  condition: {field: authenticationContext.authenticationStep, percentile: 37, gte: 4}
""",
    "median": """
title: Step median
name: step_median
correlation:
  type: value_median
  rules: [push_denied, session_start]
  group-by: [actor.alternateId]
  timespan: 20m
  condition: {field: authenticationContext.authenticationStep, gt: 3}
""",
    "count": """
title: Pushes
name: pushes
correlation:
  type: event_count
  rules: [push_denied]
  group-by: [actor.alternateId]
  timespan: 10m
  condition: {gte: 4}
""",
    "distinct": """
title: Steps
name: distinct_steps
correlation:
  type: value_count
  rules: [push_denied]
  group-by: [actor.alternateId]
  timespan: 15m
  condition: {field: authenticationContext.authenticationStep, gte: 3}
""",
    "temporal": """
title: Push and session
name: both
correlation:
  type: temporal
  rules: [push_denied, session_start]
  group-by: [actor.alternateId]
  timespan: 5m
""",
}
SLIDING_ONLY = {"count", "distinct", "temporal"}  # their tumbling form has tests of its own


def cases() -> list[tuple[str, str]]:
    found = []
    for name, text in CORRELATIONS.items():
        if name not in SLIDING_ONLY:
            found.append((name, text))
        found.append((f"{name}-sliding", text.replace("\ncorrelation:", "\nwindow: sliding\ncorrelation:")))
    return found


def random_events(seed: int, count: int = 300) -> list[dict]:
    """Users a-c over four hours, bursts on equal and near seconds, steps as numbers, text or missing."""
    rng = random.Random(seed)
    events = []
    for index in range(count):
        seconds = rng.randrange(0, 4 * 3600) if rng.random() < 0.5 else 1000 + rng.randrange(0, 40) * 15
        kind = START if rng.random() < 0.3 else "user.authentication.auth_via_mfa"
        step = rng.choice([None, rng.randrange(0, 9), rng.random() * 10, str(rng.randrange(0, 9)), "x"])
        events.append(event(index, seconds + rng.choice([0, 0, 0.5]), kind, rng.choice("abc"), step))
    return events


def both_ways(engine: str, pack, events: list[dict], folder: Path) -> tuple[list[dict], list[dict]]:
    path = write_events(folder / "events.jsonl", events)
    expected, _ = run_engine(folder, pack=pack, paths=[str(path)], every_group=True, workers=1)
    expected = [alert for alert in expected if "window" in alert]
    actual: list[dict] = []
    run_pack(engine, pack, [str(path)], lambda alert: actual.append(alert.to_dict()), every_group=True)
    return expected, [alert for alert in actual if "window" in alert]


@pytest.mark.parametrize("engine", SQL_ENGINES)
@pytest.mark.parametrize(("name", "correlation"), cases(), ids=[name for name, _ in cases()])
def test_engine_and_sql_agree(engine, name, correlation, tmp_path):
    pack = correlation_pack(tmp_path, correlation)
    expected, actual = both_ways(engine, pack, random_events(len(name)), tmp_path)
    assert any(alert.get("condition", True) for alert in expected), "the data must make the rule alert"
    assert differences(expected, actual) == []
    # percentiles to the last bit, not within the comparison's tolerance
    key = lambda alert: (alert["window"]["start"], tuple(alert["group"].values()))  # noqa: E731
    exact = {key(a): a["metrics"] for a in expected}
    assert {key(a): a["metrics"] for a in actual} == exact


@pytest.mark.parametrize("engine", SQL_ENGINES)
def test_the_standard_fixture_agrees(engine, tmp_path):
    pack = load_rules([STANDARD])
    expected, actual = both_ways(engine, pack, random_events(5, 400), tmp_path)
    titles = {alert["rule_title"] for alert in expected}
    assert {
        "Failed pushes then a session start for one user",
        "Many failed pushes per user in any ten minutes",
    } <= titles
    assert differences(expected, actual) == []


@pytest.mark.parametrize("target", ["splunk", "esql", "kusto"])
@pytest.mark.parametrize(
    ("name", "construct"),
    [
        ("std_temporal_ordered", "the order of the referenced rules (temporal_ordered)"),
        ("std_value_percentile", "a percentile (value_percentile, value_median)"),
        ("std_value_median", "a percentile (value_percentile, value_median)"),
        ("std_event_count_sliding", "a sliding window (`window: sliding`)"),
    ],
)
def test_other_targets_refuse_by_name(target, name, construct):
    pack = load_rules([STANDARD])
    rule = next(rule for rule in pack.standard_correlations if rule.name == name)
    backend = make_backend(target_named(target), [])
    with pytest.raises(AggregateConversionError) as raised:
        backend.convert_aggregate(as_aggregate(rule))
    assert raised.value.construct == construct
    assert str(raised.value).startswith(f"the {raised.value.target} target cannot express {construct}: ")
