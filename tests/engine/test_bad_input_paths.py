"""Bad input is counted the same whichever path a line takes (docs/engine.md, "Bad input").

A line nested deeper than decoding.MAX_DEPTH is ``too_deep`` on every path (typed projection, full
decode, dense and sparse chunks, workers, JSON documents, the SQL engines' staging, the CLI), never a
crash. And for inputs mixing good, malformed, invalid-UTF-8, ``1e999``, deep and escaped lines, the
report's counts and first offences and the alerts do not depend on projection, prefilter, dense or
sparse chunks or worker processes; ``--strict`` reports a superset, with the same alerts.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from okta_builders import PUSH_RULE, push, push_pack, response, run_engine

from sigma.backends.okta.engine.decoding import MAX_DEPTH, decode_line, nests_deeper
from sigma.backends.okta.engine.input_report import Reason
from sigma.backends.okta.engine.projection import EventProjection
from sigma.backends.okta.engine.runner import Engine, EngineOptions, Scan
from sigma.backends.okta.engine.sources import expand_sources
from sigma.backends.okta.engine.staging import stage_events

PUSH = "system.push.send_factor_verify_push"


def nested_arrays(depth: int, event_type: str = PUSH) -> bytes:
    """An event whose ``x`` nests arrays so that the line is ``depth`` levels deep (its object is one)."""
    inner = depth - 1
    return b'{"eventType":"%s","x":%s%s}' % (event_type.encode(), b"[" * inner, b"]" * inner)


def nested_objects(depth: int, event_type: str = PUSH) -> bytes:
    inner = depth - 1
    return b'{"eventType":"%s","x":%s1%s}' % (event_type.encode(), b'{"a":' * inner, b"}" * inner)


# --- decoding ------------------------------------------------------------------------------------


@pytest.mark.parametrize("build", [nested_arrays, nested_objects])
def test_a_line_deeper_than_the_limit_is_too_deep_and_one_at_it_decodes(build):
    assert decode_line(build(MAX_DEPTH + 1)) == (None, Reason.TOO_DEEP)
    assert decode_line(build(5000)) == (None, Reason.TOO_DEEP)
    event, reason = decode_line(build(MAX_DEPTH))
    assert reason is None and event["eventType"] == PUSH


def test_too_deep_wins_over_the_lines_other_faults():
    deep = nested_arrays(5000)
    assert decode_line(b"\xef\xbb\xbf" + deep) == (None, Reason.TOO_DEEP)
    assert decode_line(deep.replace(b'"x"', b'"\xff"')) == (None, Reason.TOO_DEEP)
    assert decode_line(deep[:-1]) == (None, Reason.TOO_DEEP)  # truncated as well


def test_brackets_inside_strings_are_not_nesting():
    line = b'{"eventType":"%s","x":"%s"}' % (PUSH.encode(), b"[" * 5000)
    assert not nests_deeper(line, MAX_DEPTH)
    assert decode_line(line)[1] is None


def _at_stack_depth(frames: int, call):
    return call() if frames == 0 else _at_stack_depth(frames - 1, call)


@pytest.mark.parametrize("frames", [0, 600, 900])
def test_repairs_of_a_line_at_the_limit_do_not_depend_on_the_callers_stack(frames):
    # orjson refuses the invalid UTF-8; the stdlib repair then recurses MAX_DEPTH levels deep
    line = nested_objects(MAX_DEPTH).replace(b'"a":1', b'"a":"\xff"')
    event, reason = _at_stack_depth(frames, lambda: decode_line(line))
    assert reason is Reason.INVALID_UTF8 and event["eventType"] == PUSH
    assert sys.getrecursionlimit() == 1000 or frames  # the headroom is given back


@pytest.mark.parametrize("build", [nested_arrays, nested_objects])
def test_the_projection_falls_back_to_the_full_decode_on_deep_lines(build):
    projection = EventProjection(["eventType", "published"], ["eventType"])
    assert projection.decode(build(5000)) == (None, Reason.TOO_DEEP)
    assert not projection.accepts(build(5000))
    # a tripwire: msgspec must refuse what orjson refuses, or the projection would keep such lines
    assert not projection.accepts(build(MAX_DEPTH + 1))


# --- every path of a run -------------------------------------------------------------------------


def _events_with_deep_lines(folder: Path) -> Path:
    lines = []
    for index in range(40):
        session = f"s{index % 4}"
        lines.append(orjson.dumps(push(session, index * 10.0)))
        lines.append(orjson.dumps(response(session, index * 10.0 + 5, result="REJECTED")))
    lines[30:30] = [nested_arrays(5000), nested_objects(3000)]
    path = folder / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


RUN_PATHS = {
    "projection, sparse": dict(),
    "full decode": dict(projection=False),
    "no prefilter": dict(prefilter=False),
    "strict": dict(validate_all=True),
    "two workers": dict(workers=2, parallel_min_bytes=1 << 10),
    "small chunks": dict(chunk_size=4096),
}


@pytest.mark.parametrize("options", RUN_PATHS.values(), ids=RUN_PATHS.keys())
def test_deep_lines_are_counted_on_every_path_of_a_run(tmp_path, options):
    path = _events_with_deep_lines(tmp_path)
    plain, _ = run_engine(tmp_path, paths=[str(path)], every_group=True, workers=1)
    alerts, result = run_engine(tmp_path, paths=[str(path)], every_group=True, **{"workers": 1, **options})
    assert result.report.counts == {Reason.TOO_DEEP: 2}
    assert result.report.first.line == 31
    assert alerts == plain


@pytest.mark.parametrize("dense", [False, True], ids=["sparse", "dense"])
def test_deep_lines_are_counted_in_dense_and_sparse_chunks(tmp_path, monkeypatch, dense):
    monkeypatch.setattr(Scan, "DENSE_SHARE", -1.0 if dense else 2.0)
    monkeypatch.setattr(Scan, "DENSE_CHUNKS", 10**9)
    path = _events_with_deep_lines(tmp_path)
    _, result = run_engine(tmp_path, paths=[str(path)], workers=1, chunk_size=8192)
    assert result.report.counts == {Reason.TOO_DEEP: 2}


def test_deep_elements_of_a_json_document_are_counted(tmp_path):
    lines = _events_with_deep_lines(tmp_path).read_bytes().splitlines()
    document = tmp_path / "page.json"
    document.write_bytes(b"[" + b",\n".join([*lines, nested_arrays(MAX_DEPTH)]) + b"]")
    _, result = run_engine(tmp_path, paths=[str(document)])
    # the one at the limit is an event (a push without a time: counted as such, not as too deep)
    assert result.report.counts == {Reason.TOO_DEEP: 2, Reason.MISSING_TIMESTAMP: 1}
    assert result.report.events_decoded == 81


def test_the_sql_engines_staging_counts_deep_lines(tmp_path):
    path = _events_with_deep_lines(tmp_path)
    report, staged = stage_events(
        push_pack(), expand_sources([str(path)]), tmp_path / "staged", EngineOptions()
    )
    assert report.counts == {Reason.TOO_DEEP: 2}
    assert staged == 80


def test_the_cli_counts_a_deep_line_and_exits_normally(tmp_path):
    path = _events_with_deep_lines(tmp_path)
    command = [sys.executable, "-m", "sigma.backends.okta.cli", "run", "--rule", PUSH_RULE, "--events"]
    result = subprocess.run([*command, str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "too_deep" in result.stderr and "internal error" not in result.stderr
    strict = subprocess.run([*command, str(path), "--strict"], capture_output=True, text=True)
    assert strict.returncode == 3 and "too_deep" in strict.stderr


# --- the same counts whichever path a line takes ----------------------------------------------------

_PLACE = b"PLACEHOLDER"


def _push_line(session: str, seconds: float, **extra) -> bytes:
    return orjson.dumps(push(session, seconds, **extra))


def _with(line: bytes, value: bytes) -> bytes:
    return line.replace(b'"' + _PLACE + b'"', value)


def _line(kind: str, session: str, seconds: float) -> bytes:
    """One line of ``kind``: good, or a fault in a field the push rule reads or in one it skips, on a
    line the prefilter lets through (a push) or rules out (another event type)."""
    if kind == "push":
        return _push_line(session, seconds)
    if kind == "response":
        return orjson.dumps(response(session, seconds, result="REJECTED"))
    if kind == "other":
        return orjson.dumps(push(session, seconds, eventType="user.session.start"))
    if kind == "truncated":
        return _push_line(session, seconds)[:-7]
    if kind == "malformed_object":  # still looks like one object
        return _push_line(session, seconds)[:-1] + b',"zz":}'
    if kind == "malformed_other":
        return orjson.dumps(push(session, seconds, eventType="user.session.start"))[:-1] + b',"zz":}'
    if kind == "utf8_skipped":
        return _with(_push_line(session, seconds, note=_PLACE.decode()), b'"caf\xe9 \xff"')
    if kind == "utf8_read":
        return _with(_push_line(session, seconds, ip=_PLACE.decode()), b'"203.0.113.\xff"')
    if kind == "utf8_other":
        line = orjson.dumps(push(session, seconds, eventType="user.session.start", note=_PLACE.decode()))
        return _with(line, b'"\xff"')
    if kind == "inf_skipped":
        return _with(_push_line(session, seconds, note=_PLACE.decode()), b"1e999")
    if kind == "inf_read":
        return _with(_push_line(session, seconds, ip=_PLACE.decode()), b"-1E400")
    if kind == "big_int_skipped":
        return _with(_push_line(session, seconds, note=_PLACE.decode()), b"123456789012345678901234567890")
    if kind == "lone_surrogate_skipped":
        return _with(_push_line(session, seconds, note=_PLACE.decode()), b'"\\ud83d"')
    if kind == "deep":
        return _push_line(session, seconds)[:-1] + b',"x":' + b"[" * 3000 + b"]" * 3000 + b"}"
    if kind == "deep_other":
        line = orjson.dumps(push(session, seconds, eventType="user.session.start"))
        return line[:-1] + b',"x":' + b'{"a":' * 2000 + b"1" + b"}" * 2000 + b"}"
    if kind == "escaped":  # a \u escape in the value the prefilter and the rule test
        return _push_line(session, seconds).replace(b"verify_push", b"verify_\\u0070ush")
    if kind == "object_for_string":
        return _push_line(session, seconds, behaviors={"New IP": "POSITIVE"})
    if kind == "object_for_string_other":
        return orjson.dumps(push(session, seconds, eventType="user.session.start", behaviors={"a": "b"}))
    if kind == "bom":
        return b"\xef\xbb\xbf" + _push_line(session, seconds)
    if kind == "not_an_object":
        return b'["%s"]' % PUSH.encode()
    if kind == "blank":
        return b"  "
    if kind == "crlf":
        return _push_line(session, seconds) + b"\r"
    raise AssertionError(kind)


KINDS = [
    "push",
    "response",
    "other",
    "truncated",
    "malformed_object",
    "malformed_other",
    "utf8_skipped",
    "utf8_read",
    "utf8_other",
    "inf_skipped",
    "inf_read",
    "big_int_skipped",
    "lone_surrogate_skipped",
    "deep",
    "deep_other",
    "escaped",
    "object_for_string",
    "object_for_string_other",
    "bom",
    "not_an_object",
    "blank",
    "crlf",
]
GOOD = ["push", "response", "push", "response", "other"]

lines_of_an_input = st.lists(
    st.tuples(st.sampled_from(GOOD + KINDS), st.integers(0, 3), st.integers(0, 7200)), min_size=1, max_size=60
)

MODES = {
    "sparse": (dict(chunk_size=2048), 2.0),
    "dense": (dict(chunk_size=2048), -1.0),
    "no projection": (dict(projection=False, chunk_size=2048), 2.0),
    "no prefilter": (dict(prefilter=False), 2.0),
    "no projection, dense": (dict(projection=False, chunk_size=2048), -1.0),
    "two workers": (dict(workers=2, parallel_min_bytes=1, chunk_size=2048), -1.0),
    "sparse, pure Python": (dict(chunk_size=2048), 2.0),
    "dense, pure Python": (dict(chunk_size=2048), -1.0),
}
PYTHON_PATH = ["sparse, pure Python", "dense, pure Python"]


class _Engines(dict):
    """The compiled engines of every mode (shown by name only in hypothesis' reports)."""

    def _repr_pretty_(self, printer, cycle):
        printer.text(f"<engines {', '.join(self)}>")


@pytest.fixture(scope="module")
def engines():
    def engine(**options) -> Engine:
        return Engine(push_pack(), EngineOptions(every_group=True, **{"workers": 1, **options}))

    modes = {name: (engine(**options), share) for name, (options, share) in MODES.items()}
    for name in PYTHON_PATH:  # without the native kernel, where it is built
        modes[name][0].rules.native = None
    return _Engines(
        modes,
        strict=(engine(validate_all=True), 2.0),
        **{"strict, two workers": (engine(validate_all=True, workers=2, parallel_min_bytes=1), 2.0)},
    )


def _run(engine: Engine, share: float, path: Path):
    alerts = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Scan, "DENSE_SHARE", share)
        patch.setattr(Scan, "DENSE_CHUNKS", 10**9)
        result = engine.run(expand_sources([str(path)]), lambda alert: alerts.append(alert.to_dict()))
    report = result.report
    offences = {reason: (o.offset, o.line) for reason, o in report.first_by_reason.items()}
    first = None if report.first is None else (report.first.offset, report.first.reason)
    return (
        dict(report.counts),
        offences,
        first,
        sorted(orjson.dumps(a, option=orjson.OPT_SORT_KEYS) for a in alerts),
    )


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=lines_of_an_input)
def test_counts_and_alerts_do_not_depend_on_the_path(engines, lines):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "events.jsonl")
        # a good first line: the file is NDJSON (one starting with "[" would be read as a JSON document)
        body = [_line("push", "s0", 0.0), *(_line(kind, f"s{s}", seconds) for kind, s, seconds in lines)]
        path.write_bytes(b"".join(line + b"\n" for line in body))
        results = {name: _run(engine, share, path) for name, (engine, share) in engines.items()}
    counts, _, _, alerts = results["sparse"]
    for name in MODES:
        assert results[name] == results["sparse"], name
    strict_counts, _, _, strict_alerts = results["strict"]
    assert results["strict, two workers"] == results["strict"]
    assert strict_alerts == alerts
    assert all(strict_counts.get(reason, 0) >= count for reason, count in counts.items())


