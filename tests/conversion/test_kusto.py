"""The KQL target (Microsoft Sentinel / Defender): the full query of every rule against golden files, focused
checks per construct, the condition language's null logic against the engine, and (when Microsoft's KQL
parser is at hand) every golden query through its parser and binder."""

from __future__ import annotations

import math
import random
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from golden import assert_golden
from okta_builders import BASE_RULES
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError, SigmaFeatureNotSupportedByBackendError
from sigma.rule import SigmaRule

from sigma.backends.okta.engine.evaluate import compile_expression
from sigma.backends.okta.targets.aggregate_plan import AggregateConversionError, never_null_names
from sigma.backends.okta.targets.kusto import (
    DIVIDE_OR_NULL,
    ROUND_HALF_AWAY,
    KustoDialect,
    OktaKustoBackend,
    column_kind,
    kql_name,
    kql_string,
    re2_problem,
)
from sigma.pipelines.okta.expression import (
    And,
    Arithmetic,
    Comparison,
    Expression,
    Name,
    Negate,
    Not,
    Number,
    Or,
    Round,
    ValueType,
)
from sigma.pipelines.okta.loader import bundled_rules_path, load_rules
from sigma.pipelines.okta.model import AggregateCorrelationRule, MetricKind
from sigma.pipelines.okta.okta_pipelines import (
    okta_pipeline,
    okta_sentinel_legacy_pipeline,
    okta_sentinel_pipeline,
)
from sigma.pipelines.okta.risk_stream import split_stages
from sigma.pipelines.okta.semantics import round_half_away
from sigma.pipelines.okta.standard import as_aggregate

HERE = Path(__file__).resolve().parent
CONSTRUCTS = HERE / "rules" / "constructs.yml"
GOLDEN = HERE / "golden" / "kusto"
PIPELINES = {"okta_sentinel": okta_sentinel_pipeline, "okta_sentinel_legacy": okta_sentinel_legacy_pipeline}


def load_pack():
    return load_rules([bundled_rules_path(), CONSTRUCTS])


@pytest.fixture(scope="module")
def pack():
    # conversion never changes the loaded rules (base rules are converted as copies), so one load serves all
    return load_pack()


def convert(pack, name: str, pipeline_id: str = "okta_sentinel") -> str:
    backend = OktaKustoBackend(PIPELINES[pipeline_id]())
    for aggregate in pack.aggregates:
        if aggregate.name == name:
            return backend.convert_aggregate(aggregate)
    for correlation in pack.standard_correlations:
        if correlation.name == name:
            return backend.convert_aggregate(as_aggregate(correlation))
    rule = next(rule for rule in pack.base_rules if rule.name == name)
    # a copy: the rules referenced by a correlation are not converted on their own, and pipelines change rules
    return backend.convert_rule(SigmaRule.from_dict(rule.to_dict()))[0]


_PACK = split_stages(load_pack())[0]  # not the rules over the risk stream
RULE_NAMES = [rule.name for rule in (*_PACK.aggregates, *_PACK.standard_correlations, *_PACK.base_rules)]
#: rules of the pack a schema cannot hold, with the reason (docs/rule-pack.md lists them)
REFUSED = {
    ("okta_suspicious_use_of_a_session_cookie", "okta_sentinel_legacy"): "'debugContext.debugData.dtHash'",
}


# --- golden queries ------------------------------------------------------------------------------------


@pytest.mark.parametrize("pipeline_id", PIPELINES)
@pytest.mark.parametrize("name", RULE_NAMES)
def test_golden_query(pack, name: str, pipeline_id: str) -> None:
    if (name, pipeline_id) in REFUSED:
        with pytest.raises(SigmaError, match=re.escape(REFUSED[name, pipeline_id])):
            convert(pack, name, pipeline_id)
        return
    assert_golden(GOLDEN / f"{name}.{pipeline_id}.txt", convert(pack, name, pipeline_id))


