"""The ES|QL target: golden queries, focused fragments per construct, and the derive/condition stages
evaluated with ES|QL's documented value rules against the engine (the reference semantics)."""

from __future__ import annotations

import math
import random
import re
from pathlib import Path

import pytest
from golden import assert_golden
from sigma.exceptions import SigmaConfigurationError, SigmaError, SigmaFeatureNotSupportedByBackendError
from sigma.rule import SigmaRule
from sigma.types import SigmaString

from sigma.backends.okta.engine.evaluate import compile_expression
from sigma.backends.okta.targets.aggregate_plan import AggregateConversionError
from sigma.backends.okta.targets.esql import NUMERIC_TEXT_REGEX, OktaESQLBackend, like_pattern, string_literal
from sigma.pipelines.okta.loader import load_rules
from sigma.pipelines.okta.model import MetricKind
from sigma.pipelines.okta.okta_pipelines import (
    okta_elastic_pipeline,
    okta_ocsf_pipeline,
    okta_splunk_ta_pipeline,
)
from sigma.pipelines.okta.risk_stream import split_stages
from sigma.pipelines.okta.semantics import round_half_away
from sigma.pipelines.okta.standard import as_aggregate

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("golden") / "esql"
RULE_PATHS = [ROOT / "rules", ROOT / "tests" / "conversion" / "rules" / "constructs.yml"]
PIPELINES = {"okta_elastic": okta_elastic_pipeline, "okta_ocsf": okta_ocsf_pipeline}


@pytest.fixture(scope="module")
def pack():
    return load_rules(RULE_PATHS)


def aggregate(pack, name):
    return next(rule for rule in pack.aggregates if rule.name == name)


def convert(pack, name, pipeline="okta_elastic"):
    return OktaESQLBackend(PIPELINES[pipeline]()).convert_aggregate(aggregate(pack, name))


def convert_base(rule: SigmaRule, pipeline="okta_elastic") -> str:
    # a fresh copy: the pack's rules are referenced by correlations, which suppresses their output
    (query,) = OktaESQLBackend(PIPELINES[pipeline]()).convert_rule(SigmaRule.from_dict(rule.to_dict()))
    return query


def load_text(tmp_path, text):
    path = tmp_path / "rules.yml"
    path.write_text(text)
    return load_rules([path])


# --- golden files ----------------------------------------------------------------------------------------


def golden_cases():
    pack = split_stages(load_rules(RULE_PATHS))[0]  # not the rules over the risk stream
    rules = [*pack.aggregates, *pack.standard_correlations, *pack.base_rules]
    return [(rule.name, pipeline) for rule in rules for pipeline in PIPELINES]


#: rules of the pack a schema cannot hold, with the reason (docs/rule-pack.md lists them)
REFUSED = {
    (
        "okta_phishing_detection_with_fastpass_origin_check",
        "okta_ocsf",
    ): "'client.userAgent.browser' is not available",
    ("okta_suspicious_use_of_a_session_cookie", "okta_ocsf"): "'client.userAgent.os' is not available",
    ("okta_sign_on_policy_allowed", "okta_ocsf"): "only equality with SUCCESS, FAILURE",
    # members of the target list: OCSF keeps it as unmapped.target (okta_elastic reads the flattened list)
    (
        "okta_multiple_failed_requests_to_access_applications",
        "okta_ocsf",
    ): "only equality with SUCCESS, FAILURE",
    ("okta_application_sign_on_challenged", "okta_ocsf"): "only equality with SUCCESS, FAILURE",
    ("okta_application_single_sign_on", "okta_ocsf"): "'target.type' is not available",
    ("okta_successful_single_factor_authentication", "okta_ocsf"): "'actor.type' is not available",
    ("okta_user_verified", "okta_ocsf"): "'actor.type' is not available",
}


@pytest.mark.parametrize(("name", "pipeline"), golden_cases())
def test_golden(pack, name, pipeline):
    base = {rule.name: rule for rule in pack.base_rules}
    standard = {rule.name: rule for rule in pack.standard_correlations}
    backend = OktaESQLBackend(PIPELINES[pipeline]())

    def query() -> str:
        if name in base:
            return convert_base(base[name], pipeline)
        if name in standard:
            return backend.convert_aggregate(as_aggregate(standard[name]))
        return convert(pack, name, pipeline)

    if (name, pipeline) in REFUSED:
        with pytest.raises(SigmaError, match=re.escape(REFUSED[name, pipeline])):
            query()
        return
    assert_golden(GOLDEN / f"{name}.{pipeline}.txt", query())


