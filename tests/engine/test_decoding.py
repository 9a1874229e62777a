"""decode_line: the fast path, each repair, each drop, and that no byte string can make it raise."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shared_corpus import OKTA_SAMPLES

from sigma.backends.okta.engine.decoding import BOM, decode_line
from sigma.backends.okta.engine.input_report import Reason

SAMPLES = OKTA_SAMPLES
EVENT = b'{"eventType":"user.session.start","published":"2024-03-01T12:34:56.789Z","actor":{"id":"00u1"}}'


def test_a_good_line_decodes_without_a_reason():
    event, reason = decode_line(EVENT)
    assert reason is None
    assert event == orjson.loads(EVENT)


@pytest.mark.parametrize("ending", [b"\r", b"\r\n", b"\n", b"  \t"])
def test_line_endings_and_trailing_whitespace_are_not_offences(ending):
    assert decode_line(EVENT + ending) == (orjson.loads(EVENT), None)


@pytest.mark.parametrize("line", [b"", b" ", b"\r", b"\t \r", b"\n", BOM, BOM + b"\r"])
def test_blank_lines_are_skipped_silently(line):
    assert decode_line(line) == (None, None)


def test_a_leading_bom_is_stripped_and_reported():
    event, reason = decode_line(BOM + EVENT)
    assert reason is Reason.BOM
    assert event == orjson.loads(EVENT)


def test_invalid_utf8_inside_a_string_is_replaced_and_the_event_kept():
    event, reason = decode_line(b'{"actor":{"displayName":"Jos\xe9 \xff"},"n":1}')
    assert reason is Reason.INVALID_UTF8
    assert event == {"actor": {"displayName": "Jos\ufffd \ufffd"}, "n": 1}


def test_a_bom_and_invalid_utf8_report_invalid_utf8():
    event, reason = decode_line(BOM + b'{"a":"\xc3"}')
    assert reason is Reason.INVALID_UTF8
    assert event == {"a": "\ufffd"}


def test_a_lone_surrogate_escape_is_replaced_like_invalid_utf8():
    event, reason = decode_line(b'{"a":"x\\ud83d","b":"\\ud83d\\ude00"}')
    assert reason is Reason.INVALID_UTF8
    assert event == {"a": "x\ufffd", "b": "\U0001f600"}


def test_a_valid_surrogate_pair_is_no_offence():
    assert decode_line(b'{"b":"\\ud83d\\ude00"}') == ({"b": "\U0001f600"}, None)


@pytest.mark.parametrize(
    ("line", "event"),
    [
        (b'{"a":1e999,"b":2}', {"a": "1e999", "b": 2}),
        (b'{"a":[-1E+400, 1.5]}', {"a": ["-1E+400", 1.5]}),
        (b'{"a":' + b"9" * 400 + b"}", {"a": "9" * 400}),
        (b'{"a":18446744073709551616,"b":1e999}', {"a": 1.8446744073709552e19, "b": "1e999"}),  # as orjson
    ],
)
def test_a_number_beyond_the_double_range_is_kept_as_its_text(line, event):
    # semantics: such a number is not a number; the event is kept and the repair counted
    assert decode_line(line) == (event, Reason.NON_FINITE_NUMBER)
    assert Reason.NON_FINITE_NUMBER.repaired


def test_a_line_malformed_otherwise_stays_malformed_with_a_huge_number():
    assert decode_line(b'{"a":1e999,}') == (None, Reason.MALFORMED_JSON)


@pytest.mark.parametrize(
    "line",
    [
        EVENT[:40],  # truncated
        b'{"a":1,}',
        b'{"a":NaN}',
        b"{'a': 1}",
        b'{"a":1} {"b":2}',
        b'{"a":1}\x0b',
        b"\xff\xfe{\x00",  # UTF-16
        b'{"a":"\\ud800',  # lone surrogate and truncated
        b"[" * 1000,  # truncated, within the depth limit
    ],
)
def test_malformed_lines_are_dropped(line):
    assert decode_line(line) == (None, Reason.MALFORMED_JSON)


def test_a_line_nested_past_the_limit_is_too_deep_even_when_truncated():
    assert decode_line(b"[" * 5000) == (None, Reason.TOO_DEEP)  # more in test_bad_input_paths.py


@pytest.mark.parametrize("line", [b"[1,2]", b"[]", b"42", b'"text"', b"null", b"true", BOM + b"[{}]"])
def test_valid_json_that_is_not_an_object_is_dropped(line):
    assert decode_line(line) == (None, Reason.NOT_AN_OBJECT)


@settings(max_examples=600)
@given(st.binary(max_size=300))
def test_no_bytes_make_decoding_raise(line):
    event, reason = decode_line(line)
    if event is None:
        assert reason in (None, Reason.MALFORMED_JSON, Reason.NOT_AN_OBJECT)
    else:
        assert type(event) is dict
        assert reason in (None, Reason.BOM, Reason.INVALID_UTF8)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.text(), _json_values, max_size=6), st.sampled_from([b"", b"\r", b" "]))
def test_any_serialised_object_decodes_back_unchanged(event, ending):
    assert decode_line(orjson.dumps(event) + ending) == (event, None)


@pytest.mark.shared
def test_every_sample_line_decodes():
    path = SAMPLES / "panther-analysis__okta_rules_tests.jsonl"
    if not path.exists():
        pytest.skip("../shared is absent")
    lines = [line for line in path.read_bytes().split(b"\n") if line.strip()]
    results = [decode_line(line) for line in lines]
    assert len(results) == 66
    assert all(reason is None and type(event) is dict for event, reason in results)
