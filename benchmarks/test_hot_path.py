"""pytest-benchmark guards of the engine's aggregation hot path (``make bench``).

Each benchmark times one stage on in-memory data made by the generator, so that a regression in one
stage shows as such: the prefilter on a realistic chunk, decode-match-aggregate on push events, and
window evaluation. End-to-end comparisons with DuckDB are in ``engine_vs_duckdb.py``.
"""

from __future__ import annotations

import itertools

import orjson
import pytest

from sigma.backends.okta.engine.input_report import InputReport
from sigma.backends.okta.engine.runner import Engine, EngineOptions, Scan
from sigma.backends.okta.engine.sources import Chunk, Source
from sigma.backends.okta.generator import GeneratorConfig, iter_events
from sigma.pipelines.okta.loader import load_bundled

CHUNK_BYTES = 8 << 20
SOURCE = Source("benchmark", None, False)


def _chunk(config: GeneratorConfig) -> bytes:
    lines = []
    size = 0
    for event in iter_events(config):
        line = orjson.dumps(event) + b"\n"
        lines.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            break
    return b"".join(lines)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_bundled(), EngineOptions(workers=1))


@pytest.fixture(scope="module")
def mix_chunk() -> bytes:
    return _chunk(GeneratorConfig(seed=21, target_bytes=CHUNK_BYTES * 2))


@pytest.fixture(scope="module")
def push_chunk() -> bytes:
    return _chunk(GeneratorConfig(seed=22, target_bytes=CHUNK_BYTES * 2, only_push=True))


def _scan(engine: Engine) -> Scan:
    return Scan(engine.rules, InputReport([SOURCE]), lambda alert: None)


def test_prefilter_on_a_realistic_chunk(benchmark, engine, mix_chunk):
    """Hyperscan over 8 MiB in which ~2% of the lines are push events."""
    spans = benchmark(engine.rules.scanner.candidate_lines, mix_chunk)
    assert 0 < len(spans) < mix_chunk.count(b"\n") / 2


def test_realistic_chunk_end_to_end(benchmark, engine, mix_chunk):
    """Prefilter, decode, match and aggregate one 8 MiB realistic chunk."""

    def run() -> Scan:
        scan = _scan(engine)
        scan.chunk(Chunk(mix_chunk, 0), SOURCE)
        return scan

    scan = benchmark(run)
    assert scan.events_matched > 0


def test_push_events_decode_match_aggregate(benchmark, engine, push_chunk):
    """The dense case: every line is a push or a response (the prefilter steps aside)."""

    def run() -> Scan:
        scan = _scan(engine)
        scan.chunk(Chunk(push_chunk, 0), SOURCE)
        return scan

    scan = benchmark(run)
    assert scan.events_matched > push_chunk.count(b"\n") / 2


def test_window_evaluation(benchmark, engine, push_chunk):
    """Evaluate every (window, session) group gathered from one chunk of push events."""
    counter = itertools.count()

    def setup():
        scan = _scan(engine)
        scan.chunk(Chunk(push_chunk, 0), SOURCE)
        next(counter)
        return (scan,), {}

    alerts = benchmark.pedantic(lambda scan: scan.complete(), setup=setup, rounds=10)
    assert alerts