# --- stages and constructs ---------------------------------------------------------------------------------


def test_stages_in_order(pack):
    query = convert(pack, "okta_verify_push_source_response_mismatch")
    commands = [line.split(" ", 2)[1] if line.startswith("|") else "FROM" for line in query.splitlines()]
    assert commands == [
        "FROM",
        "WHERE",
        "EVAL",
        "EVAL",
        "EVAL",
        "STATS",
        "STATS",
        "EVAL",
        "WHERE",
        "KEEP",
        "SORT",
    ]
    assert query.startswith("FROM logs-okta.system-*\n")


def test_selection_and_rule_flags(pack):
    query = convert(pack, "okta_verify_push_source_response_mismatch")
    sent = 'TO_LOWER(okta.event_type) == "system.push.send_factor_verify_push"'
    assert f"| WHERE ({sent}) OR (" in query
    assert f"| EVAL rule_0 = COALESCE({sent}, false), rule_1 = COALESCE(" in query


def test_collapse_fills_missing_values_and_keeps_earliest_time(pack):
    query = convert(pack, "okta_verify_push_source_response_mismatch")
    assert 'client.ipAddress = COALESCE(TO_STRING(okta.client.ip), "NULL")' in query
    assert (
        "| STATS row_time = MIN(@timestamp), event_ids = VALUES(okta.uuid) BY rule_0, rule_1, filter_0, "
        "filter_1, filter_2, filter_3, filter_4, collapse_bucket = DATE_TRUNC(2 seconds, @timestamp), "
        "authenticationContext.externalSessionId, eventType," in query
    )
    # the window of a row is the window of its earliest event (a bucket lies inside one window)
    assert (
        "BY window_start = DATE_TRUNC(1 hour, row_time), authenticationContext.externalSessionId\n" in query
    )
    assert "first_seen = MIN(row_time), event_ids = MV_SORT(VALUES(event_ids))" in query


def test_collapse_where_reads_filled_row_values(pack):
    # the engine evaluates a `where` on the collapsed row, whose missing values read 'NULL'
    query = convert(pack, "okta_verify_push_source_response_mismatch")
    assert 'filter_0 = rule_0 AND COALESCE(TO_LOWER(outcome.result) == "success", false)' in query


def test_multi_valued_risk_behaviors(pack):
    query = convert(pack, "okta_verify_push_source_response_mismatch")
    assert (
        "filter_3 = rule_0 AND COALESCE(MV_CONTAINS(TO_LOWER(okta.debug_context.debug_data.risk_behaviors), "
        '"new device"), false)' in query
    )
    # one collapse key per event, not one row per behavior
    assert (
        "debugContext.debugData.behaviors = COALESCE(MV_CONCAT(MV_SORT("
        'okta.debug_context.debug_data.risk_behaviors), ","), "NULL")' in query
    )
    # OCSF keeps Okta's string
    ocsf = convert(pack, "okta_verify_push_source_response_mismatch", "okta_ocsf")
    assert 'TO_LOWER(debugContext.debugData.behaviors) LIKE "*new device=positive*"' in ocsf


@pytest.mark.parametrize(
    ("kind", "fragment"),
    [
        (
            MetricKind.COUNT,
            "rows = COUNT(*), pushes = COUNT(*) WHERE rule_0, denials = COUNT(*) WHERE filter_1",
        ),
        (MetricKind.DISTINCT, "ips = COALESCE(MV_COUNT(VALUES(client.ipAddress)), 0)"),
        (MetricKind.VALUES, "response_ips = MV_SORT(VALUES(client.ipAddress)) WHERE rule_1"),
        (MetricKind.SUM, "step_sum = SUM(_number_0)"),
        (MetricKind.MIN, "step_min = MIN(_number_0)"),
        (MetricKind.MAX, "step_max = MAX(_number_0)"),
        (MetricKind.AVG, "step_avg = AVG(_number_0)"),
        (MetricKind.FIRST_SEEN, "`first` = MIN(row_time)"),
        (MetricKind.LAST_SEEN, "`last` = MAX(row_time) WHERE rule_0"),
    ],
)
def test_metric_kinds(pack, kind, fragment):
    assert fragment in convert(pack, "constructs_aggregate")


