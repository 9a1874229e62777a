"""pySigma-backend-sqlite's correlation test cases replayed against the engine.

Source: github.com/SigmaHQ/pySigma-backend-sqlite, tests/test_backend_sqlite.py at commit
665a33f868600db1a989df2e1e7ef17ff7cc478f (test_sqlite_correlation_event_count_basic, ..._with_groupby,
..._value_count, ..._temporal, ..._value_sum, ..._value_avg). Those tests hold rules and the SQL they
convert to, not events; here each rule is written again (our own YAML, their fields and thresholds),
the SQL they assert is run by Python's sqlite3 on a `logs` table, and the engine runs the rule on the
same events, on the threshold and one short of it.

Where the semantics match: sqlite's queries have no window (the whole table is one group) while the
engine's windows tumble, so every event lies inside one window of the rule's timespan; the temporal case
then tests the span as sqlite does. Not replayed: their temporal_ordered (it does not test the order)
and value_percentile (nearest rank over all events, not per group); see docs/aggregate-correlation.md.
"""

from __future__ import annotations

import sqlite3
import textwrap

import pytest
from okta_builders import run_engine

from sigma.pipelines.okta.loader import load_rules

BASE = """
title: Base Rule
name: base_rule
status: test
logsource: {category: test_category, product: test_product}
detection:
  sel:
    EventID: 1234
  condition: sel
"""
RULE_B = BASE.replace("Base Rule", "Rule B").replace("base_rule", "rule_b")

# (name, the correlation document, the SQL their test asserts, the metric column, events' varying field)
CASES = [
    (
        "event_count_basic",
        "correlation: {type: event_count, rules: base_rule, timespan: 5m, condition: {gte: 10}}",
        "SELECT *, COUNT(*) AS event_count FROM (SELECT * FROM logs WHERE EventID=1234) AS subquery "
        "HAVING event_count >= 10",
        "event_count",
        10,
    ),
    (
        "event_count_with_groupby",
        "correlation: {type: event_count, rules: base_rule, group-by: [SourceIP], timespan: 5m, "
        "condition: {gte: 5}}",
        "SELECT SourceIP, COUNT(*) AS event_count FROM (SELECT * FROM logs WHERE EventID=1234) AS subquery "
        "GROUP BY SourceIP HAVING event_count >= 5",
        "event_count",
        5,
    ),
    (
        "value_count",
        "correlation: {type: value_count, rules: base_rule, timespan: 5m, "
        "condition: {field: TargetUserName, gte: 3}}",
        "SELECT *, COUNT(DISTINCT TargetUserName) AS value_count FROM (SELECT * FROM logs WHERE EventID=1234) "
        "AS subquery HAVING value_count >= 3",
        "value_count",
        3,
    ),
    (
        "value_sum",
        "correlation: {type: value_sum, rules: base_rule, timespan: 1h, "
        "condition: {field: BytesSent, gte: 1000000}}",
        "SELECT *, SUM(BytesSent) AS value_sum FROM (SELECT * FROM logs WHERE EventID=1234) AS subquery "
        "HAVING value_sum >= 1000000",
        "value_sum",
        1000000,
    ),
    (
        "value_avg",
        "correlation: {type: value_avg, rules: base_rule, timespan: 1h, condition: {field: BytesSent, gte: 50000}}",
        "SELECT *, AVG(BytesSent) AS value_avg FROM (SELECT * FROM logs WHERE EventID=1234) AS subquery "
        "HAVING value_avg >= 50000",
        "value_avg",
        50000,
    ),
]


def events_for(name: str, threshold: int, on_threshold: bool) -> list[dict]:
    """Events inside one 5-minute window that meet the case's threshold exactly, or fall one short."""
    short = 0 if on_threshold else 1
    rows = []
    if name == "event_count_basic":
        rows = [{"SourceIP": "10.0.0.1"} for _ in range(threshold - short)]
    elif name == "event_count_with_groupby":
        rows = [{"SourceIP": "10.0.0.1"} for _ in range(threshold - short)] + [{"SourceIP": "10.0.0.2"}] * 2
    elif name == "value_count":
        users = [f"user{index}" for index in range(threshold - short)]
        rows = [{"TargetUserName": user} for user in users + users[:1]]
    elif name == "value_sum":
        rows = [{"BytesSent": 400000}, {"BytesSent": 400000}, {"BytesSent": 200000 - short}]
    elif name == "value_avg":
        rows = [{"BytesSent": 40000}, {"BytesSent": 60000 - 2 * short}, {"BytesSent": 50000}]
    rows.append({"EventID": 4321, "BytesSent": 10**9, "SourceIP": "10.0.0.1", "TargetUserName": "other"})
    return [
        {"EventID": 1234, **row, "uuid": f"e{index}", "published": f"2026-01-01T00:01:{index:02d}Z"}
        for index, row in enumerate(rows)
    ]


