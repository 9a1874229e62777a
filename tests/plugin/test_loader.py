"""Loading rule packs: the bundled pack, multi-document files, references, and every validation error."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from shared_corpus import SIGMAHQ_OKTA_RULES
from sigma.correlations import SigmaCorrelationRule

from sigma.pipelines.okta.errors import RulePackError
from sigma.pipelines.okta.expression import to_text
from sigma.pipelines.okta.loader import bundled_rules_path, load_bundled, load_rules
from sigma.pipelines.okta.model import MetricKind

PUSH_RULE = "okta_verify_push_source_response_mismatch"

SHARED_SIGMAHQ = SIGMAHQ_OKTA_RULES

BASE_RULES = """\
title: Push sent
id: 11111111-1111-4111-8111-111111111111
name: push_sent
logsource: {product: okta, service: okta}
detection:
  selection:
    eventType: system.push.send_factor_verify_push
  condition: selection
---
title: Push response
id: 22222222-2222-4222-8222-222222222222
name: push_response
logsource: {product: okta, service: okta}
detection:
  selection:
    eventType: user.authentication.auth_via_mfa
    debugContext.debugData.factor: OKTA_VERIFY_PUSH
  condition: selection
"""

AGGREGATE = """\
title: Pushes per session
name: pushes_per_session
correlation:
  type: aggregate
  rules: [push_sent, push_response]
  group-by: [authenticationContext.externalSessionId]
  timespan: 1h
  metrics:
    pushes:
      type: count
      rule: push_sent
    denials:
      type: count
      rule: push_response
      where:
        outcome.result: FAILURE
  derived:
    share: round(denials / pushes, 2)
  condition: pushes > 1 and share < 0.5