def test_numeric_text_is_parsed_like_the_engine(pack):
    # what the pattern matches is checked by Lucene itself, against the engine's as_number
    # (test_esql_checked_by_elastic.py); here only that the metric reads through it
    query = convert(pack, "constructs_aggregate")
    regex = string_literal(NUMERIC_TEXT_REGEX)
    step = "authenticationContext.authenticationStep"
    assert (
        f"| EVAL _number_0 = CASE({step} RLIKE {regex} AND ABS(TO_DOUBLE({step})) <= 1.7976931348623157E308, "
        f"TO_DOUBLE({step}))\n" in query
    )
    assert "\\\\t" not in regex and "\\t" in regex  # the tab itself, escaped once for the lexer


def test_derived_values_division_rounding_and_seconds(pack):
    query = convert(pack, "constructs_aggregate")
    assert "_round_0 = CASE(pushes == 0, null, TO_DOUBLE(denials) / pushes)" in query
    assert "span_seconds = ((TO_LONG(`last`) / 1000.0) - (TO_LONG(`first`) / 1000.0))" in query
    assert (
        "denial_share = CASE(ABS(_round_0) < 1e12, SIGNUM(_round_0) * (FLOOR(ABS(_round_0) * 100.0) + "
        "CASE(ABS(_round_0) >= (FLOOR(ABS(_round_0) * 100.0) + 0.5) / 100.0, 1, 0)) / 100.0, "
        "ROUND(_round_0, 2))" in query
    )


def test_condition_is_native_three_valued_logic(pack):
    query = convert(pack, "constructs_aggregate")
    assert (
        "| WHERE (denial_share >= 0.5 OR NOT (new_device_pushes < 1)) AND ips != 1 AND "
        "(span_seconds > -1 OR weighted == 0) AND NOT (odd_ips > 100 AND rows > 1000)\n" in query
    )


def test_output_columns_named_as_in_the_rule(pack):
    query = convert(pack, "okta_verify_push_source_response_mismatch")
    assert query.endswith(
        "| KEEP window_start, authenticationContext.externalSessionId, first_seen, dc_ip, total_pushes, "
        "total_successes, total_rejected, suspect_device_from_source, suspect_ip_from_source, ratio, user, "
        "src, dest, event_ids\n| SORT window_start, authenticationContext.externalSessionId"
    )
    assert "src = MV_SORT(VALUES(client.ipAddress)) WHERE rule_0" in query
    assert "dest = MV_SORT(VALUES(client.ipAddress)) WHERE rule_1" in query


def test_keyword_names_are_quoted(pack):
    query = convert(pack, "constructs_aggregate")
    assert "`first`, `last`" in query  # FIRST and LAST are ES|QL keywords
    ocsf = convert(pack, "constructs_aggregate", "okta_ocsf")
    assert "TO_LOWER(`metadata.event_code`) ==" in ocsf  # METADATA is one too
    assert "unmapped.debugContext.debugData.factor" in ocsf  # dotted names stay plain


def test_ocsf_time_and_source(pack):
    query = convert(pack, "okta_verify_push_source_response_mismatch", "okta_ocsf")
    assert query.startswith("FROM ocsf_authentication\n")
    assert "collapse_bucket = DATE_TRUNC(2 seconds, TO_DATETIME(time))" in query
    assert 'outcome.result = COALESCE(status, "NULL")' in query
    assert 'TO_LOWER(outcome.result) == "success"' in query  # value mapped, then compared without case