def test_every_golden_file_belongs_to_a_rule() -> None:
    expected = {
        f"{name}.{pipeline_id}.txt"
        for name in RULE_NAMES
        for pipeline_id in PIPELINES
        if (name, pipeline_id) not in REFUSED
    }
    assert {path.name for path in GOLDEN.glob("*.txt")} == expected


# --- custom rules ---------------------------------------------------------------------------------------


def aggregate(tmp_path: Path, **correlation) -> AggregateCorrelationRule:
    """An `aggregate` correlation over the rules `push` and `response`: ``correlation`` is its body."""
    body = {"type": "aggregate", "rules": ["push", "response"], "timespan": "1h", **correlation}
    document = {
        "title": "Custom",
        "id": "0b1c2d3e-0000-4000-8000-0000000000ff",
        "name": "custom",
        "correlation": body,
    }
    path = tmp_path / "custom.yml"
    path.write_text(BASE_RULES + "---\n" + yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return load_rules([path]).aggregates[0]


def base_query(detection: dict, pipeline=okta_sentinel_pipeline) -> str:
    rule = {"title": "t", "logsource": {"product": "okta"}, "detection": detection}
    return OktaKustoBackend(pipeline()).convert(SigmaCollection.from_dicts([rule]))[0]


# --- base rules: where the official KustoBackend departs from Sigma --------------------------------------


def test_base_rule_starts_with_its_table(pack) -> None:
    assert convert(pack, "okta_verify_push_sent") == (
        'OktaV2_CL\n| where EventOriginalType =~ "system.push.send_factor_verify_push"'
    )
    assert convert(pack, "okta_verify_push_sent", "okta_sentinel_legacy").startswith(
        "Okta_CL\n| where eventType_s =~"
    )


def test_dynamic_members_are_paths_not_string_literals() -> None:
    query = base_query({"sel": {"debugContext.debugData.factor": "OKTA_VERIFY_PUSH"}, "condition": "sel"})
    assert 'tostring(DebugData.factor) =~ "OKTA_VERIFY_PUSH"' in query
    assert "'DebugData.factor'" not in query
    query = base_query({"sel": {"transaction.detail.risk level": "HIGH"}, "condition": "sel"})
    assert "tostring(TransactionDetail['risk level']) =~ \"HIGH\"" in query


def test_values_match_case_insensitively_unless_cased() -> None:
    query = base_query(
        {
            "sel": {
                "eventType": "a",
                "client.device|contains": "b",
                "client.zone": ["c", "d"],
                "actor.type|startswith": "e",
                "actor.id|endswith": "f",
            },
            "condition": "sel",
        }
    )
    for fragment in ('=~ "a"', 'contains "b"', 'in~ ("c", "d")', 'startswith "e"', 'endswith "f"'):
        assert fragment in query
    cased = base_query(
        {
            "sel": {
                "eventType|cased": "A",
                "client.device|contains|cased": "B",
                "client.zone|cased": ["C", "D"],
                "displayMessage|cased": "x*y",
            },
            "condition": "sel",
        }
    )
    for fragment in (
        'EventOriginalType == "A"',
        'contains_cs "B"',
        'SrcZone in ("C", "D")',
        'matches regex "(?s)^x.*y$"',
    ):
        assert fragment in cased


def test_wildcards_inside_a_value_keep_their_order() -> None:
    query = base_query({"sel": {"displayMessage": ["a*b*c", "*x*y*", "p?q"]}, "condition": "sel"})
    assert 'EventMessage matches regex "(?is)^a.*b.*c$"' in query
    assert 'EventMessage matches regex "(?is)x.*y"' in query  # `matches regex` searches: no .* at the ends
    assert 'EventMessage matches regex "(?is)^p.q$"' in query  # ? is one character
    assert 'contains "x" and' not in query


def test_values_with_quotes_backslashes_and_wildcards(pack) -> None:
    query = convert(pack, "constructs_response")
    # 'it''s "quoted" \ back*slash' under |contains: the quote and the backslash escaped for the KQL
    # literal, the backslash escaped once more for the regular expression
    assert (
        r'HttpUserAgent matches regex "(?is)it\'s \"quoted\" \\\\ back.*slash"'.replace("\\'", "'") in query
    )
    assert 'HttpUserAgent contains "curl/"' in query
    assert 'SrcIpAddr startswith "198.51.100.\'"' in convert(pack, "constructs_aggregate")


def test_string_literals_and_names() -> None:
    assert kql_string('a"b\\c\nd\x01') == '"a\\"b\\\\c\\nd\\u0001"'
    assert kql_name("rows") == "rows"
    assert kql_name("last") == "['last']"  # a KQL keyword
    assert (
        kql_name("authenticationContext.externalSessionId") == "['authenticationContext.externalSessionId']"
    )
    assert kql_name("it's") == "['it\\'s']"


def test_booleans_compare_with_equals_and_stay_two_valued() -> None:
    query = base_query({"sel": {"securityContext.isProxy": "true"}, "condition": "not sel"})
    assert "not(coalesce(SecurityContextIsProxy == true, false))" in query
    assert "=~ true" not in query
    legacy = base_query(
        {"sel": {"securityContext.isProxy": "false"}, "condition": "sel"}, okta_sentinel_legacy_pipeline
    )
    assert "coalesce(securityContext_isProxy_b == false, false)" in legacy


def test_numbers_read_numeric_strings_and_stay_two_valued() -> None:
    query = base_query(
        {
            "sel": {"authenticationContext.authenticationStep|gte": 2, "client.zone": 5},
            "condition": "not sel",
        }
    )
    assert "coalesce(AuthenticationContextAuthenticationStep >= 2, false)" in query  # an int column
    # a string column: "5" counts, "1e999" does not (not a finite number)
    assert "coalesce(iff(isfinite(todouble(SrcZone)), todouble(SrcZone), real(null)) == 5, false)" in query


def test_null_exists_and_cidr() -> None:
    query = base_query(
        {
            "sel": {
                "actor.type": None,
                "actor.id|exists": True,
                "client.ipAddress|cidr": ["10.0.0.0/8", "2001:db8::/32"],
            },
            "condition": "sel",
        }
    )
    assert "isempty(OriginalUserType)" in query  # strings are never null in KQL
    assert "isnotempty(OriginalUserId)" in query
    assert 'coalesce(ipv4_is_in_range(SrcIpAddr, "10.0.0.0/8"), false)' in query
    assert 'coalesce(ipv6_is_in_range(SrcIpAddr, "2001:db8::/32"), false)' in query


def test_regular_expressions() -> None:
    query = base_query(
        {"sel": {"displayMessage|re": 'a"b\\d', "debugContext.debugData.url|re|i": "^/x"}, "condition": "sel"}
    )
    assert 'EventMessage matches regex "a\\"b\\\\d"' in query
    assert 'tostring(DebugData.url) matches regex "(?i)^/x"' in query


def test_regular_expressions_that_re2_cannot_run_raise() -> None:
    with pytest.raises(SigmaFeatureNotSupportedByBackendError, match="lookaround"):
        base_query({"sel": {"displayMessage|re": "a(?!b)"}, "condition": "sel"})
    assert re2_problem(r"a\(?=b") is None  # an escaped parenthesis, then an optional '='
    assert re2_problem(r"(a)\1") == "backreference"
    assert re2_problem(r"[(?=]x") is None


def test_keywords_raise_rather_than_become_bare_literals() -> None:
    rule = {
        "title": "t",
        "logsource": {"product": "windows"},
        "detection": {"words": ["foo"], "condition": "words"},
    }
    with pytest.raises(NotImplementedError, match="String value expressions"):
        OktaKustoBackend().convert(SigmaCollection.from_dicts([rule]))


def test_column_kinds_follow_the_tables() -> None:
    assert column_kind("okta_sentinel", "SecurityContextIsProxy") == "bool"
    assert column_kind("okta_sentinel", "SrcIpAddr") == "string"
    assert column_kind("okta_sentinel_legacy", "authenticationContext_authenticationStep_d") == "number"
    assert column_kind("okta_sentinel_legacy", "uuid_g") == "guid"


# --- pipelines ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("schema_id", ["okta_splunk_ta", "okta_elastic", "okta_ocsf"])
def test_other_pipelines_are_refused(pack, schema_id: str) -> None:
    rule = next(rule for rule in pack.aggregates if rule.name == "okta_verify_push_source_response_mismatch")
    with pytest.raises(AggregateConversionError, match=f"okta_sentinel.*not the pipeline {schema_id}"):
        OktaKustoBackend(okta_pipeline(schema_id)).convert_aggregate(rule)
    with pytest.raises(AggregateConversionError, match=schema_id):
        base_query({"sel": {"eventType": "x"}, "condition": "sel"}, lambda: okta_pipeline(schema_id))


# --- the aggregate: stage by stage ----------------------------------------------------------------------


def test_selection_flags_one_column_per_rule(pack) -> None:
    query = convert(pack, "okta_verify_push_source_response_mismatch")
    assert '| where (EventOriginalType =~ "system.push.send_factor_verify_push")\n    or (' in query
    assert '    rule_0 = (EventOriginalType =~ "system.push.send_factor_verify_push"),\n' in query


def test_collapse(pack) -> None:
    query = convert(pack, "okta_verify_push_source_response_mismatch")
    assert (
        "| summarize row_time = min(TimeGenerated), row_event_ids = make_set_if(EventOriginalUid, isnotempty(EventOriginalUid))\n"
        "    by rule_0, rule_1, bucket = bin(TimeGenerated, 2s),\n"
        "    ['authenticationContext.externalSessionId'] = iff(isempty(ActorSessionId), \"NULL\", ActorSessionId),\n"
        '    EventOriginalType = iff(isempty(EventOriginalType), "NULL", EventOriginalType),\n'
        "    ['DebugData.factor'] = iff(isempty(tostring(DebugData.factor)), \"NULL\", tostring(DebugData.factor)),\n"
    ) in query
    # the group-by field that is also collapsed with the same fill shares its column
    assert "    ActorSessionId = " not in query
    # metrics count collapsed rows, and their `where` reads the rows' filled values
    assert '    filter_0 = rule_0 and (OriginalOutcomeResult =~ "SUCCESS"),\n' in query
    assert "    filter_3 = rule_0 and (['DebugData.behaviors'] contains \"New Device=POSITIVE\"),\n" in query
    assert "    total_pushes = countif(filter_0),\n" in query
    assert "    event_ids = make_set(row_event_ids)\n" in query  # every event, collapsed duplicates included
    assert (
        "    by window_start = bin(row_time, 1h),\n    ['authenticationContext.externalSessionId']\n" in query
    )


def test_collapse_without_fill_keeps_missing_values_out_of_sets(tmp_path) -> None:
    rule = aggregate(
        tmp_path,
        **{
            "group-by": ["authenticationContext.externalSessionId"],
            "collapse": {"span": "10s", "fields": ["client.ipAddress"], "missing": None},
            "metrics": {"ips": {"type": "distinct", "field": "client.ipAddress"}},
            "condition": "ips > 1",
        },
    )
    query = OktaKustoBackend(okta_sentinel_pipeline()).convert_aggregate(rule)
    assert "    SrcIpAddr = SrcIpAddr\n" in query  # no fill
    assert "ips = array_length(make_set_if(SrcIpAddr, isnotempty(SrcIpAddr)))" in query
    assert "bucket = bin(TimeGenerated, 10s)" in query


def test_without_collapse_metrics_read_events(tmp_path) -> None:
    rule = aggregate(
        tmp_path,
        **{
            "group-by": ["actor.alternateId"],
            "timespan": "7d",  # does not divide a day: bin_at names the Unix epoch
            "metrics": {
                "ips": {"type": "distinct", "field": "client.ipAddress"},
                "steps": {"type": "sum", "field": "authenticationContext.authenticationStep", "rule": "push"},
                "pushes": {"type": "count", "rule": "push", "where": {"outcome.result": "SUCCESS"}},
            },
            "condition": "ips > 1 and pushes > steps",
        },
    )
    query = OktaKustoBackend(okta_sentinel_pipeline()).convert_aggregate(rule)
    assert '| extend filter_1 = rule_0 and (OriginalOutcomeResult =~ "SUCCESS")\n' in query
    assert "    first_seen = min(TimeGenerated),\n" in query
    assert "    ips = array_length(make_set_if(SrcIpAddr, isnotempty(SrcIpAddr))),\n" in query
    assert (
        "    steps = iff(countif(rule_0 and isnotnull(AuthenticationContextAuthenticationStep)) == 0, real(null), "
        "iff(isfinite(sumif(AuthenticationContextAuthenticationStep, rule_0)), "
        "sumif(AuthenticationContextAuthenticationStep, rule_0), real(null))),\n"
    ) in query
    assert "    event_ids = make_set_if(EventOriginalUid, isnotempty(EventOriginalUid))\n" in query
    assert "    by window_start = bin_at(TimeGenerated, 7d, datetime(1970-01-01)),\n" in query
    assert (
        "    ['actor.alternateId'] = iff(isempty(OriginalActorAlternateId), \"NULL\", OriginalActorAlternateId)\n"
        in query
    )


def test_every_metric_kind(pack) -> None:
    query = convert(pack, "constructs_aggregate")
    # collapsed rows hold text: its finite number
    parsed = "todouble(AuthenticationContextAuthenticationStep)"
    step = f"iff(isfinite({parsed}), {parsed}, real(null))"
    for fragment in (
        "    rows = count(),\n",
        "    pushes = countif(rule_0),\n",
        "    denials = countif(filter_1),\n",
        "    ips = array_length(make_set(SrcIpAddr)),\n",  # exact, where dcount() would estimate
        f"    step_sum = iff(countif(isnotnull({step})) == 0, real(null), "
        f"iff(isfinite(sum({step})), sum({step}), real(null))),\n",
        f"    step_min = iff(countif(isnotnull({step})) == 0, real(null), min({step})),\n",
        f"    step_max = iff(countif(isnotnull({step})) == 0, real(null), max({step})),\n",
        f"    step_avg = iff(countif(isnotnull({step})) == 0, real(null), "
        f"iff(isfinite(avg({step})), avg({step}), real(null))),\n",
        "    response_ips = make_set_if(SrcIpAddr, rule_1),\n",
        "    ['first'] = min(row_time),\n",
        "    ['last'] = iff(countif(rule_0) == 0, datetime(null), maxif(row_time, rule_0)),\n",
    ):
        assert fragment in query
    assert "dcount(" not in query


def test_derived_values_and_condition(pack) -> None:
    query = convert(pack, "constructs_aggregate")
    assert "| extend denial_share = round_half_away(divide_or_null(denials, pushes), 100.0)\n" in query
    # first and last seen are epoch seconds in expressions
    assert (
        "| extend span_seconds = (((['last'] - datetime(1970-01-01)) / 1s) - ((['first'] - datetime(1970-01-01)) / 1s))\n"
    ) in query
    assert (
        "| extend weighted = round_half_away((((-step_avg) * 2) + divide_or_null(pushes, (rows - 1))), 1000.0)\n"
        in query
    )
    # `not (odd_ips > 100 and rows > 1000)`: counts are never null, so no guard
    assert "(not(odd_ips > 100) or not(rows > 1000))" in query
    assert "(isnotnull(denial_share) and denial_share >= 0.5)" in query


def test_null_operand_under_not_stays_false(tmp_path) -> None:
    rule = aggregate(
        tmp_path,
        metrics={
            "pushes": {"type": "count", "rule": "push"},
            "answers": {"type": "count", "rule": "response"},
        },
        derived={"ratio": "answers / pushes"},
        condition="not ratio < 0.5",
    )
    query = OktaKustoBackend(okta_sentinel_pipeline()).convert_aggregate(rule)
    # with no push the ratio is null: `ratio < 0.5` is unknown, and so is its negation: no alert
    assert "| where (isnotnull(ratio) and not(ratio < 0.5))\n" in query


def test_division_by_zero_is_null_and_rounding_is_half_away(pack) -> None:
    query = convert(pack, "okta_verify_push_source_response_mismatch")
    assert query.startswith(DIVIDE_OR_NULL + "\n" + ROUND_HALF_AWAY + "\nOktaV2_CL\n")
    assert "iff(denominator == 0, real(null), numerator / denominator)" in DIVIDE_OR_NULL
    assert "| extend ratio = round_half_away(divide_or_null(total_successes, total_pushes), 100.0)\n" in query
    assert "let divide_or_null" not in convert(pack, "okta_verify_push_sent")


def test_boolean_derived_values_are_three_valued(tmp_path) -> None:
    rule = aggregate(
        tmp_path,
        metrics={"steps": {"type": "max", "field": "authenticationContext.authenticationStep"}},
        derived={"deep": "steps > 2"},
        condition="not deep",
    )
    query = OktaKustoBackend(okta_sentinel_pipeline()).convert_aggregate(rule)
    assert (
        "| extend deep = iff((isnotnull(steps) and steps > 2), true, iff((isnotnull(steps) and not(steps > 2)), "
        "false, bool(null)))\n"
    ) in query
    assert "| where not(coalesce(deep, true))\n" in query


def test_output_fields_renamed_and_sorted(pack) -> None:
    query = convert(pack, "constructs_aggregate")
    assert "    user = make_set(['actor.alternateId']),\n" in query
    assert "    pushed_from = make_set_if(SrcIpAddr, rule_0),\n" in query
    assert "    failed_from = make_set_if(SrcIpAddr, filter_7),\n" in query
    assert '    filter_7 = (OriginalOutcomeResult =~ "FAILURE")\n' in query  # a `where` without a rule
    assert query.endswith(
        "| project window_start, ['authenticationContext.externalSessionId'], ['actor.alternateId'], first_seen, "
        "rows, pushes, denials, new_device_pushes, odd_ips, ips, step_sum, step_min, step_max, step_avg, "
        "response_ips = array_sort_asc(response_ips), ['first'], ['last'], denial_share, span_seconds, weighted, "
        "user = array_sort_asc(user), pushed_from = array_sort_asc(pushed_from), "
        "failed_from = array_sort_asc(failed_from), event_ids = array_sort_asc(event_ids)\n"
        "| sort by window_start asc, ['authenticationContext.externalSessionId'] asc, ['actor.alternateId'] asc"
    )


def test_aliases_read_the_field_of_the_first_rule_matched(tmp_path) -> None:
    rule = aggregate(
        tmp_path,
        **{
            "group-by": ["who"],
            "aliases": {"who": {"push": "actor.alternateId", "response": "actor.displayName"}},
            "metrics": {"events": {"type": "count"}},
            "condition": "events > 1",
        },
    )
    query = OktaKustoBackend(okta_sentinel_pipeline()).convert_aggregate(rule)
    assert (
        'who = iff(isempty(case(rule_0, OriginalActorAlternateId, ActorDisplayName)), "NULL", '
        "case(rule_0, OriginalActorAlternateId, ActorDisplayName))"
    ) in query


def test_names_that_clash_with_the_query_columns_raise(tmp_path) -> None:
    rule = aggregate(tmp_path, metrics={"window_start": {"type": "count"}}, condition="window_start > 1")
    with pytest.raises(AggregateConversionError, match="'window_start'"):
        OktaKustoBackend(okta_sentinel_pipeline()).convert_aggregate(rule)


# --- the condition language: rendered KQL evaluated against the engine ----------------------------------


class Value:
    """A KQL number in a Python mirror of the rendered condition: arithmetic propagates null; a comparison
    with null raises, so an unguarded comparison is found."""

    def __init__(self, value):
        self.value = value.value if isinstance(value, Value) else value

    def _apply(self, other, function):
        a, b = self.value, other.value if isinstance(other, Value) else other
        return Value(None if a is None or b is None else function(a, b))

    def __add__(self, other):
        return self._apply(other, lambda a, b: a + b)

    def __radd__(self, other):
        return self._apply(other, lambda a, b: b + a)

    def __sub__(self, other):
        return self._apply(other, lambda a, b: a - b)

    def __rsub__(self, other):
        return self._apply(other, lambda a, b: b - a)

    def __mul__(self, other):
        return self._apply(other, lambda a, b: a * b)

    def __rmul__(self, other):
        return self._apply(other, lambda a, b: b * a)

    def __neg__(self):
        return Value(None if self.value is None else -self.value)

    def _compare(self, other, function):
        b = other.value if isinstance(other, Value) else other
        if self.value is None or b is None:
            raise AssertionError("a comparison with null is not guarded")
        return function(self.value, b)

    def __lt__(self, other):
        return self._compare(other, lambda a, b: a < b)

    def __le__(self, other):
        return self._compare(other, lambda a, b: a <= b)

    def __gt__(self, other):
        return self._compare(other, lambda a, b: a > b)

    def __ge__(self, other):
        return self._compare(other, lambda a, b: a >= b)

    def __eq__(self, other):
        return self._compare(other, lambda a, b: a == b)

    def __ne__(self, other):
        return self._compare(other, lambda a, b: a != b)

    __hash__ = None


def kql_round_half_away(value, scale):
    """The body of the KQL function ``round_half_away``, statement by statement."""
    value = Value(value).value
    if value is None:
        return Value(None)
    magnitude = abs(value)
    floored = math.floor(magnitude * scale)
    if magnitude * scale >= 4503599627370496.0:
        return Value(value)
    rounded = (floored + 1.0 if magnitude >= (floored + 0.5) / scale else floored) / scale
    return Value(math.copysign(rounded, value) if value else 0.0)


def kql_divide_or_null(numerator, denominator):
    a, b = Value(numerator).value, Value(denominator).value
    return Value(None if a is None or b is None or b == 0 else a / b)


def evaluate_kql(text: str, environment: dict):
    """Evaluate a rendered KQL condition or value with Python's operators (the subset the dialect writes)."""
    python = re.sub(r"\bnot\(", "not (", text)
    for kql, py in (("isnotnull(", "_isnotnull("), ("coalesce(", "_coalesce("), ("iff(", "_iff(")):
        python = python.replace(kql, py)
    python = re.sub(r"\bbool\(null\)|\breal\(null\)", "None", python)
    python = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", python))
    helpers = {
        "_isnotnull": lambda v: (v.value if isinstance(v, Value) else v) is not None,
        "_coalesce": lambda v, default: default if v is None else v,
        "_iff": lambda condition, then, otherwise: then if condition is True else otherwise,
        "divide_or_null": kql_divide_or_null,
        "round_half_away": kql_round_half_away,
    }
    return eval(
        python, {"__builtins__": {}}, {**helpers, **environment}
    )  # a test-only mirror of the rendered KQL


NUMBER_NAMES = {"c1": MetricKind.COUNT, "c2": MetricKind.DISTINCT, "s1": MetricKind.SUM, "s2": MetricKind.AVG}


def random_value(rng: random.Random, depth: int, names: list[str]) -> Expression:
    choice = rng.randrange(7 if depth else 2)
    if choice == 0:
        text = rng.choice(["0", "1", "2", "0.5", "0.125"])
        return Number(float(text), text)
    if choice == 1:
        return Name(rng.choice(names))
    if choice == 2:
        return Negate(random_value(rng, depth - 1, names))
    if choice == 3:
        return Round(random_value(rng, depth - 1, names), rng.randrange(3))
    operator = rng.choice("+-*/")
    return Arithmetic(operator, random_value(rng, depth - 1, names), random_value(rng, depth - 1, names))


def random_condition(rng: random.Random, depth: int, names: list[str], booleans: list[str]) -> Expression:
    choice = rng.randrange(5 if depth else 2)
    if choice == 0 or (choice == 1 and not booleans):
        operator = rng.choice(["<", "<=", ">", ">=", "==", "!="])
        return Comparison(operator, random_value(rng, 2, names), random_value(rng, 2, names))
    if choice == 1:
        return Name(rng.choice(booleans))
    if choice == 2:
        return Not(random_condition(rng, depth - 1, names, booleans))
    operands = tuple(random_condition(rng, depth - 1, names, booleans) for _ in range(rng.randrange(2, 4)))
    return And(operands) if choice == 3 else Or(operands)


def test_condition_language_matches_the_engine() -> None:
    """Random conditions with nulls and zero divisors: the rendered KQL is true exactly when the engine's
    three-valued condition is true, and no comparison meets a null unguarded."""
    rng = random.Random(20260310)
    for _ in range(1500):
        d1 = random_value(rng, 2, list(NUMBER_NAMES))
        b1 = random_condition(rng, 1, [*NUMBER_NAMES, "d1"], [])
        condition = random_condition(rng, 3, [*NUMBER_NAMES, "d1"], ["b1"])
        rule = SimpleNamespace(
            metrics=[SimpleNamespace(name=name, kind=kind) for name, kind in NUMBER_NAMES.items()],
            derived=[
                SimpleNamespace(name="d1", expression=d1, value_type=ValueType.NUMBER),
                SimpleNamespace(name="b1", expression=b1, value_type=ValueType.BOOLEAN),
            ],
        )
        dialect = KustoDialect(never_null=never_null_names(rule), booleans={"b1"})
        environment = {
            "c1": rng.choice([0, 1, 2]),
            "c2": rng.choice([0, 1, 3]),
            "s1": rng.choice([None, 0, 1.5, -2]),
            "s2": rng.choice([None, 0.5, 0.495]),
        }
        engine = dict(environment)
        engine["d1"] = compile_expression(d1)(engine)
        engine["b1"] = compile_expression(b1)(engine)
        kql = {name: Value(value) for name, value in environment.items()}
        kql["d1"] = evaluate_kql(dialect.value(d1), kql)
        kql["b1"] = evaluate_kql(dialect.boolean_value(b1), kql)
        assert kql["b1"] is engine["b1"], dialect.boolean_value(b1)
        expected = compile_expression(condition)(engine) is True
        rendered = dialect.condition(condition)
        assert evaluate_kql(rendered, kql) is expected, rendered


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (0.125, 2, 0.13),
        (2.675, 2, 2.68),
        (99 / 200, 2, 0.5),
        (98 / 199, 2, 0.49),
        (-0.5, 0, -1.0),
        (1.005, 2, 1.01),
    ],
)
def test_round_half_away_function_follows_the_semantics(value: float, digits: int, expected: float) -> None:
    assert round_half_away(value, digits) == expected
    assert kql_round_half_away(value, 10.0**digits).value == expected


