"""Field access: nested objects, literal dotted keys, lists; the fast getters agree with the reference walk."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sigma.backends.okta.engine.fields import MISSING, _resolve, _steps, compile_extractor, compile_field

KEYS = st.sampled_from(["a", "b", "c", "a.b", "b.c", "a.b.c", "x"])
VALUES = st.recursive(
    st.one_of(st.none(), st.integers(0, 3), st.text("xy", max_size=2)),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(KEYS, children, max_size=4)),
    max_leaves=12,
)
EVENTS = st.dictionaries(KEYS, VALUES, max_size=5)
NAMES = st.sampled_from(["a", "x", "a.b", "a.b.c", "b.c", "x.a", "a.x.c"])


def reference(event: dict, name: str):
    return _resolve(event, _steps(name.split(".")), 0)


def same(left, right) -> bool:
    return (left is MISSING and right is MISSING) or left == right


def test_nested_first_then_literal_dotted_keys():
    get = compile_field("client.ipAddress")
    assert get({"client": {"ipAddress": "1"}}) == "1"
    assert get({"client.ipAddress": "2"}) == "2"
    assert get({"client": {"ipAddress": "1"}, "client.ipAddress": "2"}) == "1"
    assert get({"client": {}}) is MISSING
    assert get({"client": None}) is MISSING
    assert get({"client": {"ipAddress": None}}) is None


def test_lists_are_mapped_and_flattened():
    get = compile_field("target.alternateId")
    assert get({"target": [{"alternateId": "a"}, {"type": "x"}, {"alternateId": ["b", "c"]}]}) == [
        "a",
        "b",
        "c",
    ]
    assert get({"target": [{"type": "x"}]}) is MISSING


def test_deep_literal_spellings():
    get = compile_field("a.b.c")
    assert get({"a": {"b.c": 1}}) == 1
    assert get({"a.b": {"c": 2}}) == 2
    assert get({"a.b.c": 3}) == 3
    assert get({"a": {"b": 5}, "a.b.c": 4}) == 4


@settings(max_examples=1500)
@given(EVENTS, NAMES)
def test_compiled_getter_equals_the_reference_walk(event, name):
    assert same(compile_field(name)(event), reference(event, name))


@settings(max_examples=1500)
@given(EVENTS, st.lists(NAMES, min_size=1, max_size=5))
def test_extractor_equals_the_getters(event, names):
    extracted = compile_extractor(names)(event)
    assert len(extracted) == len(names)
    for value, name in zip(extracted, names, strict=True):
        assert same(value, reference(event, name))


def test_extractor_finishes_non_strings_only():
    extract = compile_extractor(["a.b", "c"], finish=lambda value: f"<{value!r}>")
    assert extract({"a": {"b": "text"}, "c": 5}) == ("text", "<5>")
    assert extract({}) == ("<MISSING>", "<MISSING>")
