"""The native projection kernel changes speed only: differential tests against the Python path.

Two levels. The kernel itself: every line it projects (is sure of) must be a line orjson accepts as
it is (``decode_line`` gives no reason) and its dict must be exactly msgspec's typed decode of the line
(same keys, order, types). The engine: a run with the kernel and one with ``SIGMA_OKTA_NATIVE=0`` must
give identical alerts and identical bad-input reports. Inputs: generated Okta events (with ``\\u``
escapes), hand-written hard cases, hypothesis-random events and byte-level mutations of real lines.

``test_differential_cases_under_address_and_undefined_behaviour_sanitizers`` builds the kernel with
``-fsanitize=address,undefined`` (SSE2 and scalar) and runs the kernel-level tests of this file and
test_native_rules.py on it.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigma.backends.okta.engine.decoding import decode_line
from sigma.backends.okta.engine.native_projection import ENVIRONMENT_SWITCH, kernel_available
from sigma.backends.okta.engine.runner import CompiledRules, Engine, EngineOptions
from sigma.backends.okta.engine.sources import expand_sources
from sigma.backends.okta.generator import GeneratorConfig, write_dataset
from sigma.pipelines.okta.loader import RulePack, load_bundled

pytestmark = pytest.mark.skipif(
    not kernel_available(), reason="the native kernel is not built (no C compiler)"
)

ROOT = Path(__file__).resolve().parents[2]
KERNEL_SOURCES = [
    ROOT / "backends" / "engine" / name for name in ("projection_kernel.c", "rule_predicates.c")
]
UNDER_SANITIZER = "SIGMA_OKTA_KERNEL_UNDER_SANITIZER"
#: fewer hypothesis examples on the (slow) sanitizer build: it looks for memory errors, not new inputs
EXAMPLES = 0.25 if os.environ.get(UNDER_SANITIZER) else 1.0


@functools.cache
def _dataset_lines() -> tuple[bytes, ...]:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        events = Path(folder) / "events.jsonl"
        write_dataset(GeneratorConfig(seed=3, sessions_per_label=1, escape_share=0.3), events, None)
        return tuple(events.read_bytes().splitlines())


@functools.cache
def _pack() -> RulePack:
    return load_bundled()


@functools.cache
def _rules(native: bool = True, **options) -> CompiledRules:
    """The whole bundled pack compiled (with or without the kernel)."""
    previous = os.environ.get(ENVIRONMENT_SWITCH)
    os.environ[ENVIRONMENT_SWITCH] = "1" if native else "0"
    try:
        return CompiledRules(_pack(), EngineOptions(workers=1, every_group=True, **options))
    finally:
        if previous is None:
            del os.environ[ENVIRONMENT_SWITCH]
        else:
            os.environ[ENVIRONMENT_SWITCH] = previous


def _typed(rules: CompiledRules, line: bytes) -> dict | None:
    """What the Python path's typed decode makes of a line, None when it falls back to the full decode."""
    try:
        return rules.projection.decoder.decode(line)
    except Exception:  # msgspec's errors, RecursionError: the Python path falls back
        return None


def assert_kernel_agrees(data: bytes) -> list[tuple[int, int, dict | None]]:
    """Every line the kernel projects is one the Python path decodes to the very same dict."""
    rules = _rules()
    results = list(rules.native.scan(data))
    for start, end, event in results:
        if event is None:
            continue
        line = data[start:end]
        expected = _typed(rules, line)
        assert expected is not None, f"the kernel took a line the typed decode refuses: {line[:300]!r}"
        assert repr(event) == repr(expected), line[:300]
        whole, reason = decode_line(line)
        assert reason is None and type(whole) is dict, f"orjson does not take as it is: {line[:300]!r}"
    # the prefilter's candidate spans give the same answers as splitting every line
    assert list(rules.native.scan(data, [(start, end) for start, end, _ in results])) == results
    return results


def sure(line: bytes) -> bool:
    (result,) = assert_kernel_agrees(line)
    return result[2] is not None


# --- the kernel -----------------------------------------------------------------------------------


def test_generated_events_are_all_projected_as_the_typed_decode_does():
    data = b"\n".join(_dataset_lines())
    results = assert_kernel_agrees(data)
    projected = sum(event is not None for _, _, event in results)
    escaped = sum(b"\\u" in line for line in _dataset_lines())
    assert escaped > 50
    assert projected == len(results) == len(_dataset_lines())


PUSH = b'"eventType":"system.push.send_factor_verify_push"'
EVENT = b'{"eventType":"user.session.start","actor":{"alternateId":"ann@example.com"},"published":"2026-03-10T14:00:00.000Z"'

