"""Members of lists of objects (``target.displayName`` on Okta's ``target`` list): any element.

The engine maps a list met on a path over its elements; DuckDB and Spark read such a field as the list
of its elements' texts and test any of them. Both must match the same events: a list of 0, 1 or several
elements, a null element, an element without the key or with null there, a ``target`` that is an
object or a string, and the flattened key ``target.displayName`` (docs/semantics.md, Members of lists
of objects).
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from conversion.test_sql_base_rules import engine_matches, sql_matches
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sql_engines import SQL_ENGINES

from sigma.pipelines.okta.errors import RulePackError
from sigma.pipelines.okta.loader import load_rules

HERE = Path(__file__).parent
RULES = HERE / "rules" / "list_members.yml"

VERIFY = {"type": "AppInstance", "displayName": "Okta Verify", "alternateId": "okta_verify"}
SALESFORCE = {"type": "AppInstance", "displayName": "Salesforce"}
ANA = {"type": "User", "displayName": "Ana Lee", "alternateId": "ana@example.com"}

# uuid -> the event's target and request (None: the key is absent)
SHAPES: dict[str, dict] = {
    "empty": {"target": []},
    "one": {"target": [VERIFY]},
    "several": {"target": [ANA, SALESFORCE, VERIFY | {"displayName": "OKTA VERIFY"}]},
    "other": {"target": [ANA, SALESFORCE]},
    "null_element": {"target": [None, ANA]},
    "only_nulls": {"target": [None, {"type": "AppUser", "displayName": None}, {"type": "AppUser"}]},
    "missing_key": {"target": [{"type": "AppUser"}]},
    "object": {"target": VERIFY},
    "object_null": {"target": {"displayName": None}},
    "string": {"target": "Okta Verify"},
    "absent": {},
    "null": {"target": None},
    "flattened": {"target.displayName": "Okta Verify"},
    "two_elements": {
        "target": [
            {"type": "AppInstance", "displayName": "Other"},
            {"type": "AppUser", "displayName": "Okta Verify"},
        ]
    },
    "numbers": {"target": [{"detailEntry": {"level": 1}}, {"detailEntry": {"level": "4"}}]},
    "chain": {"request": {"ipChain": [{"ip": "203.0.113.9"}, {"ip": "10.1.2.3"}]}, "eventType": "x"},
    "chain_public": {"request": {"ipChain": [{"ip": "203.0.113.9"}]}, "eventType": "x"},
    "chain_empty": {"request": {"ipChain": []}, "eventType": "x"},
}


def write(path: Path, events: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
    return path


def shaped_events() -> list[dict]:
    return [
        {"uuid": name, "published": "2026-03-10T12:00:00Z", "eventType": "user.authentication.sso", **shape}
        for name, shape in SHAPES.items()
    ]


@pytest.fixture(scope="module")
def shaped(tmp_path_factory) -> Path:
    return write(tmp_path_factory.mktemp("lists") / "events.jsonl", shaped_events())


@pytest.fixture(scope="module")
def pack():
    return load_rules([RULES])


def by_rule(found: set[tuple[str, str]]) -> dict[str, set[str]]:
    rules: dict[str, set[str]] = {}
    for title, event in found:
        rules.setdefault(title, set()).add(event)
    return rules


def test_the_engine_reads_any_element(pack, shaped):
    found = by_rule(engine_matches(pack, shaped))
    equal = {"one", "several", "object", "flattened", "two_elements"}
    assert found["equals"] == equal
    assert found["not equals"] == set(SHAPES) - equal  # no element equals it, none at all included
    no_value = {"empty", "only_nulls", "missing_key", "object_null", "string", "absent", "null", "numbers"}
    no_value |= {"chain", "chain_public", "chain_empty"}
    assert found["null value"] == no_value
    assert found["does not exist"] == no_value
    assert found["not null value"] == found["exists"] == set(SHAPES) - no_value
    assert found["cased"] == equal - {"several"}  # "several" spells it OKTA VERIFY
    assert found["number"] == {"numbers"}
    assert found["all of two values, each on any element"] == {"several"}
    # two keys of one item are each tested on any element: the pair need not be one element's
    assert "two_elements" in found["two keys, each on any element (not necessarily the same one)"]
    assert found["an address of the chain"] == {"chain"}
    assert found["no address of the chain is private"] == {"chain_public", "chain_empty"}


@pytest.mark.parametrize("engine", SQL_ENGINES)
def test_the_sql_engines_match_the_same_events(engine, pack, shaped):
    expected = engine_matches(pack, shaped)
    assert {title for title, _ in expected} == {rule.title for rule in pack.base_rules}
    assert sql_matches(engine, pack, shaped) == expected


values = st.sampled_from(["Okta Verify", "okta verify", "Salesforce", "Ana", "", None, 3])
elements = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {}, optional={"displayName": values, "type": st.sampled_from(["AppInstance", "AppUser", None])}
    ),
)
targets = st.one_of(st.lists(elements, max_size=4), elements, st.just("Okta Verify"))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(targets, min_size=1, max_size=12))
def test_random_target_lists_match_the_same_events_in_duckdb(pack, tmp_path, drawn):
    events = [
        {"uuid": f"e{number}", "published": "2026-03-10T12:00:00Z", "target": target}
        for number, target in enumerate(drawn)
    ]
    path = write(tmp_path / "random.jsonl", events)
    assert sql_matches("duckdb", pack, path) == engine_matches(pack, path)


def test_a_correlation_cannot_group_or_count_by_a_list_member(tmp_path):
    rule = tmp_path / "corr.yml"
    rule.write_text(
        "title: base\nname: base\nlogsource: {product: okta}\n"
        "detection: {sel: {eventType: x}, condition: sel}\n---\n"
        "title: corr\ncorrelation:\n  type: value_count\n  rules: [base]\n"
        "  group-by: [target.displayName]\n  timespan: 1h\n"
        "  condition: {gte: 2, field: client.ipAddress}\n"
    )
    with pytest.raises(
        RulePackError, match=r"'target.displayName' is a member of the list of objects 'target'"
    ):
        load_rules([rule])
