"""Rules of caseless literal tests evaluated in C give matcher.py's answers (differential tests).

For every base rule of the bundled pack and for a rule of every shape the C side evaluates (equal,
prefix, suffix, infix, ``|all``, negation, ``1 of``, nested and dotted fields), the C predicate must
answer as the Python predicate on generated events (whole and projected) and on hypothesis events
whose values are near the rules' literals in any case, non-ASCII look-alikes (the Kelvin sign lowers
to an ASCII ``k``), lists, numbers, booleans, null, objects and dotted keys.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigma.backends.okta.engine.decoding import decode_line
from sigma.backends.okta.engine.matcher import compile_rule
from sigma.backends.okta.engine.native_projection import kernel_available
from sigma.backends.okta.engine.native_rules import native_predicates, rule_program
from sigma.backends.okta.engine.runner import CompiledRules, EngineOptions
from sigma.backends.okta.generator import GeneratorConfig, write_dataset
from sigma.pipelines.okta.loader import load_bundled, load_rules

pytestmark = pytest.mark.skipif(
    not kernel_available(), reason="the native kernel is not built (no C compiler)"
)

SHAPES = """
title: Every shape the C side evaluates
id: 4b0c3c8e-57a5-4c55-9d43-1f0a8b7c2e61
status: test
logsource: {product: okta, service: okta}
detection:
  prefix_and_set:
    eventType|startswith: 'user.'
    outcome.result: [SUCCESS, failure]
  all_infixes:
    debugContext.debugData.behaviors|contains|all: ['new ip=positive', 'New Device=POSITIVE']
  suffix:
    client.userAgent.rawUserAgent|endswith: 'Safari/605.1.15'
  infixes:
    actor.alternateId|contains: ['@example', 'ADMIN']
  x_exact:
    client.device: Mobile
  x_dotted:
    target.type: User
  condition: (prefix_and_set and not all_infixes) or (suffix and infixes) or 1 of x_*
level: low
"""


@functools.cache
def _rules() -> list:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "shapes.yml"
        path.write_text(SHAPES)
        shapes = load_rules([path]).base_rules
    return [*load_bundled().base_rules, *shapes]


@functools.cache
def _pairs() -> list[tuple[str, object, object]]:
    """(title, Python predicate, C predicate) of every rule the C side takes."""
    rules = _rules()
    python = [compile_rule(rule) for rule in rules]
    native = native_predicates(rules, list(python))
    return [(rule.title, p, n) for rule, p, n in zip(rules, python, native, strict=True) if n is not p]


@functools.cache
def _events() -> tuple[dict, ...]:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        events = Path(folder) / "events.jsonl"
        write_dataset(GeneratorConfig(seed=4, sessions_per_label=1, escape_share=0.2), events, None)
        lines = events.read_bytes().splitlines()
    rules = CompiledRules(load_bundled(), EngineOptions(workers=1))
    whole = [decode_line(line)[0] for line in lines]
    projected = [rules.projection.decoder.decode(line) for line in lines]
    return tuple(whole + projected)


def assert_same(event: dict) -> None:
    for title, python, native in _pairs():
        assert native(event) is python(event), (title, event)


def test_the_pack_and_every_shape_are_taken_by_the_c_side():
    titles = {title for title, _, _ in _pairs()}
    assert "Every shape the C side evaluates" in titles
    assert len(titles) >= len(load_bundled().base_rules) - 2


def test_generated_events_get_the_python_answers_mostly_from_c():
    pairs, decided = 0, 0
    for event in _events():
        assert_same(event)
        for _, _, native in _pairs():
            pairs += 1
            decided += native.verdict(event) is not None
    # undecided: fields in lists of objects (Okta's target), which matcher.py resolves element by element
    assert decided > 0.9 * pairs
    assert any(python(event) for event in _events() for _, python, _ in _pairs())


_TEXTS = st.sampled_from(
    [
        "user.session.start", "USER.SESSION.START", "User.", "user", "SUCCESS", "success", "failure", "FAILURE ",
        "New IP=POSITIVE, New Device=POSITIVE", "new ip=positive", "x Safari/605.1.15", "SAFARI/605.1.15",
        "ann@example.com", "ADMIN", "admi", "Mobile", "mobile", "MOBILE", "User", "user", "",
        "system.push.send_factor_verify_push", "SYSTEM.PUSH.SEND_FACTOR_VERIFY_PUSH",
        "user.authentication.auth_via_mfa", "\u212a", "mobil\u212a", "USER.\u0130", "caf\u00e9", "5", "true",
    ]
)  # fmt: skip
_VALUES = st.one_of(
    _TEXTS,
    st.text(max_size=8),
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=False),
    st.lists(_TEXTS | st.none(), max_size=3),
    st.dictionaries(st.sampled_from(["type", "a"]), _TEXTS, max_size=2),
)
_PATHS = [
    "eventType", "outcome.result", "debugContext.debugData.behaviors", "client.userAgent.rawUserAgent",
    "actor.alternateId", "client.device", "target.type", "debugContext.debugData.factor",
    "authenticationContext.externalSessionId", "client.ipAddress", "debugContext.debugData.requestUri",
]  # fmt: skip


@st.composite
def _random_events(draw) -> dict:
    event: dict = {}
    for path in draw(st.lists(st.sampled_from(_PATHS), max_size=7)):
        segments = path.split(".")
        if draw(st.integers(0, 5)) == 0:  # a dotted key for part of the path
            cut = draw(st.integers(1, len(segments)))
            segments = [".".join(segments[:cut]), *segments[cut:]]
        node = event
        for segment in segments[:-1]:
            child = node.get(segment)
            if not isinstance(child, dict):
                child = node[segment] = draw(st.sampled_from([{}, {}, {}, None, []]))
                if not isinstance(child, dict):
                    break
            node = child
        else:
            node[segments[-1]] = draw(_VALUES)
    return event


@settings(
    max_examples=500 if os.environ.get("SIGMA_OKTA_KERNEL_UNDER_SANITIZER") else 2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(event=_random_events())
def test_random_events_get_the_python_answers(event):
    assert_same(event)


def test_a_rule_with_other_tests_keeps_its_python_predicate():
    rules = load_bundled().base_rules
    kept = [rule.title for rule in rules if rule_program(rule) is None]
    for rule in rules:
        program = rule_program(rule)
        if program is not None:
            assert program[0] == "or"
    assert len(kept) <= 2