def test_no_collapse_aliases_typed_fields(tmp_path):
    pack = load_text(
        tmp_path,
        """
title: Push
id: 11111111-3a4b-4c5d-8e6f-708192a3b4c5
name: t_push
logsource: {product: okta, service: okta}
detection:
  selection: {eventType: system.push.send_factor_verify_push}
  condition: selection
---
title: Response
id: 22222222-4e5f-4a6b-9c7d-8e9fa0b1c2d3
name: t_resp
logsource: {product: okta, service: okta}
detection:
  selection: {eventType: user.authentication.auth_via_mfa}
  condition: selection
---
title: No collapse
id: 33333333-5f6a-4b7c-8d9e-0f1a2b3c4d5e
name: t_nocollapse
correlation:
  type: aggregate
  rules: [t_push, t_resp]
  group-by: [who]
  aliases:
    who: {t_push: actor.alternateId, t_resp: actor.displayName}
  timespan: 1d
  metrics:
    ips: {type: distinct, field: client.ipAddress}
    steps: {type: sum, field: authenticationContext.authenticationStep}
    seen: {type: last_seen}
  condition: ips > 1 and seen > 0 and steps > 0
  fields:
    behaviors: debugContext.debugData.behaviors
""",
    )
    query = OktaESQLBackend(okta_elastic_pipeline()).convert_aggregate(pack.aggregates[0])
    assert (
        'who = COALESCE(CASE(rule_0, okta.actor.alternate_id, rule_1, okta.actor.display_name), "NULL")'
        in query
    )
    assert "ips = COALESCE(MV_COUNT(VALUES(TO_STRING(okta.client.ip))), 0)" in query  # texts, not addresses
    assert "steps = SUM(okta.authentication_context.authentication_step)" in query  # an integer field
    assert "seen = MAX(@timestamp)" in query
    # a day is 24 hours: `1 day` is a calendar period, a duration counts from the epoch
    assert "BY window_start = DATE_TRUNC(24 hours, @timestamp), who\n" in query
    assert (
        'behaviors = MV_SORT(VALUES(MV_CONCAT(MV_SORT(okta.debug_context.debug_data.risk_behaviors), ",")))'
        in query
    )
    assert "row_time" not in query


# --- base rules: Sigma's semantics where pySigma's backend differs ------------------------------------------


def test_base_rule_is_case_insensitive_and_keeps_the_official_frame(pack):
    base = {rule.name: rule for rule in pack.base_rules}
    assert convert_base(base["okta_verify_push_sent"]) == (
        "from logs-okta.system-* metadata _id, _index, _version | where "
        'TO_LOWER(okta.event_type) == "system.push.send_factor_verify_push"'
    )


def test_not_reads_a_missing_field_as_false(pack):
    base = {rule.name: rule for rule in pack.base_rules}
    query = convert_base(base["constructs_response"])
    assert 'AND NOT COALESCE(TO_LOWER(okta.client.user_agent.raw_user_agent) LIKE "*curl/*" OR ' in query


def test_values_with_quotes_wildcards_and_backslashes(pack):
    base = {rule.name: rule for rule in pack.base_rules}
    query = convert_base(base["constructs_response"])
    # pattern escape for the backslash, then string escape for both: four backslashes in the query
    assert r'LIKE "*it\'s \"quoted\" \\\\ back*slash*"'.replace("\\'", "'") in query
    literal_star = SigmaString("a\\*b*")  # an escaped star is a literal star
    assert like_pattern(literal_star, lower=True) == r'"a\\*b*"'
    assert like_pattern(SigmaString("Q?\\\\x"), lower=True) == r'"q?\\\\x"'
    assert string_literal('say "hi"\n\\') == r'"say \"hi\"\n\\"'


def test_cased_values_stay_exact(tmp_path):
    pack = load_text(
        tmp_path,
        """
title: Cased
id: 44444444-3a4b-4c5d-8e6f-708192a3b4c5
name: cased
logsource: {product: okta, service: okta}
detection:
  selection:
    eventType|cased: User.Session.Start
    displayMessage|cased|contains: 'Push\\*'
  condition: selection
""",
    )
    query = convert_base(pack.base_rules[0])
    assert 'okta.event_type == "User.Session.Start"' in query
    assert r'okta.display_message LIKE "*Push\\**"' in query


def test_typed_fields(tmp_path):
    pack = load_text(
        tmp_path,
        """
title: Typed
id: 55555555-3a4b-4c5d-8e6f-708192a3b4c5
name: typed
logsource: {product: okta, service: okta}
detection:
  ip: {client.ipAddress: 203.0.113.7}
  prefix: {client.ipAddress|startswith: '198.51.'}
  net: {client.ipAddress|cidr: 10.0.0.0/8}
  proxy: {securityContext.isProxy: 'true'}
  step: {authenticationContext.authenticationStep|gte: 2}
  condition: ip or prefix or net or proxy or step
""",
    )
    query = convert_base(pack.base_rules[0])
    assert 'okta.client.ip == TO_IP("203.0.113.7")' in query
    assert 'TO_STRING(okta.client.ip) LIKE "198.51.*"' in query
    assert 'CIDR_MATCH(okta.client.ip, "10.0.0.0/8")' in query
    assert "okta.security_context.is_proxy == true" in query
    assert "okta.authentication_context.authentication_step >= 2" in query


