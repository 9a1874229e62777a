"""Alerts shipped from worker processes (alerts.ship/unship) are the alerts themselves: the same JSON
line, the same fields and class for everything that reads them; and the collector is restored after a
run pauses it."""

from __future__ import annotations

import gc
import io

import orjson
import pytest
from okta_builders import push, response, run_engine

from sigma.backends.okta.engine.alerts import (
    CorrelationAlert,
    JsonLinesSink,
    MatchAlert,
    TextSink,
    ship,
    unship,
)
from sigma.backends.okta.engine.parallel import collector_paused


def _correlation(**changes) -> CorrelationAlert:
    fields = dict(
        rule_id="r1",
        rule_title="Push mismatch",
        level="high",
        group={"authenticationContext.externalSessionId": "s1"},
        window_start_us=1_773_100_800_000_000,
        window_end_us=1_773_104_400_000_000,
        first_seen_us=1_773_101_567_161_000,
        metrics={"dc_ip": 2, "ratio": 0.5, "missing": None, "flag": True},
        fields={"user": ["ann@example.com"]},
        event_ids=["e1", "e2"],
        risk={"object": "user", "objects": ["ann@example.com"], "score": 50},
        order=(1_773_100_800_000_000, 0, ("s1",)),
        condition=False,
    )
    return CorrelationAlert(**{**fields, **changes})


def _match() -> MatchAlert:
    return MatchAlert(
        "r2", "Token created", "low", 10, "e9", {"actor.alternateId": "x"}, {"uuid": "e9", "n": 1.5}
    )


@pytest.mark.parametrize("make", [_correlation, _match])
def test_a_shipped_alert_reads_as_the_alert(make):
    alert = make()
    shipped = unship(ship(alert))
    assert isinstance(shipped, type(alert))
    assert shipped.json_line == orjson.dumps(alert.to_dict())
    assert shipped.to_dict() == alert.to_dict()
    for name in alert.__dataclass_fields__:
        if name != "order":
            assert getattr(shipped, name) == getattr(alert, name), name
    assert getattr(shipped, "condition", True) == getattr(alert, "condition", True)


def test_the_sinks_write_a_shipped_alert_as_the_alert():
    for sink_class in (JsonLinesSink, TextSink):
        outputs = []
        for alert in (_correlation(), unship(ship(_correlation()))):
            stream = io.BytesIO()
            sink = sink_class(stream)
            sink.write(alert)
            sink.close()
            outputs.append(stream.getvalue())
        assert outputs[0] == outputs[1]


def test_the_attributes_every_alert_is_asked_for_need_no_decoding():
    shipped = unship(ship(_correlation()))
    assert (shipped.rule_title, shipped.condition, shipped.risk["score"]) == ("Push mismatch", False, 50)
    assert "_fields" in shipped.__dict__  # not decoded yet
    assert shipped.window_start_us == _correlation().window_start_us
    assert "_fields" not in shipped.__dict__
    with pytest.raises(AttributeError):
        shipped.no_such_field  # noqa: B018


def test_an_alert_orjson_cannot_serialise_travels_as_it_is():
    alert = _correlation(metrics={"sum": 2**70})
    assert ship(alert) is alert and unship(alert) is alert


def test_parallel_runs_give_the_alerts_of_a_sequential_run(tmp_path):
    events = []
    for index in range(300):
        session = f"s{index % 40}"
        events += [push(session, index * 20.0), response(session, index * 20.0 + 3, result="REJECTED")]
    sequential, _ = run_engine(tmp_path, events, every_group=True, workers=1)
    parallel, _ = run_engine(tmp_path, events, every_group=True, workers=2, parallel_min_bytes=1 << 12)
    assert sequential and parallel == sequential  # same alerts, same order


def test_the_collector_is_restored_after_it_was_paused():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled() and gc.get_freeze_count() > 0
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # a collector that was off stays off
    finally:
        gc.enable()
