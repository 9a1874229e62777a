"""The shared plan of the `aggregate` correlation (backends/targets/aggregate_plan.py): the hooks that every
target plugs into, checked on their own (each target's tests check what it renders with them)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from okta_builders import BASE_RULES
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.rule import SigmaRule

from sigma.backends.okta.targets.aggregate_plan import (
    AggregateConversionError,
    AggregateQuery,
    ExpressionDialect,
    RowField,
    detection_expression,
    never_null_names,
    plan_aggregate,
)
from sigma.backends.okta.targets.esql import OktaESQLBackend
from sigma.backends.okta.targets.kusto import OktaKustoBackend
from sigma.backends.okta.targets.splunk import OktaSplunkBackend
from sigma.pipelines.okta.expression import parse
from sigma.pipelines.okta.loader import load_rules
from sigma.pipelines.okta.okta_pipelines import (
    okta_elastic_pipeline,
    okta_sentinel_pipeline,
    okta_splunk_ta_pipeline,
)
from sigma.pipelines.okta.semantics import NULL_TEXT

SESSION = "authenticationContext.externalSessionId"
IP = "client.ipAddress"
RESULT = "outcome.result"


def aggregate(tmp_path: Path, **correlation):
    body = {"type": "aggregate", "rules": ["push", "response"], "timespan": "1h", **correlation}
    document = {"title": "Custom", "id": "0b1c2d3e-0000-4000-8000-0000000000ff", "name": "custom"}
    path = tmp_path / "custom.yml"
    text = BASE_RULES + "---\n" + yaml.safe_dump({**document, "correlation": body}, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return load_rules([path]).aggregates[0]


def plan(rule, **hooks) -> AggregateQuery:
    backend = OktaKustoBackend(okta_sentinel_pipeline())
    return plan_aggregate(rule, backend, "kusto", default_time_field="TimeGenerated", **hooks)


COLLAPSED = {
    "group-by": [SESSION],
    "collapse": {"span": "2s", "fields": [SESSION, IP, RESULT], "missing": "-"},
    "metrics": {
        "rows": {"type": "count"},
        "failed": {"type": "count", "rule": "response", "where": {RESULT: "FAILURE"}},
        "pushes": {"type": "count", "rule": "push"},
        "ips": {"type": "distinct", "field": IP},
    },
    "condition": "failed > 0",
}


# --- plan_aggregate: detections, `where`s and their errors ---------------------------------------------


def test_a_where_is_rendered_apart_and_reads_the_row(tmp_path) -> None:
    rule = aggregate(tmp_path, **COLLAPSED)
    calls = []

    def render_where(where: SigmaRule, query: AggregateQuery) -> str:
        calls.append((where.title, dict(query.where_fields)))
        return "WHERE-TEXT"

    query = plan(rule, render_detection=lambda sigma_rule: sigma_rule.name, render_where=render_where)
    assert query.rule_conditions == ["push", "response"]  # only the referenced rules
    (call,) = calls
    assert call[0] == "where"
    assert {field: (row.name, row.fill) for field, row in call[1].items()} == {
        "ActorSessionId": (SESSION, "-"),  # the collapse's fill before the group-by's
        "SrcIpAddr": (IP, "-"),
        "OriginalOutcomeResult": (RESULT, "-"),
    }
    failed = query.filters[0]
    assert (failed.rule_index, failed.where) == (1, "WHERE-TEXT")
    assert query.flag_of(query.metrics[1]) == "filter_0"  # a `where`: its own flag
    assert query.flag_of(query.metrics[2]) == "rule_0"  # only a rule: the rule's flag
    assert query.flag_of(query.metrics[0]) is None


def test_by_default_a_where_is_rendered_like_a_detection(tmp_path) -> None:
    rule = aggregate(tmp_path, **COLLAPSED)
    query = plan(rule, render_detection=lambda sigma_rule: f"<{sigma_rule.title}>")
    assert query.filters[0].where == "<where>"


def test_backend_errors_name_the_where_of_the_metric(tmp_path) -> None:
    rule = aggregate(tmp_path, **COLLAPSED)

    def refuse(where: SigmaRule, query: AggregateQuery) -> str:
        raise SigmaFeatureNotSupportedByBackendError("no such operator")

    with pytest.raises(
        AggregateConversionError, match="the `where` of metric 'failed': no such operator"
    ) as raised:
        plan(rule, render_where=refuse)
    assert isinstance(raised.value.__cause__, SigmaFeatureNotSupportedByBackendError)
    assert raised.value.source is rule.source


def test_backend_errors_name_the_rule(tmp_path) -> None:
    rule = aggregate(tmp_path, **COLLAPSED)

    def refuse(sigma_rule: SigmaRule) -> str:
        raise SigmaFeatureNotSupportedByBackendError("no such operator")

    with pytest.raises(AggregateConversionError, match="cannot express rule 'push': no such operator"):
        plan(rule, render_detection=refuse)


def test_aggregate_conversion_errors_pass_unchanged(tmp_path) -> None:
    rule = aggregate(tmp_path, **COLLAPSED)

    def refuse(sigma_rule: SigmaRule) -> str:
        raise AggregateConversionError("a construct", "kusto", "as it is")

    with pytest.raises(
        AggregateConversionError, match=r"^the kusto target cannot express a construct: as it is$"
    ):
        plan(rule, render_detection=refuse)


def test_the_default_renderer_is_the_backends(tmp_path) -> None:
    rule = aggregate(tmp_path, **COLLAPSED)
    backend = OktaKustoBackend(okta_sentinel_pipeline())
    query = plan_aggregate(rule, backend, "kusto", default_time_field="TimeGenerated")
    assert query.rule_conditions[0] == detection_expression(backend, rule.referenced_rules[0], "kusto")


# --- rows, fields and output columns --------------------------------------------------------------------


def test_row_fields_hold_a_field_once_when_group_and_collapse_fill_alike(tmp_path) -> None:
    same = aggregate(tmp_path, **{**COLLAPSED, "collapse": {"span": "2s", "fields": [IP, SESSION, RESULT]}})
    rows = plan(same).row_fields
    assert [(row.name, row.fill, row.group_by) for row in rows] == [
        (SESSION, NULL_TEXT, True),
        (IP, NULL_TEXT, False),
        (RESULT, NULL_TEXT, False),
    ]
    other = plan(aggregate(tmp_path, **COLLAPSED)).row_fields  # missing: '-' differs from NULL
    assert [(row.name, row.fill, row.group_by) for row in other] == [
        (SESSION, NULL_TEXT, True),
        (SESSION, "-", False),
        (IP, "-", False),
        (RESULT, "-", False),
    ]


def test_a_metric_reads_the_collapse_column_before_the_group_column(tmp_path) -> None:
    body = {
        **COLLAPSED,
        "metrics": {**COLLAPSED["metrics"], "sessions": {"type": "distinct", "field": SESSION}},
    }
    query = plan(aggregate(tmp_path, **body))
    sessions = next(metric for metric in query.metrics if metric.name == "sessions")
    assert query.row_field_of(sessions) == RowField(query.group_by[0], "-", group_by=False)


def test_without_a_collapse_a_where_reads_the_events(tmp_path) -> None:
    body = {key: value for key, value in COLLAPSED.items() if key != "collapse"}
    query = plan(aggregate(tmp_path, **body))
    assert query.where_fields == {}
    assert [row.name for row in query.row_fields] == [SESSION]  # the group keys


def test_output_columns_and_their_clashes(tmp_path) -> None:
    body = {
        **COLLAPSED,
        "collapse": {"span": "2s", "fields": [SESSION, IP, RESULT, "actor.alternateId"]},
        "derived": {"share": "failed / rows"},
        "fields": {"users": "actor.alternateId"},
    }
    query = plan(aggregate(tmp_path, **body))
    assert query.output_columns("window_start") == [
        "window_start",
        SESSION,
        "first_seen",
        "rows",
        "failed",
        "pushes",
        "ips",
        "share",
        "users",
        "event_ids",
    ]
    query.check_columns(query.output_columns("window_start"))
    with pytest.raises(AggregateConversionError, match="the output column 'ROWS': two output columns"):
        query.check_columns(["rows", "ROWS"], key=str.lower)
    assert [ref.name for ref in query.fields_read] == [
        *(SESSION, SESSION, IP, RESULT, "actor.alternateId"),  # group-by, collapse
        *(IP, "actor.alternateId"),  # metric and output fields
    ]


# --- what expressions know about names ------------------------------------------------------------------


def test_never_null_names(tmp_path) -> None:
    rule = aggregate(
        tmp_path,
        metrics={
            "n": {"type": "count"},
            "d": {"type": "distinct", "field": IP},
            "s": {"type": "sum", "field": "authenticationContext.authenticationStep"},
            "first": {"type": "first_seen"},
        },
        derived={
            "twice": "round(n * 2 - d, 1)",
            "share": "n / d",
            "shifted": "s + 1",
            "later": "twice + 1",
            "many": "n > 2",
        },
        condition="many and later > 0",
    )
    assert never_null_names(rule) == {"n", "d", "twice", "later"}
    query = plan(rule)
    assert query.never_null == never_null_names(rule)
    assert query.booleans == {"many"}
    assert query.time_names == {"first"}


class Dialect(ExpressionDialect):
    """A two-valued test language: the defaults, with null tests and a round that binds its operand."""

    def __init__(self, **knowledge) -> None:
        super().__init__(**knowledge)
        self.rounds = 0

    def is_null(self, value: str) -> str:
        return f"ISNULL({value})"

    def is_not_null(self, value: str) -> str:
        return f"DEFINED({value})"

    def divide(self, numerator: str, denominator: str) -> str:
        return f"DIV({numerator}, {denominator})"

    def round(self, value: str, digits: int) -> str:
        column = self.bind(value, f"r{self.rounds}")
        self.rounds += 1
        return f"ROUND({column}, {digits})"


def test_nullable_follows_the_plans_knowledge() -> None:
    knowing = Dialect(never_null={"n"})
    assert knowing.condition(parse("n > 1 and s > n + 1")) == "(n > 1 AND (DEFINED(s) AND s > (n + 1)))"
    assert knowing.condition(parse("n / 2 > 1")) == "(DEFINED(DIV(n, 2)) AND DIV(n, 2) > 1)"
    # nothing known: every operand but a literal is tested
    assert Dialect().condition(parse("n > 1")) == "(DEFINED(n) AND n > 1)"
    assert Dialect().condition(parse("n > 2 * 3")) == "(DEFINED(n) AND DEFINED((2 * 3)) AND n > (2 * 3))"


def test_negate_is_a_hook() -> None:
    assert Dialect().value(parse("-x")) == "(-x)"

    class Product(Dialect):
        def negate(self, value: str) -> str:
            return f"(-1 * {value})"

    assert Product().value(parse("-(x + 1)")) == "(-1 * (x + 1))"


def test_a_boolean_name_is_true_false_or_unknown() -> None:
    dialect = Dialect(never_null=(), booleans={"deep"})
    assert dialect.condition(parse("deep")) == "(DEFINED(deep) AND deep)"
    assert dialect.condition(parse("not deep")) == "(DEFINED(deep) AND NOT (deep))"
    with pytest.raises(TypeError, match="not a condition"):
        Dialect().condition(parse("deep"))  # a name the plan does not call boolean


def test_decide_emits_each_binding_before_its_use(tmp_path) -> None:
    rule = aggregate(
        tmp_path,
        metrics={"n": {"type": "count"}, "d": {"type": "distinct", "field": IP}},
        derived={"share": "round(n / d, 2)", "more": "share + round(d, 0)"},
        condition="round(more, 1) > 1",
    )
    decision = Dialect(never_null=never_null_names(rule)).decide(plan(rule))
    assert decision.derived == [
        [("r0", "DIV(n, d)"), ("share", "ROUND(r0, 2)")],
        [("r1", "d"), ("more", "(share + ROUND(r1, 0))")],
    ]
    assert decision.bindings == [("r2", "more")]
    assert decision.condition == "(DEFINED(ROUND(r2, 1)) AND ROUND(r2, 1) > 1)"


# --- boolean derived values, per target -----------------------------------------------------------------

DEEP = {
    "metrics": {"steps": {"type": "max", "field": "authenticationContext.authenticationStep"}},
    "derived": {"deep": "steps > 2"},
    "condition": "not deep",
}


def test_spl_holds_a_boolean_derived_value_as_text(tmp_path) -> None:
    # eval has no boolean: "true"/"false", and null (case() with no branch taken) where it is unknown
    query = OktaSplunkBackend(okta_splunk_ta_pipeline()).convert_aggregate(aggregate(tmp_path, **DEEP))
    assert (
        '| eval deep=case((isnotnull(steps) AND steps > 2), "true", (isnotnull(steps) AND NOT (steps > 2)), "false")\n'
        in query
    )
    assert '| where deep="false"\n' in query  # `not deep`: a null deep is neither


def test_esql_holds_a_boolean_derived_value_natively(tmp_path) -> None:
    query = OktaESQLBackend(okta_elastic_pipeline()).convert_aggregate(aggregate(tmp_path, **DEEP))
    assert "| EVAL deep = steps > 2\n| WHERE NOT (deep)\n" in query


def test_kql_holds_a_boolean_derived_value(tmp_path) -> None:
    query = OktaKustoBackend(okta_sentinel_pipeline()).convert_aggregate(aggregate(tmp_path, **DEEP))
    assert "| where not(coalesce(deep, true))\n" in query


RENAMING = f"""\
name: renamed export
transformations:
  - type: field_name_mapping
    mapping:
      {SESSION}: session
      {IP}: ip
"""


def test_a_pipeline_without_an_okta_schema_maps_the_aggregates_fields_as_it_maps_the_rules(tmp_path) -> None:
    from sigma.processing.pipeline import ProcessingPipeline

    from sigma.backends.okta.targets.sql import OktaDuckDBBackend

    backend = OktaDuckDBBackend(ProcessingPipeline.from_yaml(RENAMING))
    query = plan_aggregate(
        aggregate(tmp_path, **COLLAPSED), backend, "duckdb", default_time_field="published"
    )
    assert [ref.per_rule for ref in query.group_by] == [("session", "session")]
    assert [ref.per_rule for ref in query.collapse.fields] == [("session",) * 2, ("ip",) * 2, (RESULT,) * 2]
