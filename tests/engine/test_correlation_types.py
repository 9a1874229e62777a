"""temporal_ordered, value_percentile, value_median and sliding windows in the engine: hand-built
sessions exactly on every threshold (docs/semantics.md defines each), and the same alerts with worker
processes, in any input order and streamed with an allowed lateness."""

from __future__ import annotations

import random

import pytest
from correlation_types import START, correlation_pack, event
from okta_builders import run_engine
from sigma.exceptions import SigmaError

from sigma.backends.okta.engine.accumulators import InOrder, Percentile
from sigma.pipelines.okta.semantics import interpolated_percentile
from sigma.pipelines.okta.standard import UnsupportedCorrelationError, as_aggregate

ORDERED = """
title: Push then session
name: ordered
correlation:
  type: temporal_ordered
  rules: [push_denied, session_start]
  group-by: [actor.alternateId]
  timespan: 10m
"""


def alerts_of(tmp_path, correlation: str, events: list[dict], **options) -> list[dict]:
    pack = correlation_pack(tmp_path, correlation)
    found, _ = run_engine(tmp_path, events, pack=pack, workers=1, **options)
    return [alert for alert in found if "window" in alert]


# --- temporal_ordered ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ([(10, "push"), (20, "start")], 2),  # in order
        ([(20, "start"), (10, "push")], 2),  # input order does not matter, event time does
        ([(10, "start"), (20, "push")], 1),  # reversed: only the first rule
        ([(10, "push"), (10, "start")], 1),  # equal times are not an order
        ([(10, "start"), (20, "push"), (30, "start")], 2),  # a later session start completes it
        ([(30, "push"), (20, "start"), (40, "start")], 2),  # the earliest start after the push
        ([(20, "start")], 0),
    ],
)
def test_rules_in_order_is_the_greedy_earliest_first_match(tmp_path, times, expected):
    events = [
        event(index, seconds, START if kind == "start" else "user.authentication.auth_via_mfa")
        for index, (seconds, kind) in enumerate(times)
    ]
    found = alerts_of(tmp_path, ORDERED, events, every_group=True)
    assert [alert["metrics"]["rules_in_order"] for alert in found] == [expected]
    assert [alert.get("condition", True) for alert in found] == [expected == 2]


def test_temporal_ordered_reads_the_tumbling_window(tmp_path):
    # a push at 9:59 and a start at 10:01 fall in two windows of 10 minutes: no alert (tumbling)
    events = [event(0, 599), event(1, 601, START)]
    assert alerts_of(tmp_path, ORDERED, events) == []
    sliding = ORDERED.replace("name: ordered", "name: ordered\nwindow: sliding")
    found = alerts_of(tmp_path, sliding, events)
    assert [(a["metrics"]["rules_in_order"], a["event_ids"]) for a in found] == [(2, ["e0", "e1"])]


def test_in_order_state_merges_exactly_in_any_split():
    rng = random.Random(7)
    for _ in range(200):
        events = [(rng.randrange(1, 4), rng.randrange(0, 30)) for _ in range(rng.randrange(0, 12))]
        whole = InOrder(2)
        for mask, time_us in events:
            whole.add(mask, time_us)
        cut = rng.randrange(0, len(events) + 1)
        left, right = InOrder(2), InOrder(2)
        for mask, time_us in events[:cut]:
            left.add(mask, time_us)
        for mask, time_us in events[cut:]:
            right.add(mask, time_us)
        right.merge(left)
        # the brute force: some event of rule 0 strictly before some event of rule 1
        first = [t for m, t in events if m & 1]
        second = [t for m, t in events if m & 2]
        brute = 2 if any(a < b for a in first for b in second) else (1 if first else 0)
        assert right.result() == whole.result() == brute


def test_temporal_ordered_asking_for_fewer_than_all_rules_is_refused(tmp_path):
    pack = correlation_pack(tmp_path, ORDERED + "  condition: {gte: 1}\n")
    with pytest.raises(UnsupportedCorrelationError, match="temporal_ordered"):
        as_aggregate(pack.standard_correlations[0])


# --- value_percentile and value_median -----------------------------------------------------------------

PERCENTILE = """
title: Step percentile
name: step_percentile
correlation:
  type: value_percentile
  rules: [push_denied]
  group-by: [actor.alternateId]
  timespan: 1h
  condition: {field: authenticationContext.authenticationStep, percentile: 75, gte: 8}
"""
MEDIAN = """
title: Step median
name: step_median
correlation:
  type: value_median
  rules: [push_denied]
  group-by: [actor.alternateId]
  timespan: 1h
  condition: {field: authenticationContext.authenticationStep, gt: 2}
"""