def test_regular_expressions_are_refused(tmp_path):
    pack = load_text(
        tmp_path,
        """
title: Regex
id: 66666666-3a4b-4c5d-8e6f-708192a3b4c5
name: regex
logsource: {product: okta, service: okta}
detection:
  selection: {actor.alternateId|re: '^0oa'}
  condition: selection
""",
    )
    with pytest.raises(SigmaFeatureNotSupportedByBackendError, match=r"\|re"):
        convert_base(pack.base_rules[0])


# --- refusals ------------------------------------------------------------------------------------------------


def test_other_pipelines_are_refused(pack):
    backend = OktaESQLBackend(okta_splunk_ta_pipeline())
    with pytest.raises(SigmaConfigurationError, match=r"okta_elastic, okta_ocsf.*'okta_splunk_ta'"):
        backend.convert_aggregate(aggregate(pack, "okta_verify_push_source_response_mismatch"))


def test_an_output_name_taken_by_a_fixed_column_is_refused(tmp_path):
    pack = load_text(
        tmp_path,
        """
title: Push
id: 77777777-3a4b-4c5d-8e6f-708192a3b4c5
name: t_push
logsource: {product: okta, service: okta}
detection:
  selection: {eventType: system.push.send_factor_verify_push}
  condition: selection
---
title: Clash
id: 88888888-5f6a-4b7c-8d9e-0f1a2b3c4d5e
name: clash
correlation:
  type: aggregate
  rules: [t_push]
  timespan: 1h
  metrics:
    first_seen: {type: first_seen}
  condition: first_seen > 0
""",
    )
    with pytest.raises(
        AggregateConversionError,
        match="the output column 'first_seen': two output columns would have this name",
    ):
        OktaESQLBackend(okta_elastic_pipeline()).convert_aggregate(pack.aggregates[0])


def test_a_numeric_metric_on_an_address_is_refused(tmp_path):
    pack = load_text(
        tmp_path,
        """
title: Push
id: 99999999-3a4b-4c5d-8e6f-708192a3b4c5
name: t_push
logsource: {product: okta, service: okta}
detection:
  selection: {eventType: system.push.send_factor_verify_push}
  condition: selection
---
title: Sum of addresses
id: aaaaaaaa-5f6a-4b7c-8d9e-0f1a2b3c4d5e
name: sum_ip
correlation:
  type: aggregate
  rules: [t_push]
  timespan: 1h
  metrics:
    total: {type: sum, field: client.ipAddress}
  condition: total > 0
""",
    )
    with pytest.raises(
        AggregateConversionError, match=r"numeric value of 'okta\.client\.ip'.*ip: never a number"
    ):
        OktaESQLBackend(okta_elastic_pipeline()).convert_aggregate(pack.aggregates[0])


# --- the derive and condition stages, evaluated as ES|QL evaluates them ------------------------------------