def test_round_half_away_function_on_many_values() -> None:
    """Exact wherever |value| * 10^digits < 2^48 (see docs/target-kusto.md)."""
    rng = random.Random(7)
    for _ in range(20000):
        digits = rng.randrange(6)
        value = float(f"{rng.randrange(10 ** rng.randrange(1, 12))}e-{rng.randrange(12)}") * rng.choice(
            (1, -1)
        )
        if abs(value) * 10**digits < 2**48:
            assert kql_round_half_away(value, 10.0**digits).value == round_half_away(value, digits), (
                value,
                digits,
            )


# Microsoft's Kusto.Language analyses every generated query against the vendors' table schemas in
# test_kusto_checked_by_microsoft.py.


def test_legacy_table_reads_columns_a_workspace_may_lack_through_column_ifexists(pack) -> None:
    # Okta_CL gains a column only once an event carried the field: a query naming a missing column
    # fails in Sentinel, so every column Okta does not set on every event is read through column_ifexists
    query = convert(pack, "okta_verify_push_source_response_mismatch", "okta_sentinel_legacy")
    assert (
        'debugContext_debugData_behaviors_s = column_ifexists("debugContext_debugData_behaviors_s", "")'
        in query
    )
    assert 'column_ifexists("eventType_s"' not in query  # set on every event
    head, _, _ = query.partition("| where")
    assert head.rstrip().endswith('outcome_result_s = column_ifexists("outcome_result_s", "")')
    # a fixed table needs none of it
    assert "column_ifexists" not in convert(pack, "okta_verify_push_source_response_mismatch")
