"""Members of lists of objects (``target.displayName`` on Okta's ``target`` list): any element.

The engine maps a list met on a path over its elements; DuckDB and Spark read such a field as the list
of its elements' texts and test any of them. Both must match the same events: a list of 0, 1 or several
elements, a null element, an element without the key or with null there, a ``target`` that is an
object or a string, and the flattened key ``target.displayName`` (docs/semantics.md, Members of lists
of objects).
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from conversion.test_kusto_checked_by_microsoft import analyse
from conversion.test_sql_base_rules import engine_matches, sql_matches
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule
from sql_engines import SQL_ENGINES

from sigma.backends.okta.targets.catalog import make_backend, target_named
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


# --- KQL: mv-apply over the stored list --------------------------------------------------------------


def kql(detection: dict, pipeline: str = "okta_sentinel") -> str:
    rule = {"title": "t", "logsource": {"product": "okta"}, "detection": detection}
    return make_backend(target_named("kusto"), [pipeline]).convert(SigmaCollection.from_dicts([rule]))[0]


def kql_of(pack, name: str, pipeline: str) -> str:
    rule = next(rule for rule in pack.base_rules if rule.name == name)
    return make_backend(target_named("kusto"), [pipeline]).convert_rule(SigmaRule.from_dict(rule.to_dict()))[
        0
    ]


@pytest.mark.parametrize("pipeline", ["okta_sentinel", "okta_sentinel_legacy"])
def test_kql_tests_any_element_and_microsofts_analyzer_accepts_it(pack, pipeline):
    queries = [kql_of(pack, rule.name, pipeline) for rule in pack.base_rules]
    # every list read as an array with elements, so that mv-apply keeps every row (an object is one element)
    listed = "parse_json(target_s)" if pipeline == "okta_sentinel_legacy" else "OriginalTarget"
    equals = kql_of(pack, "l_equals", pipeline)
    assert f"iff(array_length({listed}) > 0, {listed}, pack_array({listed}))" in equals
    assert (
        'okta_member_0 = countif(isnotnull(okta_element.displayName) and (tostring(okta_element.displayName) =~ "Okta Verify"))'
        in equals
    )
    assert "| where okta_member_0 > 0\n| project-away okta_member_0" in equals
    if pipeline == "okta_sentinel_legacy":  # a Data Collector API column a workspace may lack
        assert 'target_s = column_ifexists("target_s", "")' in equals
    assert all(not diagnostics for diagnostics in analyse(queries)), queries


def test_kql_reads_each_item_on_any_element_and_negation_on_none(pack):
    assert "| where not(okta_member_0 > 0)" in kql_of(pack, "l_not_equals", "okta_sentinel")
    for name in ("l_null", "l_not_exists"):  # no element has a value
        query = kql_of(pack, name, "okta_sentinel")
        assert "countif(isnotnull(okta_element.displayName))" in query and "okta_member_0 == 0" in query
    assert "| where okta_member_0 > 0" in kql_of(pack, "l_exists", "okta_sentinel")
    # two keys, and |all: each item on some element, counted apart
    for name in ("l_two_keys", "l_all"):
        assert "| where okta_member_0 > 0 and okta_member_1 > 0" in kql_of(pack, name, "okta_sentinel")
    chain = kql_of(pack, "l_ip_chain", "okta_sentinel")
    assert "iff(array_length(Request.ipChain) > 0, Request.ipChain, pack_array(Request.ipChain))" in chain
    assert 'countif(isnotnull(okta_element.ip) and (tostring(okta_element.ip) startswith "10."))' in chain


def test_kql_shares_a_count_between_equal_items_and_lists_each_value_apart():
    query = kql(
        {
            "a": {"target.displayName": ["Okta Verify", "Salesforce"]},
            "b": {"target.displayName": "Okta Verify", "request.ipChain.ip": "10.0.0.1"},
            "condition": "a and b",
        }
    )
    assert query.count("| mv-apply") == 2  # one per list
    assert query.count("countif(") == 3  # Okta Verify once, Salesforce, the address
    assert "in~" not in query  # a list of values is one item per value, not `member in~ (...)`


def test_kql_refuses_a_member_in_a_field_reference():
    with pytest.raises(SigmaError, match=r"'OriginalTarget.displayName', a member of the list of objects"):
        kql({"sel": {"actor.displayName|fieldref": "target.displayName"}, "condition": "sel"})
    with pytest.raises(SigmaError, match=r"\|fieldref on 'OriginalTarget.alternateId'"):
        kql({"sel": {"target.alternateId|fieldref": "actor.alternateId"}, "condition": "sel"})


def test_pysigmas_own_kusto_backend_still_refuses_members():
    # the pipeline maps members only for sigma-okta's backend, which renders them
    from sigma.backends.kusto import KustoBackend

    from sigma.pipelines.okta.okta_pipelines import okta_sentinel_pipeline

    rule = {
        "title": "t",
        "logsource": {"product": "okta"},
        "detection": {"s": {"target.type": "User"}, "condition": "s"},
    }
    with pytest.raises(SigmaError, match=r"'target.type' is not available in schema 'okta_sentinel'"):
        KustoBackend(okta_sentinel_pipeline()).convert(SigmaCollection.from_dicts([rule]))


# --- ES|QL: FIELD_EXTRACT over the flattened list ----------------------------------------------------

ELASTIC_VALUES = 'FIELD_EXTRACT(okta.target, "display_name")'


def esql(detection: dict) -> str:
    rule = {"title": "t", "logsource": {"product": "okta"}, "detection": detection}
    return make_backend(target_named("esql"), ["okta_elastic"]).convert(SigmaCollection.from_dicts([rule]))[0]


def esql_of(pack, name: str) -> str:
    rule = next(rule for rule in pack.base_rules if rule.name == name)
    return make_backend(target_named("esql"), ["okta_elastic"]).convert_rule(
        SigmaRule.from_dict(rule.to_dict())
    )[0]


#: list_members.yml rules ES|QL refuses: no exact any-element form over a multi-valued keyword
ESQL_REFUSED = {
    "l_shapes": "'okta.target.alternate_id'",  # |startswith (its |contains alone converts)
    "l_regex": "'okta.target.type'",
    "l_number": "keeps only methodTypeUsed and methodUsedVerifiedProperties",  # the pipeline drops the key
    "l_ip_chain": "'okta.request.ip_chain.ip'",
    "l_ip_chain_not": "'okta.request.ip_chain.ip'",
}


def test_esql_tests_any_element_of_the_flattened_list_and_elastics_grammar_parses_it(pack):
    queries = {}
    for rule in pack.base_rules:
        if rule.name in ESQL_REFUSED:
            with pytest.raises(SigmaError, match=re.escape(ESQL_REFUSED[rule.name])):
                esql_of(pack, rule.name)
            continue
        queries[rule.name] = esql_of(pack, rule.name)
    contains = f'MV_CONTAINS(TO_LOWER({ELASTIC_VALUES}), "okta verify")'
    assert queries["l_equals"].endswith(f"| where {contains}")
    assert queries["l_not_equals"].endswith(f"| where NOT COALESCE({contains}, false)")
    assert queries["l_cased"].endswith(f'| where MV_CONTAINS({ELASTIC_VALUES}, "Okta Verify")')
    for name in ("l_null", "l_not_exists"):
        assert queries[name].endswith(f"| where {ELASTIC_VALUES} IS NULL")
    assert queries["l_exists"].endswith(f"| where {ELASTIC_VALUES} IS NOT NULL")
    assert queries["l_all"].endswith(f'{contains} AND MV_CONTAINS(TO_LOWER({ELASTIC_VALUES}), "salesforce")')
    assert (
        'MV_CONTAINS(TO_LOWER(FIELD_EXTRACT(okta.target, "type")), "appinstance") AND '
        in queries["l_two_keys"]
    )
    parse = pytest.importorskip("conversion.test_esql_checked_by_elastic").parse
    assert {name: parse(query)[1] for name, query in queries.items()} == {name: [] for name in queries}


def test_esql_contains_joins_the_values_with_a_line_break_and_refuses_other_wildcards():
    query = esql({"sel": {"target.displayName|contains": "Svc_"}, "condition": "sel"})
    assert query.endswith(f'| where TO_LOWER(MV_CONCAT({ELASTIC_VALUES}, "\\n")) LIKE "*svc_*"')
    cased = esql({"sel": {"target.displayName|contains|cased": "Svc_"}, "condition": "sel"})
    assert cased.endswith(f'| where MV_CONCAT({ELASTIC_VALUES}, "\\n") LIKE "*Svc_*"')
    for value in ("svc_*", "*a*b*", "*a\nb*"):  # a match could span two values, or not start one
        with pytest.raises(SigmaError, match=r"'okta.target.display_name', a member of the list of objects"):
            esql({"sel": {"target.displayName": value}, "condition": "sel"})


def test_esql_refuses_a_member_in_a_field_reference():
    with pytest.raises(SigmaError, match=r"'okta.target.alternate_id', a member of the list of objects"):
        esql({"sel": {"actor.alternateId|fieldref": "target.alternateId"}, "condition": "sel"})


# --- the bundled pack converts for every target ------------------------------------------------------


@pytest.mark.parametrize("target", ["splunk", "esql", "kusto", "duckdb", "spark"])
def test_convert_of_the_rules_folder_succeeds_for_every_target(capsys, target):
    from sigma.backends.okta.cli import main

    assert main(["convert", "-t", target, str(HERE.parents[1] / "rules")]) == 0
    captured = capsys.readouterr()
    for title in (
        "Okta Successful Single Factor Authentication",
        "Okta Multiple Failed Requests to Access Applications",
    ):
        assert f" {title} (" in captured.out
    # the SIEM targets leave out only the rules over sigma-okta's risk stream, each with a line
    skipped = [line for line in captured.err.splitlines() if line.startswith("skipped")]
    assert all("risk stream" in line for line in skipped), skipped


def test_kql_brackets_element_keys_it_cannot_read_bare():
    query = kql({"s": {"target.title": "x", "target.a b": "y"}, "condition": "s"})
    assert "tostring(okta_element['title']) =~ \"x\"" in query and "okta_element['a b']" in query
    assert analyse([query]) == [[]]


def test_kql_expands_only_the_selected_events_unless_the_selection_reads_a_member():
    pack = load_rules([HERE.parents[1] / "rules"])
    backend = make_backend(target_named("kusto"), ["okta_sentinel"])
    names = (
        "okta_successful_single_factor_authentication",
        "okta_multiple_failed_requests_to_access_applications",
    )
    queries = {rule.name: backend.convert_aggregate(rule) for rule in pack.aggregates if rule.name in names}
    # only the `where` of okta_verify reads the targets: the expansion follows the selection
    single_factor = queries["okta_successful_single_factor_authentication"]
    assert (
        single_factor.index("| where ")
        < single_factor.index("| mv-apply")
        < single_factor.index("filter_0 =")
    )
    # the referenced rules test target.type: the selection needs the counts
    failed = queries["okta_multiple_failed_requests_to_access_applications"]
    assert failed.index("| mv-apply") < failed.index("| where ")