@pytest.mark.parametrize(
    ("numbers", "percentile", "expected"),
    [
        ([], 50, None),
        ([4], 90, 4.0),
        ([1, 2, 3, 4], 50, 2.5),
        ([10, 1, 4, 3], 75, 5.5),  # h = 3 * 0.75 = 2.25 between 4 and 10
        ([1, 2, 3, 4, 5], 50, 3.0),
        ([1, 2, 3, 4, 5], 0, 1.0),
        ([1, 2, 3, 4, 5], 100, 5.0),
    ],
)
def test_interpolated_percentile(numbers, percentile, expected):
    assert interpolated_percentile([float(n) for n in numbers], percentile) == expected


@pytest.mark.parametrize(
    ("steps", "alerts"),
    [
        ([1, 4, 10, 3], False),  # h = 3 * 0.75 = 2.25 over 1, 3, 4, 10: 4 + 0.25 * 6 = 5.5
        ([1, 2, 9, 10], True),  # 9 + 0.25 * 1 = 9.25
        ([0, 0, 7, 11], True),  # 7 + 0.25 * 4 = 8: exactly on the threshold
        ([0, 0, 7, 10.9], False),  # 7.975
        (["8.5", "x", True], True),  # numbers as text count, other values do not: 8.5 alone
    ],
)
def test_value_percentile_on_its_threshold(tmp_path, steps, alerts):
    events = [event(index, index * 10, step=step) for index, step in enumerate(steps)]
    found = alerts_of(tmp_path, PERCENTILE, events, every_group=True)
    numbers = sorted(float(s) for s in steps if not isinstance(s, bool) and s != "x")
    assert [a["metrics"]["value_percentile"] for a in found] == [interpolated_percentile(numbers, 75)]
    assert found[0].get("condition", True) is alerts


@pytest.mark.parametrize(
    ("steps", "median", "alerts"),
    [([1, 2, 2, 4], 2.0, False), ([1, 2, 3, 5], 2.5, True), ([1, 2, 2, 2, 5], 2.0, False), ([3], 3.0, True)],
)
def test_value_median_is_the_50th_percentile(tmp_path, steps, median, alerts):
    events = [event(index, index * 10, step=step) for index, step in enumerate(steps)]
    found = alerts_of(tmp_path, MEDIAN, events, every_group=True)
    assert [(a["metrics"]["value_median"], a.get("condition", True)) for a in found] == [(median, alerts)]


def test_percentile_state_merges_exactly():
    rng = random.Random(3)
    for _ in range(100):
        values = [rng.choice([rng.random() * 100, rng.randrange(-5, 5), "3.5", None]) for _ in range(9)]
        whole, left, right = Percentile(37), Percentile(37), Percentile(37)
        for value in values:
            whole.add(value, 0)
        for value in values[:4]:
            left.add(value, 0)
        for value in values[4:]:
            right.add(value, 0)
        left.merge(right)
        assert left.result() == whole.result()


def test_value_percentile_without_its_rank_is_refused(tmp_path):
    pack = correlation_pack(tmp_path, PERCENTILE.replace("percentile: 75, ", ""))
    with pytest.raises(UnsupportedCorrelationError, match="percentile: P"):
        as_aggregate(pack.standard_correlations[0])


# --- sliding windows -----------------------------------------------------------------------------------

SLIDING = """
title: Three failed pushes in any ten minutes
name: sliding_count
window: sliding
correlation:
  type: event_count
  rules: [push_denied]
  group-by: [actor.alternateId]
  timespan: 10m
  condition: {gte: 3}
"""


def points(found: list[dict]) -> list[tuple[str, list[str]]]:
    return [(alert["window"]["end"], alert["event_ids"]) for alert in found]


def test_a_sliding_window_sees_events_across_a_tumbling_boundary(tmp_path):
    events = [event(0, 590), event(1, 595), event(2, 605)]
    tumbling = SLIDING.replace("window: sliding", "window: tumbling")
    assert alerts_of(tmp_path, tumbling, events) == []
    found = alerts_of(tmp_path, SLIDING, events)
    assert points(found) == [("2026-01-01T00:10:05.000001Z", ["e0", "e1", "e2"])]
    assert found[0]["window"]["start"] == "2026-01-01T00:00:05.000001Z"