HARD_CASES = {
    # escapes
    "escaped wanted value": (
        b'{"eventType":"user.session.st\\u0061rt","actor":{"alternateId":"\\"a\\\\b\\/\\n"}}',
        True,
    ),
    "surrogate pair": (b'{"eventType":"\\ud83d\\ude00 \\u00e9\\u20ac"}', True),
    "nul escape": (b'{"eventType":"a\\u0000b"}', True),
    "lone high surrogate": (b'{"eventType":"\\ud83d"}', False),
    "lone low surrogate": (b'{"eventType":"\\ude00x"}', False),
    "high surrogate then text": (b'{"eventType":"\\ud83dxxxxxx"}', False),
    "lone surrogate in a skipped value": (b'{"eventType":"a","other":"\\ud800"}', False),
    "unknown escape": (b'{"eventType":"\\x41"}', False),
    "short unicode escape": (b'{"eventType":"\\u12"}', False),
    "escaped key": (b'{"event\\u0054ype":"a"}', False),
    # keys
    "duplicate wanted key": (b'{"eventType":"a","eventType":"b"}', False),
    "duplicate nested wanted key": (b'{"actor":{"alternateId":"a","alternateId":"b"}}', False),
    "duplicate skipped key": (b'{"eventType":"a","x":1,"x":2}', True),
    "duplicate skipped key inside a wanted object": (b'{"actor":{"q":1,"q":2,"alternateId":"a"}}', True),
    "dotted key spelling a wanted path": (b'{"actor.alternateId":"x"}', False),
    "dotted key spelling nothing wanted": (b'{"a.b":"x","eventType":"e"}', True),
    # values on wanted paths
    "null object": (b'{"actor":null,"client":{},"target":[]}', True),
    "number for a wanted string": (b'{"eventType":5}', False),
    "boolean for a wanted string": (b'{"eventType":true}', False),
    "object for a wanted string": (b'{"eventType":{"a":"b"}}', False),
    "string for a wanted object": (b'{"actor":"ann"}', False),
    "list of objects for a wanted object": (
        b'{"target":[{"alternateId":"a","type":"User"},{"id":null}]}',
        True,
    ),
    "null in a list of objects": (b'{"target":[null]}', False),
    "string in a list of objects": (b'{"target":["a"]}', False),
    "list of strings for a wanted value": (b'{"eventType":["a",null]}', True),
    "list of numbers for a wanted value": (b'{"eventType":[1]}', False),
    # numbers, literals, structure
    "ordinary numbers": (b'{"eventType":"a","n":[0,-0,12,-3.25,1e10,2E-9,1.5e+99,123456789012345678]}', True),
    "1e999": (b'{"eventType":"a","n":1e999}', False),
    "huge integer": (b'{"eventType":"a","n":123456789012345678901234567890}', False),
    "leading zero": (b'{"eventType":"a","n":01}', False),
    "bare minus": (b'{"eventType":"a","n":-}', False),
    "dot without digits": (b'{"eventType":"a","n":1.}', False),
    "NaN": (b'{"eventType":"a","n":NaN}', False),
    "true false null": (b'{"eventType":"a","b":[true,false,null]}', True),
    "truncated literal": (b'{"eventType":"a","b":tru}', False),
    "trailing comma": (b'{"eventType":"a",}', False),
    "trailing bytes": (b'{"eventType":"a"}x', False),
    "two objects": (b'{"eventType":"a"}{}', False),
    "unterminated": (b'{"eventType":"a"', False),
    "unterminated string": (b'{"eventType":"a', False),
    "not an object": (b'["eventType"]', False),
    "blank": (b"   ", False),
    "empty object": (b"{}", True),
    "whitespace and CRLF": (b' \t{ "eventType" : "a" , "x" : [ ] }\r', True),
    "byte-order mark": (b'\xef\xbb\xbf{"eventType":"a"}', False),
    # UTF-8
    "valid UTF-8": (b'{"eventType":"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80","x":"\xc3\xa9"}', True),
    "invalid byte in a wanted value": (b'{"eventType":"a\xff"}', False),
    "invalid byte in a skipped value": (b'{"eventType":"a","x":"\xff"}', False),
    "overlong form": (b'{"eventType":"a","x":"\xc0\xaf"}', False),
    "encoded surrogate": (b'{"eventType":"a","x":"\xed\xa0\x80"}', False),
    "beyond U+10FFFF": (b'{"eventType":"a","x":"\xf4\x90\x80\x80"}', False),
    "truncated sequence at the end": (b'{"eventType":"a","x":"\xe2\x82', False),
    "control character": (b'{"eventType":"a\tb"}', False),
    "DEL is text": (b'{"eventType":"a\x7fb"}', True),
    # nesting
    "nested 60 deep": (b'{"eventType":"a","x":' + b"[" * 60 + b"]" * 60 + b"}", True),
    "nested 100 deep": (b'{"eventType":"a","x":' + b"[" * 100 + b"]" * 100 + b"}", False),
    "nested 100000 deep": (b'{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}", False),
    "nested 100000 deep, unclosed": (b'{"x":' + b'{"y":' * 100_000, False),
}


@pytest.mark.parametrize("case", sorted(HARD_CASES))
def test_hard_cases(case):
    line, projected = HARD_CASES[case]
    assert sure(line) is projected


def test_a_wanted_value_is_one_shared_str_per_distinct_text():
    rules = _rules()
    first, second = rules.native.scan(EVENT + b"}\n" + EVENT + b"}")
    assert first[2] == second[2]
    assert first[2]["eventType"] is second[2]["eventType"]


def test_spans_outside_the_data_are_refused():
    rules = _rules()
    with pytest.raises(ValueError, match="outside"):
        list(rules.native.scan(b"{}", [(0, 3)]))
    with pytest.raises(TypeError):
        list(rules.native.scan(b"{}", [(0,)]))


def test_objects_not_initialised_refuse_to_work():
    from sigma.backends.okta.engine import native_projection

    module = native_projection._kernel
    with pytest.raises(ValueError, match="not initialised"):
        module.Kernel.__new__(module.Kernel).scan(b"{}")
    with pytest.raises(ValueError, match="not initialised"):
        module.TimeGetter.__new__(module.TimeGetter)({})
    with pytest.raises(ValueError, match="not initialised"):
        module.RulePredicate.__new__(module.RulePredicate)({})
    with pytest.raises(ValueError, match="unknown rule program node"):
        module.RulePredicate(("xor", ()), lambda event: True)
    with pytest.raises(ValueError, match="lowered ASCII"):
        module.RulePredicate(("item", ("a",), (), (b"A",), (), (), ()), lambda event: True)


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["SUCCESS", "OKTA_VERIFY_PUSH", "system.push.send_factor_verify_push", "é€😀"]),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
_KEYS = ["eventType", "actor", "alternateId", "client", "ipAddress", "target", "published", "debugContext",
         "debugData", "behaviors", "outcome", "result", "uuid", "actor.alternateId", "x"]  # fmt: skip