class ESQLValues:
    """A small evaluator for the expression subset the derive and condition stages use, with ES|QL's
    documented rules: null propagates through arithmetic, functions and comparisons; AND/OR/NOT are
    three-valued (esql-null-values.md); integer `/` truncates; a non-finite double is null (with a
    warning); ROUND is Maths.round (x * 10^n rounded half up on its absolute value)."""

    TOKEN = re.compile(r"\s*(?:(\d+\.?\d*(?:e-?\d+)?)|(`[^`]+`|[A-Za-z_@][\w.@]*)|(==|!=|<=|>=|[-+*/(),<>]))")

    def __init__(self, text: str, row: dict):
        self.tokens = [m.group(1) or m.group(2) or m.group(3) for m in self.TOKEN.finditer(text)]
        self.position = 0
        self.row = row

    def peek(self):
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected=None):
        token = self.peek()
        assert expected is None or (token or "").upper() == expected, (token, expected)
        self.position += 1
        return token

    def parse(self):
        value = self.disjunction()
        assert self.peek() is None, self.tokens[self.position :]
        return value

    def disjunction(self):
        value = self.conjunction()
        while (self.peek() or "").upper() == "OR":
            self.take()
            right = self.conjunction()
            value = True if True in (value, right) else None if None in (value, right) else False
        return value

    def conjunction(self):
        value = self.negation()
        while (self.peek() or "").upper() == "AND":
            self.take()
            right = self.negation()
            value = False if False in (value, right) else None if None in (value, right) else True
        return value

    def negation(self):
        if (self.peek() or "").upper() == "NOT":
            self.take()
            value = self.negation()
            return None if value is None else not value
        return self.comparison()

    def comparison(self):
        left = self.sum()
        if (self.peek() or "").upper() == "IS":
            self.take()
            negated = (self.peek() or "").upper() == "NOT"
            if negated:
                self.take()
            self.take("NULL")
            return (left is None) != negated
        if self.peek() in ("==", "!=", "<", "<=", ">", ">="):
            operator = self.take()
            right = self.sum()
            if left is None or right is None:
                return None
            return {"==": left == right, "!=": left != right, "<": left < right, "<=": left <= right,
                    ">": left > right, ">=": left >= right}[operator]  # fmt: skip
        return left

    def sum(self):
        value = self.product()
        while self.peek() in ("+", "-"):
            operator, right = self.take(), self.product()
            value = self.finite(
                None if None in (value, right) else value + right if operator == "+" else value - right
            )
        return value

    def product(self):
        value = self.unary()
        while self.peek() in ("*", "/"):
            operator, right = self.take(), self.unary()
            if None in (value, right):
                value = None
            elif operator == "*":
                value = self.finite(value * right)
            elif right == 0:
                value = None  # "/ by zero" or a non-finite double: null with a warning
            elif isinstance(value, int) and isinstance(right, int):
                value = int(value / right)  # truncates towards zero
            else:
                value = self.finite(value / right)
        return value

    def unary(self):
        if self.peek() == "-":
            self.take()
            value = self.unary()
            return None if value is None else -value
        return self.primary()

    def primary(self):
        token = self.take()
        if token == "(":
            value = self.disjunction()
            self.take(")")
            return value
        if re.fullmatch(r"\d.*", token):
            return float(token) if re.search(r"[.e]", token) else int(token)
        if token.lower() in ("null", "true", "false"):
            return {"null": None, "true": True, "false": False}[token.lower()]
        if self.peek() == "(":
            self.take("(")
            arguments = [] if self.peek() == ")" else [self.disjunction()]
            while self.peek() == ",":
                self.take()
                arguments.append(self.disjunction())
            self.take(")")
            return self.call(token.upper(), arguments)
        return self.row[token.strip("`")]

    @staticmethod
    def finite(value):
        return value if value is None or isinstance(value, int) or math.isfinite(value) else None

    @staticmethod
    def call(name, arguments):
        if name == "CASE":
            for index in range(0, len(arguments) - 1, 2):
                if arguments[index] is True:
                    return arguments[index + 1]
            return arguments[-1] if len(arguments) % 2 else None
        if name == "COALESCE":
            return next((value for value in arguments if value is not None), None)
        if None in arguments:
            return None
        (value, *rest) = arguments
        match name:
            case "TO_DOUBLE":
                return float(value)
            case "TO_LONG":
                return int(value)
            case "ABS":
                return abs(value)
            case "FLOOR":
                return math.floor(value) if isinstance(value, int) else float(math.floor(value))
            case "SIGNUM":
                return float((value > 0) - (value < 0))
            case "ROUND":
                scale = 10.0 ** rest[0]
                middle = abs(value * scale)
                rounded = math.floor(middle) + (1 if middle - math.floor(middle) >= 0.5 else 0)
                return math.copysign(rounded / scale, value) if value else 0.0
        raise AssertionError(name)


def esql_stages(query: str):
    """The EVAL lines after the window STATS and the final WHERE, as (assignments, condition)."""
    lines = query.splitlines()
    start = max(index for index, line in enumerate(lines) if line.startswith("| STATS")) + 1
    evals = [line[len("| EVAL ") :] for line in lines[start:] if line.startswith("| EVAL ")]
    (condition,) = [line[len("| WHERE ") :] for line in lines[start:] if line.startswith("| WHERE ")]
    assignments = []
    for line in evals:
        depth, current = 0, ""
        for char in line + ",":
            if char == "," and depth == 0:
                name, value = current.split(" = ", 1)
                assignments.append((name.strip().strip("`"), value))
                current = ""
                continue
            depth += (char == "(") - (char == ")")
            current += char
    return assignments, condition