"""


def write(tmp_path: Path, text: str, name: str = "rules.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def load_text(tmp_path: Path, aggregate: str) -> RulePackError | None:
    write(tmp_path, BASE_RULES, "base.yml")
    write(tmp_path, aggregate, "aggregate.yml")
    try:
        load_rules([tmp_path])
    except RulePackError as error:
        return error
    return None


class TestBundledPack:
    def test_loads_the_escu_translation(self):
        pack = load_bundled()
        assert {"okta_verify_push_sent", "okta_verify_push_response"} <= {
            rule.name for rule in pack.base_rules
        }
        (rule,) = [rule for rule in pack.aggregates if rule.name == PUSH_RULE]
        assert str(rule.id) == "8085b79b-9b85-4e67-ad63-351c9e9a5e9a"
        assert rule.title == "Okta Mismatch Between Source and Response for Verify Push Request"
        assert rule.group_by == ["authenticationContext.externalSessionId"]
        assert rule.timespan.seconds == 3600
        assert rule.collapse.span.seconds == 2
        assert len(rule.collapse.fields) == 9
        assert rule.collapse.missing == "NULL"
        assert [(m.name, m.kind) for m in rule.metrics] == [
            ("dc_ip", MetricKind.DISTINCT),
            ("total_pushes", MetricKind.COUNT),
            ("total_successes", MetricKind.COUNT),
            ("total_rejected", MetricKind.COUNT),
            ("suspect_device_from_source", MetricKind.COUNT),
            ("suspect_ip_from_source", MetricKind.COUNT),
        ]
        assert [d.name for d in rule.derived] == ["ratio"]
        assert to_text(rule.condition) == (
            "((ratio < 0.5 and total_pushes > 1) or total_rejected > 0) and dc_ip > 1 "
            "and suspect_device_from_source > 0 and suspect_ip_from_source > 0"
        )
        assert [o.name for o in rule.outputs] == ["user", "src", "dest"]
        assert rule.custom_attributes["risk"] == {"object": "user", "object_type": "user", "score": 50}
        assert "attack.t1621" in {str(tag) for tag in rule.tags}
        assert str(rule.level) == "medium"

    def test_referenced_rules_are_resolved_and_silenced(self):
        pack = load_bundled()
        (rule,) = [rule for rule in pack.aggregates if rule.name == PUSH_RULE]
        assert [r.name for r in rule.referenced_rules] == [
            "okta_verify_push_sent",
            "okta_verify_push_response",
        ]
        correlated = {id(ref.rule) for c in pack.correlations for ref in c.rules}
        assert all(base._output == (id(base) not in correlated) for base in pack.base_rules)
        assert sum(not base._output for base in pack.base_rules) == 11  # the seed's 2, 8 feeders, 1 risk row

    def test_bundled_path_is_the_rules_folder(self):
        files = sorted(bundled_rules_path().glob("*.yml"))
        assert {"okta_verify_push_sent.yml", "okta_verify_push_response.yml", f"{PUSH_RULE}.yml"} <= {
            path.name for path in files
        }
        assert sorted(load_bundled().files) == files  # every file there is a rule file of the pack


class TestLoading:
    def test_multi_document_file_and_reference_by_id(self, tmp_path):
        aggregate = AGGREGATE.replace(
            "rules: [push_sent, push_response]",
            "rules: [11111111-1111-4111-8111-111111111111, push_response]",
        )
        aggregate = aggregate.replace("rule: push_sent", "rule: 11111111-1111-4111-8111-111111111111")
        write(tmp_path, BASE_RULES + "---\n" + aggregate)
        pack = load_rules([tmp_path / "rules.yml"])
        (rule,) = pack.aggregates
        assert rule.referenced_rules[0].name == "push_sent"
        assert rule.rule_index(rule.metrics[0].rule) == 0

    def test_metric_may_name_the_rule_by_its_other_identifier(self, tmp_path):
        aggregate = AGGREGATE.replace("rule: push_sent", "rule: 11111111-1111-4111-8111-111111111111")
        write(tmp_path, BASE_RULES, "base.yml")
        write(
            tmp_path,
            aggregate.replace("rules: [push_sent", "rules: [11111111-1111-4111-8111-111111111111"),
            "agg.yml",
        )
        (rule,) = load_rules([tmp_path]).aggregates
        assert rule.metrics[0].rule == "11111111-1111-4111-8111-111111111111"

    def test_folders_are_searched_recursively(self, tmp_path):
        (tmp_path / "nested" / "deeper").mkdir(parents=True)
        write(tmp_path / "nested", BASE_RULES, "base.yaml")
        write(tmp_path / "nested" / "deeper", AGGREGATE, "agg.yml")
        pack = load_rules([tmp_path])
        assert len(pack.base_rules) == 2 and len(pack.aggregates) == 1

    def test_standard_correlations_are_parsed_by_pysigma(self, tmp_path):
        write(
            tmp_path,
            BASE_RULES
            + textwrap.dedent("""\
            ---
            title: Many pushes
            name: many_pushes
            correlation:
              type: event_count
              rules: [push_sent]
              group-by: [actor.alternateId]
              timespan: 10m
              condition: {gte: 5}
            """),
        )
        pack = load_rules([tmp_path])
        (correlation,) = pack.standard_correlations
        assert isinstance(correlation, SigmaCorrelationRule)
        assert correlation.rules[0].rule.name == "push_sent"

    def test_collection_actions_still_work(self, tmp_path):
        write(
            tmp_path,
            textwrap.dedent("""\
            action: global
            logsource: {product: okta, service: okta}
            ---
            title: A
            name: a
            detection: {sel: {eventType: a}, condition: sel}
            ---
            title: B
            name: b
            detection: {sel: {eventType: b}, condition: sel}
            """),
        )
        pack = load_rules([tmp_path])
        assert [rule.logsource.product for rule in pack.base_rules] == ["okta", "okta"]

    @pytest.mark.shared
    @pytest.mark.skipif(not SHARED_SIGMAHQ.is_dir(), reason="../shared/corpus/sigmahq-okta-rules is absent")
    def test_sigmahq_okta_rules_load(self):
        pack = load_rules([SHARED_SIGMAHQ])
        assert len(pack.base_rules) == len(list(SHARED_SIGMAHQ.glob("*.yml"))) > 20


class TestValidation:
    """Every problem is reported with file, line and rule; several at once."""

    @pytest.mark.parametrize(
        ("change", "message", "line"),
        [
            (
                ("rules: [push_sent, push_response]", "rules: [push_sent, push_response, nope]"),
                "unknown rule 'nope'",
                5,
            ),
            (("pushes > 1 and", "pushez > 1 and"), "unknown name 'pushez'", 19),
            (("rule: push_sent", "rule: other"), "restricted to rule 'other', which is not in `rules`", 11),
            (("outcome.result: FAILURE", "outcome.result|nonsense: FAILURE"), "nonsense", 16),
            (("timespan: 1h", "timespan: 1 hour"), "timespan", 7),
            (("timespan: 1h", "timespan: 0h"), "timespan", 7),
            (("share < 0.5", "share"), "must be a boolean", 19),
            (("round(denials / pushes, 2)", "(pushes > 1) + 1"), "must be a number", 18),
            (
                ("type: count\n      rule: push_sent", "type: cnt\n      rule: push_sent"),
                "'cnt' is not one of",
                10,
            ),
            (("  metrics:", "  colour: blue\n  metrics:"), "'colour' was unexpected", 8),
            (
                ("type: count\n      rule: push_sent", "type: distinct\n      rule: push_sent"),
                "'field' is a required",
                10,
            ),
        ],
    )
    def test_reports_the_problem_with_its_location(self, tmp_path, change, message, line):
        old, new = change
        assert old in AGGREGATE
        error = load_text(tmp_path, AGGREGATE.replace(old, new))
        assert error is not None, "the rule should have been rejected"
        (problem,) = error.errors
        text = str(problem)
        assert message in text
        assert text.startswith(f"{tmp_path / 'aggregate.yml'}:{line}:")
        assert "pushes_per_session" in text

    def test_collapse_must_keep_the_fields_that_metrics_read(self, tmp_path):
        aggregate = AGGREGATE.replace(
            "  metrics:", "  collapse:\n    span: 2s\n    fields: [eventType]\n  metrics:"
        )
        error = load_text(tmp_path, aggregate)
        assert error is not None
        assert "'denials' reads 'outcome.result', which the collapse does not keep" in str(error)

    def test_collapse_span_must_divide_the_timespan(self, tmp_path):
        aggregate = AGGREGATE.replace(
            "  metrics:", "  collapse:\n    span: 7s\n    fields: [outcome.result]\n  metrics:"
        )
        error = load_text(tmp_path, aggregate)
        assert error is not None and "must divide the timespan" in str(error)

    def test_reports_every_problem_at_once(self, tmp_path):
        aggregate = AGGREGATE.replace("rule: push_sent", "rule: other").replace("pushes > 1", "pushez > 1")
        error = load_text(tmp_path, aggregate)
        assert error is not None and len(error.errors) == 2

    def test_duplicate_names_are_rejected(self, tmp_path):
        write(tmp_path, BASE_RULES, "a.yml")
        write(tmp_path, BASE_RULES, "b.yml")
        with pytest.raises(RulePackError, match="identifies two rules"):
            load_rules([tmp_path])

    def test_yaml_syntax_error_names_the_line(self, tmp_path):
        path = write(tmp_path, "title: x\ncorrelation: [unclosed\n")
        with pytest.raises(RulePackError) as caught:
            load_rules([path])
        assert f"{path}:3" in str(caught.value) or f"{path}:2" in str(caught.value)

    def test_missing_path(self, tmp_path):
        with pytest.raises(RulePackError, match="no such rule file or folder"):
            load_rules([tmp_path / "absent.yml"])

    def test_risk_object_must_be_an_output_field(self, tmp_path):
        aggregate = "risk: {object: user, score: 50}\n" + AGGREGATE
        error = load_text(tmp_path, aggregate)
        assert error is not None and "risk object 'user'" in str(error)


BROKEN_RULES = {
    "modifier.yml": "title: Bad Modifier\nname: bad_modifier\nlogsource: {product: okta}\ndetection:\n  selection:\n"
    "    eventType|startwith: user.\n  condition: selection\n",
    "condition.yml": "title: Bad Condition\nlogsource: {product: okta}\ndetection:\n  selection:\n"
    "    eventType: user.account.lock\n  condition: selectio\n",
    "reference.yml": "title: Bad Reference\nname: bad_reference\ncorrelation:\n  type: event_count\n"
    "  rules: [bad_condition, good_rul]\n  group-by: [actor.alternateId]\n  timespan: 10m\n"
    "  condition: {gte: 3}\n",
    "yaml.yml": "title: Broken YAML\ndetection: [unclosed\n",
    "good.yml": "title: Good\nname: good_rule\nlogsource: {product: okta}\n"
    "detection: {selection: {eventType: x}, condition: selection}\n",
}


class TestPySigmaErrorsInTheLoadersForm:
    """pySigma's own errors (modifiers, conditions, references) in ``file:line:col: rule 'name': ...``
    form, with a suggestion for a near miss, every file's at once."""

    def test_every_problem_of_a_folder_at_once(self, tmp_path):
        for name, text in BROKEN_RULES.items():
            (tmp_path / name).write_text(text)
        with pytest.raises(RulePackError) as caught:
            load_rules([tmp_path])
        problems = sorted(str(error) for error in caught.value.errors)
        assert problems == [
            f"{tmp_path / 'condition.yml'}:6:14: rule 'Bad Condition': Detection 'selectio' not defined in "
            "detections (did you mean 'selection'?)",
            f"{tmp_path / 'modifier.yml'}:6:5: rule 'bad_modifier': Unknown modifier 'startwith' "
            "(did you mean 'startswith'?)",
            f"{tmp_path / 'reference.yml'}:5:11: rule 'bad_reference': unknown rule 'bad_condition' "
            "(no rule has that id or name)",  # a rule without a name is known by its id only
            f"{tmp_path / 'reference.yml'}:5:26: rule 'bad_reference': unknown rule 'good_rul' "
            "(no rule has that id or name) (did you mean 'good_rule'?)",
            f"{tmp_path / 'yaml.yml'}:3:1: cannot read rules: while parsing a flow sequence: did not find "
            "expected ',' or ']'",
        ]