def _events(depth: int = 3) -> st.SearchStrategy:
    value = _json if depth == 0 else st.one_of(_json, st.deferred(lambda: _events(depth - 1)))
    return st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=4), value, max_size=6)


@settings(max_examples=int(300 * EXAMPLES), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=_events(), ascii_only=st.booleans())
def test_random_events(event, ascii_only):
    assert_kernel_agrees(json.dumps(event, ensure_ascii=ascii_only).encode())


_INTERESTING = b'"\\{}[]:,0123456789eE.-+ tfnulr\xff\xc3\xa9\xed\xa0\x80\xf0\x9f\x00\r\n'


@st.composite
def _mutated(draw) -> bytes:
    lines = _dataset_lines()
    line = bytearray(lines[draw(st.integers(0, len(lines) - 1))])
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(line)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "escape"]))
        byte = draw(st.sampled_from(list(_INTERESTING)))
        if kind == "insert":
            line[position:position] = bytes([byte])
        elif kind == "delete":
            del line[position : position + draw(st.integers(1, 8))]
        elif kind == "replace" and position < len(line):
            line[position] = byte
        else:
            line[position:position] = draw(
                st.sampled_from([b"\\u00e9", b"\\ud83d", b"\\ude00", b"\\u0022", b"\\"])
            )
    return bytes(line)


@settings(max_examples=int(400 * EXAMPLES), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=_mutated())
def test_byte_mutations_of_real_lines(line):
    assert_kernel_agrees(line)


# --- event time -----------------------------------------------------------------------------------


def _okta_like_times() -> st.SearchStrategy[str]:
    """Okta's form with each part drawn near and past its limits, and the text then maybe damaged."""
    parts = st.tuples(
        st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25), st.integers(0, 61),
        st.integers(0, 61), st.integers(0, 999),
    )  # fmt: skip
    text = parts.map(lambda p: "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z".format(*p))
    damaged = st.tuples(text, st.integers(0, 23), st.sampled_from("0Zz t.:-+é\x00")).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + 1 :]
    )
    return st.one_of(text, damaged, st.text(max_size=30))


