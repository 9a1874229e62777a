"""The engine's speed-ups never change its answers: projection, prefilter, worker processes, input
order and allowed lateness all give the alerts of the plain sequential full-decode run, and that run
agrees with the generator's independent reference implementation of the rule."""

from __future__ import annotations

import json
import random

import pytest
from okta_builders import run_engine

from sigma.backends.okta.generator import GeneratorConfig, write_dataset

PLAIN = dict(projection=False, prefilter=False, workers=1)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dataset")
    config = GeneratorConfig(seed=5, sessions_per_label=4, escape_share=0.2)
    write_dataset(config, folder / "events.jsonl", folder / "truth.json")
    return folder


def groups(alerts):
    return sorted(json.dumps(alert, sort_keys=True) for alert in alerts)


def test_plain_run_matches_the_generators_reference(dataset):
    truth = json.loads((dataset / "truth.json").read_text())
    alerts, _ = run_engine(dataset, paths=[str(dataset / "events.jsonl")], every_group=True, **PLAIN)
    found = {
        (a["window"]["start"].replace(".000Z", "Z"), a["group"]["authenticationContext.externalSessionId"]): a
        for a in alerts
    }
    assert len(found) == len(truth["groups"])
    for expected in truth["groups"]:
        alert = found[(expected["window_start"], expected["group"])]
        for name in (
            "dc_ip",
            "total_pushes",
            "total_successes",
            "total_rejected",
            "suspect_device_from_source",
            "suspect_ip_from_source",
            "ratio",
        ):
            assert alert["metrics"][name] == expected[name], (expected, name)
        assert alert.get("condition", True) is expected["alert"]
    alerting = sorted([k[0], k[1]] for k, a in found.items() if a.get("condition", True))
    assert alerting == sorted(truth["expected_alerts"])


@pytest.mark.parametrize(
    "options",
    [
        dict(projection=True, prefilter=False, workers=1),
        dict(projection=False, prefilter=True, workers=1),
        dict(projection=True, prefilter=True, workers=1),
        dict(projection=True, prefilter=True, workers=2, parallel_min_bytes=1 << 16),
        dict(projection=True, prefilter=True, workers=3, parallel_min_bytes=1 << 16, chunk_size=1 << 16),
    ],
    ids=["projection", "prefilter", "both", "two-workers", "three-workers-small-chunks"],
)
def test_speed_ups_give_the_same_groups(dataset, options):
    events = [str(dataset / "events.jsonl")]
    plain, _ = run_engine(dataset, paths=events, every_group=True, **PLAIN)
    fast, _ = run_engine(dataset, paths=events, every_group=True, **options)
    assert groups(fast) == groups(plain)


def test_any_input_order_gives_the_same_alerts(dataset, tmp_path):
    lines = (dataset / "events.jsonl").read_bytes().splitlines(keepends=True)
    random.Random(3).shuffle(lines)
    (tmp_path / "shuffled.jsonl").write_bytes(b"".join(lines))
    ordered, _ = run_engine(dataset, paths=[str(dataset / "events.jsonl")])
    shuffled, _ = run_engine(tmp_path, paths=[str(tmp_path / "shuffled.jsonl")])
    assert shuffled == ordered  # same alerts, same order


def test_allowed_lateness_on_ordered_input_changes_nothing(dataset):
    events = [str(dataset / "events.jsonl")]
    everything, _ = run_engine(dataset, paths=events)
    streamed, result = run_engine(dataset, paths=events, allowed_lateness=60.0)
    assert streamed == everything
    assert result.report.counts["late_event"] == 0


def test_events_later_than_the_allowed_lateness_are_counted(tmp_path):
    from okta_builders import push, response

    # a window closes once events an hour and a minute newer arrive; the stragglers after that are late
    events = [push("s1", 10), push("s2", 4000), push("s3", 8000), response("s1", 20, result="FAILURE")]
    alerts, result = run_engine(tmp_path, events, allowed_lateness=60.0)
    assert alerts == []  # the denial that would have made s1 alert came after its window was emitted
    assert result.report.counts["late_event"] == 1
    assert result.report.first.reason == "late_event"
