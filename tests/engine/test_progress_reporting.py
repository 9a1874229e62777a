"""The engine reports the bytes it has read while it reads, from one process or from every worker, and
the command line's progress bar draws them."""

from __future__ import annotations

import io

import pytest
from okta_builders import push, response, write_events

from sigma.backends.okta.cli.progress import ProgressBar, known_total
from sigma.backends.okta.engine.runner import Engine, EngineOptions
from sigma.backends.okta.engine.sources import expand_sources
from sigma.pipelines.okta.loader import load_bundled


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    sessions = [
        event
        for number in range(400)
        for event in (push(f"s{number}", 10), response(f"s{number}", 12, result="FAILURE"))
    ]
    return write_events(tmp_path_factory.mktemp("progress") / "events.jsonl", sessions)


@pytest.mark.parametrize("workers", [1, 2])
def test_the_engine_reports_every_byte_it_reads_in_order(events, workers):
    options = EngineOptions(workers=workers, parallel_min_bytes=1, chunk_size=16 << 10)
    seen: list[int] = []
    result = Engine(load_bundled(), options).run(
        expand_sources([str(events)]), lambda alert: None, seen.append
    )
    assert seen == sorted(seen) and len(seen) >= 2
    assert seen[-1] == result.report.bytes_read == events.stat().st_size


def test_the_bar_shows_the_share_the_rate_and_the_time_left_and_clears_its_line():
    now = [0.0]
    stream = io.StringIO()
    bar = ProgressBar(stream, total=4_000_000, delay=1.0, clock=lambda: now[0])
    bar(100)  # before the delay: nothing
    assert stream.getvalue() == ""
    now[0] = 2.0
    bar(1_000_000)
    assert (
        stream.getvalue()
        == "\r\x1b[K[######..................]  25%  1.0 MB of 4.0 MB  500.0 KB/s  0:06 left"
    )
    now[0] = 2.1
    bar(2_000_000)  # redrawn at most five times a second
    assert stream.getvalue().count("\r") == 1
    bar.close()
    assert stream.getvalue().endswith("\r\x1b[K")


def test_without_a_known_size_the_bar_counts_bytes(tmp_path):
    stream = io.StringIO()
    ticks = iter([0.0, 1.0])
    bar = ProgressBar(stream, total=None, delay=0.0, clock=lambda: next(ticks))
    bar(2_500_000_000)
    assert stream.getvalue() == "\r\x1b[Kreading: 2.5 GB  2.5 GB/s"
    (tmp_path / "a.jsonl.gz").write_bytes(b"")
    (tmp_path / "b.jsonl").write_bytes(b"{}\n")
    assert known_total(expand_sources([str(tmp_path / "b.jsonl")])) == 3
    assert known_total(expand_sources([str(tmp_path)])) is None  # gzip: its size is not what is read
    assert known_total(expand_sources(["-"])) is None