@settings(max_examples=int(1500 * EXAMPLES), deadline=None)
@given(text=_okta_like_times())
def test_the_kernels_time_is_the_python_time(text):
    from sigma.backends.okta.engine import native_projection
    from sigma.backends.okta.engine.timestamps import compile_time_getter, parse_time

    micros = native_projection._kernel.okta_time(text)
    if micros is not None:
        assert micros == parse_time(text)
    python = compile_time_getter("published")
    native = native_projection.native_time_getter("published", python)
    assert native is not python
    for event in ({"published": text}, {"published": None}, {}, {"published": [text]}):
        assert native(event) == python(event)


def test_the_kernel_reads_okta_times_itself():
    from sigma.backends.okta.engine import native_projection

    okta_time = native_projection._kernel.okta_time
    assert okta_time("2024-02-29T23:59:59.999Z") == 1709251199999000
    assert okta_time("0001-01-01T00:00:00.000Z") < 0
    for other in (
        "2023-02-29T00:00:00.000Z",
        "2024-03-01T12:34:56Z",
        "2024-03-01 12:34:56.789Z",
        "2017-09-31T00:00:00.000Z",
    ):
        assert okta_time(other) is None  # timestamps.py decides
    called = []
    getter = native_projection._kernel.TimeGetter("published", lambda event: called.append(event) or 7)
    assert getter({"published": "2024-03-01T12:34:56.789Z"}) == 1709296496789000 and not called
    assert getter({"published": "2024-03-01T12:34:56.789+00:00"}) == 7 and called


# --- the engine -----------------------------------------------------------------------------------


def _run(path: Path, native: bool, **options) -> tuple[list[dict], dict]:
    previous = os.environ.get(ENVIRONMENT_SWITCH)
    os.environ[ENVIRONMENT_SWITCH] = "1" if native else "0"
    try:
        engine = Engine(_pack(), EngineOptions(workers=1, every_group=True, **options))
    finally:
        if previous is None:
            del os.environ[ENVIRONMENT_SWITCH]
        else:
            os.environ[ENVIRONMENT_SWITCH] = previous
    assert (engine.rules.native is not None) is native
    alerts: list[dict] = []
    result = engine.run(expand_sources([str(path)]), lambda alert: alerts.append(alert.to_dict()))
    report = result.report
    counts = {
        "counts": dict(report.counts),
        "decoded": report.events_decoded,
        "first": str(report.first),
        "first_by_reason": {reason: str(offence) for reason, offence in report.first_by_reason.items()},
        "matched": result.events_matched,
    }
    return alerts, counts


def assert_engine_agrees(path: Path, **options) -> list[dict]:
    python_alerts, python_report = _run(path, False, **options)
    native_alerts, native_report = _run(path, True, **options)
    assert native_report == python_report
    assert native_alerts == python_alerts
    return native_alerts


@pytest.mark.parametrize("prefilter", [True, False], ids=["candidate spans", "every line"])
def test_whole_run_gives_the_same_alerts_and_reports_on_generated_and_hard_lines(tmp_path, prefilter):
    path = tmp_path / "events.jsonl"
    hard = [
        line for line, _ in HARD_CASES.values() if b"[" * 1000 not in line and b'{"y":' * 1000 not in line
    ]
    path.write_bytes(
        b"\n".join(
            [
                *_dataset_lines(),
                *hard,
                *(b"{" + PUSH + b"," + line[1:] for line in hard if line.startswith(b"{")),
            ]
        )
        + b"\n"
    )
    alerts = assert_engine_agrees(path, prefilter=prefilter)
    assert len(alerts) > 50