def sqlite_rows(sql: str, events: list[dict], metric: str) -> list[tuple]:
    database = sqlite3.connect(":memory:")
    database.execute(
        "CREATE TABLE logs (EventID INTEGER, SourceIP TEXT, TargetUserName TEXT, BytesSent INTEGER, "
        "timestamp TEXT, uuid TEXT)"
    )
    database.executemany(
        "INSERT INTO logs VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                e["EventID"],
                e.get("SourceIP"),
                e.get("TargetUserName"),
                e.get("BytesSent"),
                e["published"],
                e["uuid"],
            )
            for e in events
        ],
    )
    cursor = database.execute(sql)
    columns = [column[0] for column in cursor.description]
    found = []
    for row in cursor.fetchall():
        values = dict(zip(columns, row, strict=True))
        found.append((values.get("SourceIP") if "GROUP BY" in sql else None, float(values[metric])))
    return sorted(found)


@pytest.mark.parametrize("on_threshold", [True, False], ids=["on-threshold", "one-short"])
@pytest.mark.parametrize(
    ("name", "correlation", "sql", "metric", "threshold"), CASES, ids=[c[0] for c in CASES]
)
def test_the_engine_gives_sqlites_matches(tmp_path, name, correlation, sql, metric, threshold, on_threshold):
    path = tmp_path / "rules.yml"
    path.write_text(BASE + f"---\ntitle: {name}\nstatus: test\n{correlation}\n")
    events = events_for(name, threshold, on_threshold)
    alerts, _ = run_engine(tmp_path, events, pack=load_rules([path]), workers=1)
    found = sorted(
        (alert["group"].get("SourceIP"), float(alert["metrics"][metric]))
        for alert in alerts
        if "window" in alert
    )
    expected = sqlite_rows(sql, events, metric)
    assert found == expected
    assert bool(expected) is on_threshold


TEMPORAL = """
title: Temporal Correlation
status: test
correlation:
  type: temporal
  rules: [base_rule, rule_b]
  timespan: 5m
  group-by: [TargetUserName]
"""
TEMPORAL_SQL = (
    "SELECT TargetUserName, COUNT(DISTINCT sigma_rule_id) AS rule_count, MIN(timestamp) AS first_event, "
    "MAX(timestamp) AS last_event FROM (SELECT *, 'rule_a' AS sigma_rule_id FROM logs WHERE EventID=1234 "
    "UNION ALL SELECT *, 'rule_b' AS sigma_rule_id FROM logs WHERE EventID=1234) AS subquery "
    "GROUP BY TargetUserName HAVING rule_count >= 2 AND (julianday(last_event) - julianday(first_event)) "
    "* 86400 <= 300"
)


def test_temporal_gives_sqlites_matches(tmp_path):
    # their two rules share one detection, so one event matches both (sqlite's UNION ALL counts it for
    # both, the engine sets both rule bits); alice's events lie within 5 minutes and one window
    path = tmp_path / "rules.yml"
    path.write_text(
        BASE + "---\n" + RULE_B + "---\n" + textwrap.dedent(TEMPORAL).replace("rule_a", "base_rule")
    )
    events = [
        {"EventID": 1234, "TargetUserName": "alice", "uuid": "e0", "published": "2026-01-01T00:01:00Z"},
        {"EventID": 1234, "TargetUserName": "alice", "uuid": "e1", "published": "2026-01-01T00:03:00Z"},
        {"EventID": 4321, "TargetUserName": "bob", "uuid": "e2", "published": "2026-01-01T00:02:00Z"},
    ]
    alerts, _ = run_engine(tmp_path, events, pack=load_rules([path]), workers=1)
    found = sorted(alert["group"]["TargetUserName"] for alert in alerts if "window" in alert)
    database = sqlite3.connect(":memory:")
    database.execute("CREATE TABLE logs (EventID INTEGER, TargetUserName TEXT, timestamp TEXT)")
    database.executemany(
        "INSERT INTO logs VALUES (?, ?, ?)",
        [(e["EventID"], e["TargetUserName"], e["published"].replace("T", " ").rstrip("Z")) for e in events],
    )
    assert found == sorted(row[0] for row in database.execute(TEMPORAL_SQL)) == ["alice"]