def random_metrics(rule, generator):
    """Per metric an ES|QL column value (dates as epoch ms) and the engine's value (seconds)."""
    esql, engine = {}, {}
    for metric in rule.metrics:
        nullable = metric.kind not in (MetricKind.COUNT, MetricKind.DISTINCT)
        if nullable and generator.random() < 0.25:
            esql[metric.name] = engine[metric.name] = None
        elif metric.kind in (MetricKind.FIRST_SEEN, MetricKind.LAST_SEEN):
            esql[metric.name] = generator.randrange(1_700_000_000_000, 1_700_000_100_000)
            engine[metric.name] = esql[metric.name] / 1000
        elif metric.kind is MetricKind.AVG:
            esql[metric.name] = engine[metric.name] = generator.choice([0.5, 1.25, 2 / 3, 1.0, 3.5, -0.125])
        else:
            esql[metric.name] = engine[metric.name] = generator.choice([0, 1, 2, 3, 5, 8, 57, 99, 200, 1001])
    return esql, engine


@pytest.mark.parametrize("name", ["okta_verify_push_source_response_mismatch", "constructs_aggregate"])
def test_derived_values_and_condition_match_the_engine(pack, name):
    rule = aggregate(pack, name)
    assignments, condition = esql_stages(convert(pack, name))
    derived = [(d.name, compile_expression(d.expression)) for d in rule.derived]
    holds = compile_expression(rule.condition)
    generator = random.Random(7)
    outcomes = set()
    for _ in range(3000):
        row, environment = random_metrics(rule, generator)
        for column, value in assignments:
            row[column] = ESQLValues(value, row).parse()
        for derived_name, compute in derived:
            environment[derived_name] = compute(environment)
            assert row[derived_name] == environment[derived_name], (derived_name, row, environment)
        expected = holds(environment) is True
        assert (ESQLValues(condition, row).parse() is True) == expected, (row, environment)
        outcomes.add(expected)
    assert outcomes == {True, False}  # the sample reaches both answers


def test_round_is_half_away_from_zero_on_the_shortest_decimal():
    # 57 / 200 = 0.285 is stored as 0.28499999999999998; ES|QL's ROUND multiplies first and gives 0.28
    def rendered_round(x, digits):
        from sigma.backends.okta.targets.esql import ESQLDialect

        dialect = ESQLDialect({})
        expression = dialect.round("x", digits)
        row = {"x": x}
        for column, value in dialect.take_bindings():
            row[column] = ESQLValues(value, row).parse()
        return ESQLValues(expression, row).parse()

    assert ESQLValues("ROUND(x, 2)", {"x": 57 / 200}).parse() == 0.28
    for x, digits in [(57 / 200, 2), (0.125, 2), (-0.5, 0), (99 / 200, 2), (1.005, 2), (-2.675, 2), (7, 0)]:
        assert rendered_round(x, digits) == round_half_away(x, digits), (x, digits)
    generator = random.Random(3)
    for _ in range(20000):
        digits = generator.randrange(0, 5)
        x = (generator.randrange(-(10**6), 10**6) + 0.5) / 10**digits
        x = generator.choice(
            [x, math.nextafter(x, 0.0), math.nextafter(x, math.inf), generator.uniform(-50, 50)]
        )
        assert rendered_round(x, digits) == round_half_away(x, digits), (x, digits)


@pytest.mark.parametrize(
    ("condition", "row", "holds"),
    [
        ("not ratio < 0.5", {"ratio": None}, False),  # NOT unknown is unknown: no alert
        ("not ratio < 0.5", {"ratio": 0.75}, True),
        ("not (ratio < 0.5 and n > 1)", {"ratio": None, "n": 0}, True),  # false AND unknown = false
        ("ratio < 0.5 or n > 1", {"ratio": None, "n": 2}, True),  # unknown OR true = true
        ("ratio < 0.5 or n > 1", {"ratio": None, "n": 1}, False),
    ],
)
def test_null_logic_of_the_condition(condition, row, holds):
    from sigma.backends.okta.targets.esql import ESQLDialect
    from sigma.pipelines.okta.expression import parse

    expression = parse(condition)
    rendered = ESQLDialect({"ratio": "ratio", "n": "n"}).condition(expression)
    assert (ESQLValues(rendered, row).parse() is True) is holds
    assert (compile_expression(expression)(row) is True) is holds