@st.composite
def _mutated_files(draw) -> bytes:
    lines = list(_dataset_lines())
    for _ in range(draw(st.integers(1, 20))):
        lines[draw(st.integers(0, len(lines) - 1))] = draw(_mutated())
    return b"\n".join(lines) + b"\n"


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(data=_mutated_files())
def test_whole_run_agrees_on_mutated_files(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("mutated") / "events.jsonl"
    path.write_bytes(data)
    assert_engine_agrees(path)


def test_without_the_extension_the_python_path_runs_alone(tmp_path):
    # as after an installation without a C compiler: the module cannot be imported
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(_dataset_lines()) + b"\n")
    probe = (
        "import sys\n"
        "class NoKernel:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.endswith('._projection_kernel'):\n"
        "            raise ImportError('not built')\n"
        "sys.meta_path.insert(0, NoKernel())\n"
        "from sigma.backends.okta.engine import native_projection\n"
        "from sigma.backends.okta.engine.runner import Engine, EngineOptions\n"
        "from sigma.backends.okta.engine.sources import expand_sources\n"
        "from sigma.pipelines.okta.loader import load_bundled\n"
        "engine = Engine(load_bundled(), EngineOptions(workers=1))\n"
        "alerts = []\n"
        f"engine.run(expand_sources([{str(path)!r}]), alerts.append)\n"
        "print(native_projection.kernel_available(), engine.rules.native, len(alerts))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    expected: list = []
    Engine(_pack(), EngineOptions(workers=1)).run(expand_sources([str(path)]), expected.append)
    assert result.stdout.split() == ["False", "None", str(len(expected))]


def test_the_switch_turns_the_kernel_off():
    assert _rules(native=True).native is not None
    assert _rules(native=False).native is None


# --- sanitizers -----------------------------------------------------------------------------------


def _sanitizer_runtime() -> list[str]:
    found = []
    for library in ("libasan.so", "libubsan.so"):
        result = subprocess.run(["gcc", f"-print-file-name={library}"], capture_output=True, text=True)
        path = result.stdout.strip()
        if result.returncode != 0 or not os.path.isabs(path):
            return []
        found.append(path)
    return found


@pytest.mark.skipif(os.environ.get(UNDER_SANITIZER) is not None, reason="already the sanitizer run")
@pytest.mark.parametrize("variant", ["sse2", "scalar"])
def test_differential_cases_under_address_and_undefined_behaviour_sanitizers(tmp_path, variant):
    runtime = _sanitizer_runtime()
    if not runtime:
        pytest.skip("gcc's AddressSanitizer/UBSan runtime (libasan, libubsan) is not installed")
    target = tmp_path / ("_projection_kernel" + sysconfig.get_config_var("EXT_SUFFIX"))
    flags = [
        "-fsanitize=address,undefined",
        "-fno-sanitize-recover=all",
        "-fno-omit-frame-pointer",
        "-g",
        "-O1",
    ]
    if variant == "scalar":
        flags.append("-DPROJECTION_KERNEL_SCALAR")
    build = subprocess.run(
        [
            "gcc",
            *flags,
            "-shared",
            "-fPIC",
            f"-I{sysconfig.get_paths()['include']}",
            *map(str, KERNEL_SOURCES),
            "-o",
            str(target),
        ],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    # load the sanitized build as the kernel module before anything imports it, then run this file's
    # kernel-level tests on it (the engine-level ones would only repeat them, slowly)
    probe = (
        "import importlib.util, sys\n"
        "name = 'sigma.backends.okta.engine._projection_kernel'\n"
        f"spec = importlib.util.spec_from_file_location(name, {str(target)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "sys.modules[name] = module\n"
        "import pytest\n"
        f"code = pytest.main(['-q', '-p', 'no:cacheprovider', {__file__!r}, {str(Path(__file__).with_name('test_native_rules.py'))!r}, '-k', 'not whole_run and not sanitizers and not fuzzing'])\n"
        "from sigma.backends.okta.engine import native_projection\n"
        f"assert native_projection._kernel.__file__ == {str(target)!r}\n"
        "sys.exit(code)\n"
    )
    environment = dict(
        os.environ,
        LD_PRELOAD=" ".join(runtime),
        PYTHONMALLOC="malloc",  # objects from malloc, so AddressSanitizer sees the ends of the bytes read
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=0",
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1",
        **{UNDER_SANITIZER: variant},
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, (result.stdout[-4000:], result.stderr[-4000:])
    assert " passed" in result.stdout and "ERROR: AddressSanitizer" not in result.stderr


def test_a_short_fuzzing_run_finds_nothing(tmp_path):
    pytest.importorskip("atheris", reason="atheris (the dev extra) is not installed")
    harness = Path(__file__).with_name("fuzz_native_kernel.py")
    seeds = tmp_path / "seeds"
    subprocess.run([sys.executable, str(harness), "--seed-corpus", str(seeds)], check=True, timeout=120)
    result = subprocess.run(
        [sys.executable, str(harness), "-max_total_time=5", "-max_len=8192", str(seeds)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Done " in result.stderr


def test_the_kernel_hands_back_what_orjson_refuses_or_changes():
    # the Python path's answers the kernel's "unsure" rests on: orjson refuses these, or (a huge integer)
    # decodes it as a float where msgspec keeps an int
    for text in (b"1e999", b'"\\ud83d"', b'"\xed\xa0\x80"'):
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(text)
        assert not sure(b'{"eventType":"a","x":' + text + b"}")
    assert type(orjson.loads(b"123456789012345678901234567890")) is float
    assert not sure(b'{"eventType":"a","x":123456789012345678901234567890}')