def test_the_frame_is_shorter_than_the_timespan(tmp_path):
    # (p - 10m, p]: an event exactly ten minutes before the point is outside
    assert alerts_of(tmp_path, SLIDING, [event(0, 0), event(1, 300), event(2, 600)]) == []
    found = alerts_of(tmp_path, SLIDING, [event(0, 0.000001), event(1, 300), event(2, 600)])
    assert points(found) == [("2026-01-01T00:10:00.000001Z", ["e0", "e1", "e2"])]


def test_one_alert_per_run_of_overlapping_satisfied_spans(tmp_path):
    # a burst of six keeps the condition true at every point: one alert, at the third event; the
    # condition fails at 1300 (one event in its frame), so the burst at 1300-1302 alerts again
    burst = [event(index, 100 + index) for index in range(6)]
    later = [event(10 + index, 1300 + index) for index in range(3)]
    found = alerts_of(tmp_path, SLIDING, burst + later)
    assert points(found) == [
        ("2026-01-01T00:01:42.000001Z", ["e0", "e1", "e2"]),
        ("2026-01-01T00:21:42.000001Z", ["e10", "e11", "e12"]),
    ]


def test_satisfied_spans_that_do_not_overlap_are_two_runs(tmp_path):
    # event_count >= 1 holds at every point; a point 10 minutes or more after the previous one starts a
    # run (599 s after: the frames overlap, the run goes on; exactly 600 s after: a new run)
    single = SLIDING.replace("gte: 3", "gte: 1")
    found = alerts_of(tmp_path, single, [event(0, 0), event(1, 599), event(2, 1199), event(3, 1799)])
    assert [alert["event_ids"] for alert in found] == [["e0"], ["e2"], ["e3"]]


def test_equal_times_are_one_point(tmp_path):
    found = alerts_of(tmp_path, SLIDING, [event(0, 50), event(1, 50), event(2, 50)])
    assert points(found) == [("2026-01-01T00:00:50.000001Z", ["e0", "e1", "e2"])]


def sliding_events(seed: int) -> list[dict]:
    rng = random.Random(seed)
    events = []
    for index in range(400):
        kind = START if rng.random() < 0.3 else "user.authentication.auth_via_mfa"
        events.append(event(index, rng.randrange(0, 4 * 3600), kind, rng.choice("abc"), rng.randrange(0, 9)))
    return events


ALL_SLIDING = [
    SLIDING,
    ORDERED.replace("name: ordered", "name: ordered\nwindow: sliding"),
    MEDIAN.replace("name: step_median", "name: step_median\nwindow: sliding"),
]


@pytest.mark.parametrize("correlation", ALL_SLIDING)
def test_workers_input_order_and_lateness_give_the_same_alerts(tmp_path, correlation):
    events = sliding_events(11)
    plain = alerts_of(tmp_path, correlation, sorted(events, key=lambda e: e["published"]))
    assert plain, "the data set must make the rule alert"
    assert alerts_of(tmp_path, correlation, events) == plain
    pack = correlation_pack(tmp_path, correlation)
    parallel, _ = run_engine(tmp_path, events, pack=pack, workers=2, chunk_size=4096)
    assert [a for a in parallel if "window" in a] == plain
    ordered = sorted(events, key=lambda e: e["published"])
    streamed = alerts_of(tmp_path, correlation, ordered, allowed_lateness=0)
    assert sorted(map(str, streamed)) == sorted(map(str, plain))


def test_a_window_that_is_not_one_is_refused(tmp_path):
    pack = correlation_pack(tmp_path, SLIDING.replace("window: sliding", "window: hopping"))
    with pytest.raises(UnsupportedCorrelationError, match="`window: hopping` is not a window"):
        as_aggregate(pack.standard_correlations[0])


def test_an_aggregate_correlation_refuses_a_sliding_window(tmp_path):
    # never a silently tumbling rule: the `aggregate` extension keeps tumbling windows
    aggregate = """
title: Pushes per user
name: agg_pushes
window: sliding
correlation:
  type: aggregate
  rules: [push_denied]
  group-by: [actor.alternateId]
  timespan: 1h
  metrics:
    pushes: {type: count}
  condition: pushes > 1
"""
    with pytest.raises(SigmaError, match="tumbling windows only"):
        correlation_pack(tmp_path, aggregate)