def test_faults_the_rules_cannot_see_are_reported_only_under_strict(tmp_path, engines):
    kinds = ["malformed_other", "utf8_skipped", "utf8_other", "inf_skipped", "deep_other", "big_int_skipped"]
    path = tmp_path / "events.jsonl"
    path.write_bytes(
        b"".join(_line(kind, "s0", 10.0 * index) + b"\n" for index, kind in enumerate(["push", *kinds]))
    )
    relaxed = _run(*engines["no projection"], path)[0]
    strict = _run(*engines["strict"], path)[0]
    assert relaxed == {}
    assert strict == {
        Reason.MALFORMED_JSON: 1,
        Reason.INVALID_UTF8: 2,
        Reason.NON_FINITE_NUMBER: 1,
        Reason.TOO_DEEP: 1,
    }


def test_faults_the_rules_see_are_reported_in_every_mode(tmp_path, engines):
    kinds = ["truncated", "malformed_object", "utf8_read", "inf_read", "deep", "object_for_string", "bom"]
    path = tmp_path / "events.jsonl"
    path.write_bytes(
        b"".join(_line(kind, "s0", 10.0 * index) + b"\n" for index, kind in enumerate(["push", *kinds]))
    )
    expected = {
        Reason.MALFORMED_JSON: 2,
        Reason.INVALID_UTF8: 1,
        Reason.NON_FINITE_NUMBER: 1,
        Reason.TOO_DEEP: 1,
        Reason.OBJECT_FOR_STRING: 1,
        Reason.BOM: 1,
    }
    for name, (engine, share) in engines.items():
        assert _run(engine, share, path)[0] == expected, name
