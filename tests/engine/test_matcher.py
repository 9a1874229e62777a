"""The engine's Sigma matcher: every value type and modifier of pySigma 1.5, conditions, and real rules."""

from __future__ import annotations

import base64
import re
import textwrap
from pathlib import Path

import pytest
from shared_corpus import SIGMAHQ_OKTA_RULES
from sigma.exceptions import SigmaConditionError, SigmaRuleLocation
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import ValueListPlaceholderTransformation
from sigma.rule import SigmaRule

from sigma.backends.okta.engine import matcher as matcher_module
from sigma.backends.okta.engine.matcher import (
    UnsupportedRuleError,
    compile_rule,
    rule_fields,
    string_fields,
    uses_keywords,
)

PROJECT = Path(__file__).resolve().parents[2]
CORPUS = SIGMAHQ_OKTA_RULES
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")


def sigma_rule(detection: str) -> SigmaRule:
    """A rule around a YAML ``detection:`` body."""
    body = textwrap.indent(textwrap.dedent(detection).strip(), "    ")
    return SigmaRule.from_yaml(f"title: test rule\nlogsource:\n    product: okta\ndetection:\n{body}\n")


def check(detection: str, matching: list[dict], not_matching: list[dict]) -> None:
    predicate = compile_rule(sigma_rule(detection))
    for event in matching:
        assert predicate(event) is True, f"should match: {event!r}"
    for event in not_matching:
        assert predicate(event) is False, f"should not match: {event!r}"


# ----------------------------------------------------------------------------------------------
# The project's base rules


def test_push_base_rule():
    rule = SigmaRule.from_yaml((PROJECT / "rules" / "okta_verify_push_sent.yml").read_text())
    predicate = compile_rule(rule)
    assert predicate({"eventType": "system.push.send_factor_verify_push"})
    assert predicate({"eventType": "SYSTEM.PUSH.SEND_FACTOR_VERIFY_PUSH", "outcome": {"result": "SUCCESS"}})
    assert not predicate({"eventType": "user.authentication.auth_via_mfa"})
    assert not predicate({"eventType": "system.push.send_factor_verify_push.extra"})
    assert not predicate({})
    assert rule_fields(rule) == {"eventType"}


def test_response_base_rule():
    rule = SigmaRule.from_yaml((PROJECT / "rules" / "okta_verify_push_response.yml").read_text())
    predicate = compile_rule(rule)
    response = {
        "eventType": "user.authentication.auth_via_mfa",
        "debugContext": {
            "debugData": {"factor": "OKTA_VERIFY_PUSH", "pushOnlyResponseType": "OV_RESPONSE_DENY"}
        },
        "outcome": {"result": "FAILURE", "reason": "INVALID_CREDENTIALS"},
    }
    assert predicate(response)
    assert not predicate({**response, "debugContext": {"debugData": {"factor": "OKTA_VERIFY_TOTP"}}})
    assert not predicate({**response, "eventType": "system.push.send_factor_verify_push"})
    assert not predicate({"eventType": "user.authentication.auth_via_mfa"})  # factor missing
    assert rule_fields(rule) == {"eventType", "debugContext.debugData.factor"}


# ----------------------------------------------------------------------------------------------
# Strings and wildcards


def test_strings_are_case_insensitive():
    check(
        "sel: {outcome.result: Failure}\ncondition: sel",
        [{"outcome": {"result": "FAILURE"}}, {"outcome": {"result": "failure"}}],
        [{"outcome": {"result": "FAILURES"}}, {"outcome": {"result": "SUCCESS"}}, {"outcome": {}}],
    )


def test_cased_is_case_sensitive():
    check(
        "sel: {factor|cased: OKTA_VERIFY_PUSH}\ncondition: sel",
        [{"factor": "OKTA_VERIFY_PUSH"}],
        [{"factor": "okta_verify_push"}, {"factor": "Okta_Verify_Push"}],
    )
    check(
        "sel: {factor|cased|contains: VERIFY}\ncondition: sel",
        [{"factor": "OKTA_VERIFY_PUSH"}],
        [{"factor": "okta_verify_push"}],
    )


@pytest.mark.parametrize(
    ("value", "matching", "not_matching"),
    [
        (
            "user.session.*",
            ["user.session.start", "USER.SESSION.", "user.session.end.x"],
            ["user.sessio", "a.user.session.start"],
        ),
        ("*.start", ["user.session.start", ".START"], ["user.session.started", "start"]),
        ("*session*", ["user.session.start", "SESSION", "xsessionx"], ["sess ion", "user.start"]),
        ("user.?ession", ["user.session", "user.Xession"], ["user.ession", "user.sssession"]),
        ("a*b?c*d", ["abxcd", "AxxxBYCzzD", "abxc\nd"], ["abcd", "abxce", "xabxcd"]),
        ("*", ["", "anything", "multi\nline"], []),
        ("a\\*c", ["a*c", "A*C"], ["abc", "ac", "a\\c"]),
        ("a\\?c", ["a?c"], ["abc"]),
        ("a.b", ["a.b", "A.B"], ["axb", "a.bc"]),
        ("(x)+*", ["(x)+", "(X)+ trailing"], ["xx", "(x)"]),
        ("*[a-z]", ["x[a-z]"], ["xb"]),
        ("", [""], ["x"]),
    ],
)
def test_wildcards(value, matching, not_matching):
    detection = f"sel:\n  name: '{value}'\ncondition: sel"
    check(detection, [{"name": text} for text in matching], [{"name": text} for text in not_matching])


def test_contains_startswith_endswith_modifiers():
    check(
        "sel: {message|contains: 'sign in'}\ncondition: sel",
        [{"message": "Max SIGN IN attempts exceeded"}, {"message": "sign in"}],
        [{"message": "signin"}],
    )
    check(
        "sel: {message|startswith: 'Max'}\ncondition: sel",
        [{"message": "max sign in attempts"}],
        [{"message": "The max"}],
    )
    check(
        "sel: {message|endswith: 'exceeded'}\ncondition: sel",
        [{"message": "Max sign in attempts EXCEEDED"}],
        [{"message": "exceeded!"}],
    )
    check(
        "sel: {message|contains: 'a*b'}\ncondition: sel",  # a wildcard inside a contains value
        [{"message": "xx a long b yy"}],
        [{"message": "b then a"}],
    )


def test_values_list_is_or_and_all_is_and():
    check(
        "sel:\n  eventType: [zone.deactivate, zone.delete]\ncondition: sel",
        [{"eventType": "zone.delete"}, {"eventType": "ZONE.DEACTIVATE"}],
        [{"eventType": "zone.create"}],
    )
    check(
        "sel:\n  message|contains|all: [sign, exceeded]\ncondition: sel",
        [{"message": "Max sign in attempts exceeded"}],
        [{"message": "Max sign in attempts"}, {"message": "exceeded"}],
    )
    check(
        "sel:\n  message|all: ['max*', '*exceeded']\ncondition: sel",
        [{"message": "Max sign in attempts exceeded"}],
        [{"message": "Max sign in attempts"}],
    )


def test_detection_map_is_and_list_of_maps_is_or():
    check(
        "sel:\n  eventType: user.authentication.auth_via_mfa\n  outcome.result: FAILURE\ncondition: sel",
        [{"eventType": "user.authentication.auth_via_mfa", "outcome": {"result": "FAILURE"}}],
        [{"eventType": "user.authentication.auth_via_mfa", "outcome": {"result": "SUCCESS"}}],
    )
    check(
        "sel:\n  - eventType: zone.delete\n  - outcome.result: FAILURE\ncondition: sel",
        [{"eventType": "zone.delete"}, {"outcome": {"result": "FAILURE"}}],
        [{"eventType": "zone.create", "outcome": {"result": "SUCCESS"}}],
    )


# ----------------------------------------------------------------------------------------------
# Event shapes: lists, nesting, literal dotted keys, objects, numbers and booleans


def test_list_valued_event_fields_match_any_element():
    check(
        "sel: {target.displayName: Okta Admin Console}\ncondition: sel",
        [
            {"target": [{"displayName": "Someone"}, {"displayName": "okta admin console"}]},
            {"target": {"displayName": ["x", "Okta Admin Console"]}},
        ],
        [{"target": [{"displayName": "Someone"}, {"alternateId": "Okta Admin Console"}]}, {"target": []}],
    )


def test_nested_and_literal_dotted_field_names():
    check(
        "sel: {debugContext.debugData.factor: OKTA_VERIFY_PUSH}\ncondition: sel",
        [
            {"debugContext": {"debugData": {"factor": "OKTA_VERIFY_PUSH"}}},
            {"debugContext.debugData.factor": "OKTA_VERIFY_PUSH"},
            {"debugContext": {"debugData.factor": "OKTA_VERIFY_PUSH"}},
        ],
        [
            {"debugContext": {"debugData": {"factor": "SMS"}}},
            {"debugContext": {"debugData": "factor"}},
            {"factor": "OKTA_VERIFY_PUSH"},
        ],
    )


def test_objects_never_match_strings():
    check(
        "sel: {behaviors|contains: POSITIVE}\ncondition: sel",
        [{"behaviors": "{New IP=POSITIVE}"}],
        [{"behaviors": {"New IP": "POSITIVE"}}, {"behaviors": None}],
    )
    check("sel: {behaviors: '*'}\ncondition: sel", [{"behaviors": ""}], [{"behaviors": {}}, {}])


def test_numbers_and_booleans_compare_with_strings_through_their_text():
    check(
        "sel: {code: '5'}\ncondition: sel",
        [{"code": 5}, {"code": "5"}, {"code": [4, 5]}],
        [{"code": 5.0}, {"code": "05"}, {"code": True}],
    )
    check(
        "sel: {securityContext.isProxy: 'true'}\ncondition: sel",
        [{"securityContext": {"isProxy": True}}, {"securityContext": {"isProxy": "TRUE"}}],
        [{"securityContext": {"isProxy": False}}, {"securityContext": {"isProxy": 1}}],
    )


def test_sigma_number_matches_numbers_and_numeric_strings():
    check(
        "sel: {authenticationStep: 5}\ncondition: sel",
        [
            {"authenticationStep": 5},
            {"authenticationStep": 5.0},
            {"authenticationStep": "5"},
            {"authenticationStep": "5.0"},
            {"authenticationStep": "5e0"},
            {"authenticationStep": [1, 5]},
        ],
        [
            {"authenticationStep": 6},
            {"authenticationStep": "five"},
            {"authenticationStep": "5 "},
            {"authenticationStep": True},
            {"authenticationStep": None},
            {},
        ],
    )


def test_sigma_bool_matches_booleans_and_their_strings():
    check(
        "sel: {isProxy: true}\ncondition: sel",
        [{"isProxy": True}, {"isProxy": "true"}, {"isProxy": "TRUE"}, {"isProxy": [False, True]}],
        [{"isProxy": False}, {"isProxy": 1}, {"isProxy": "yes"}, {"isProxy": None}, {}],
    )
    check(
        "sel: {isProxy: false}\ncondition: sel", [{"isProxy": False}, {"isProxy": "False"}], [{"isProxy": 0}]
    )


# ----------------------------------------------------------------------------------------------
# null, exists, comparisons, negation


def test_null_matches_missing_or_json_null():
    check(
        "sel:\n  authenticationContext.externalSessionId: null\ncondition: sel",
        [{}, {"authenticationContext": {"externalSessionId": None}}, {"authenticationContext": None}],
        [
            {"authenticationContext": {"externalSessionId": "idx123"}},
            {"authenticationContext": {"externalSessionId": ""}},
            {"authenticationContext": {"externalSessionId": []}},
        ],
    )
    check("sel:\n  field: []\ncondition: sel", [{}, {"field": None}], [{"field": "x"}])
    check("sel:\n  field: [null, x]\ncondition: sel", [{}, {"field": "X"}], [{"field": "y"}])


def test_exists_true_and_false():
    check(
        "sel: {client.ipAddress|exists: true}\ncondition: sel",
        [{"client": {"ipAddress": "1.2.3.4"}}, {"client": {"ipAddress": ""}}, {"client": {"ipAddress": 0}}],
        [{"client": {"ipAddress": None}}, {"client": {}}, {}],
    )
    check(
        "sel: {client.ipAddress|exists: false}\ncondition: sel",
        [{"client": {"ipAddress": None}}, {"client": {}}, {}],
        [{"client": {"ipAddress": "1.2.3.4"}}],
    )


@pytest.mark.parametrize(
    ("modifier", "matching", "not_matching"),
    [
        ("gt", [6, 5.5, "6", "1e1", [1, 7]], [5, "5", 4, "abc", True, None, [1, 2]]),
        ("gte", [5, 5.0, "5", 6], [4.99, "4", "x", False]),
        ("lt", [4, -1, "4.5"], [5, "5", "x", True]),
        ("lte", [5, "5.0", 0], [5.01, "6", None]),
    ],
)
def test_numeric_comparisons(modifier, matching, not_matching):
    check(
        f"sel: {{asNumber|{modifier}: 5}}\ncondition: sel",
        [{"asNumber": value} for value in matching],
        [{"asNumber": value} for value in not_matching] + [{}],
    )


def test_neq_negates_the_item():
    # pySigma 1.5.1 maps |neq to its negation modifier: NOT (field = value); a missing field passes.
    check(
        "sel: {outcome.result|neq: SUCCESS}\ncondition: sel",
        [{"outcome": {"result": "FAILURE"}}, {}],
        [{"outcome": {"result": "success"}}],
    )


# ----------------------------------------------------------------------------------------------
# Regular expressions and networks


def test_regular_expressions_are_unanchored_and_case_sensitive():
    check(
        "sel: {factor|re: 'VERIFY_P'}\ncondition: sel",
        [{"factor": "OKTA_VERIFY_PUSH"}],
        [{"factor": "okta_verify_push"}],
    )
    check(
        "sel: {factor|re|i: '^okta_.*push$'}\ncondition: sel",
        [{"factor": "OKTA_VERIFY_PUSH"}],
        [{"factor": "x"}],
    )
    check("sel: {code|re: '^[0-9]+$'}\ncondition: sel", [{"code": 600006}, {"code": "12"}], [{"code": 1.5}])


def test_regular_expression_multiline_and_dotall_flags():
    check("sel: {text|re|m: '^b$'}\ncondition: sel", [{"text": "a\nb\nc"}], [{"text": "a\nbc"}])
    check("sel: {text|re: '^b$'}\ncondition: sel", [{"text": "b"}], [{"text": "a\nb\nc"}])
    check("sel: {text|re|s: 'a.b'}\ncondition: sel", [{"text": "a\nb"}], [{"text": "a\n\nb"}])
    check("sel: {text|re: 'a.b'}\ncondition: sel", [{"text": "axb"}], [{"text": "a\nb"}])


def test_cidr_ipv4_and_ipv6():
    check(
        "sel: {client.ipAddress|cidr: 10.0.0.0/8}\ncondition: sel",
        [{"client": {"ipAddress": "10.1.2.3"}}, {"client": {"ipAddress": ["192.0.2.1", "10.255.0.1"]}}],
        [
            {"client": {"ipAddress": "11.0.0.1"}},
            {"client": {"ipAddress": "not an ip"}},
            {"client": {"ipAddress": "2001:db8::1"}},
            {"client": {"ipAddress": 167837953}},
        ],
    )
    check(
        "sel: {client.ipAddress|cidr: '2001:db8::/32'}\ncondition: sel",
        [{"client": {"ipAddress": "2001:db8::1"}}, {"client": {"ipAddress": "2001:DB8:ffff::2"}}],
        [{"client": {"ipAddress": "2001:db9::1"}}, {"client": {"ipAddress": "10.1.2.3"}}],
    )
    check(
        "sel:\n  request.ipChain.ip|cidr: [192.168.0.0/16, 'fd00::/8']\ncondition: sel",
        [{"request": {"ipChain": [{"ip": "1.1.1.1"}, {"ip": "fd12::1"}]}}],
        [{"request": {"ipChain": [{"ip": "1.1.1.1"}]}}],
    )


# ----------------------------------------------------------------------------------------------
# Encodings: base64, base64offset, windash, wide


def test_base64_is_case_sensitive():
    encoded = base64.b64encode(b"whoami").decode()
    check(
        "sel: {payload|base64|contains: whoami}\ncondition: sel",
        [{"payload": f"x {encoded} y"}],
        [{"payload": encoded.lower()}, {"payload": encoded.upper()}, {"payload": "whoami"}],
    )


def test_base64offset_matches_every_offset_exactly():
    predicate = compile_rule(sigma_rule("sel: {payload|base64offset|contains: whoami}\ncondition: sel"))
    for prefix in (b"", b"a", b"ab", b"abc"):
        for suffix in (b"", b"z", b"zz"):
            encoded = base64.b64encode(prefix + b"whoami" + suffix).decode()
            assert predicate({"payload": encoded}), encoded
            assert not predicate({"payload": encoded.swapcase()}), encoded
    assert not predicate({"payload": base64.b64encode(b"whoam").decode()})


def test_windash_expands_dashes():
    check(
        "sel: {args|windash|contains: ' -enc '}\ncondition: sel",
        [{"args": f"run {dash}enc x"} for dash in ("-", "/", "\u2013", "\u2014", "\u2015")],
        [{"args": "run +enc x"}, {"args": "run enc x"}],
    )


def test_wide_and_utf16_encodings():
    check(
        "sel: {blob|wide|contains: ab}\ncondition: sel",
        [{"blob": "xa\x00b\x00y"}],
        [{"blob": "ab"}],
    )
    check(
        "sel: {blob|utf16|contains: ab}\ncondition: sel",
        [{"blob": "\ufeffa\x00b\x00"}],
        [{"blob": "a\x00b\x00"}],
    )
    check(
        "sel: {blob|utf16be|contains: ab}\ncondition: sel", [{"blob": "\x00a\x00b"}], [{"blob": "a\x00b\x00"}]
    )


# ----------------------------------------------------------------------------------------------
# Field references


def test_field_reference_equality_is_case_insensitive():
    check(
        "sel: {actor.alternateId|fieldref: target.alternateId}\ncondition: sel",
        [
            {"actor": {"alternateId": "Bob@example.com"}, "target": [{"alternateId": "bob@EXAMPLE.com"}]},
            {"actor": {"alternateId": "a"}, "target": [{"alternateId": "b"}, {"alternateId": "A"}]},
            {"actor": {"alternateId": 5}, "target": {"alternateId": "5"}},
        ],
        [
            {"actor": {"alternateId": "bob@example.com"}, "target": [{"alternateId": "eve@example.com"}]},
            {"actor": {"alternateId": "bob@example.com"}},
            {"actor": {"alternateId": None}, "target": {"alternateId": None}},
            {},
        ],
    )


def test_field_reference_cased():
    check(
        "sel: {session|cased|fieldref: other}\ncondition: sel",
        [{"session": "idxAbC", "other": "idxAbC"}],
        [{"session": "idxAbC", "other": "idxabc"}],
    )


@pytest.mark.parametrize(
    ("modifier", "matching", "not_matching"),
    [
        ("startswith", [("admin@example.com", "ADMIN")], [("x admin", "admin")]),
        ("endswith", [("admin@example.com", "Example.COM")], [("example.com x", "example.com")]),
        ("contains", [("admin@example.com", "@EXAMPLE")], [("admin@example.com", "nope")]),
    ],
)
def test_field_reference_with_position_modifiers(modifier, matching, not_matching):
    check(
        f"sel: {{left|fieldref|{modifier}: right}}\ncondition: sel",
        [{"left": left, "right": right} for left, right in matching],
        [{"left": left, "right": right} for left, right in not_matching],
    )


# ----------------------------------------------------------------------------------------------
# Keywords


def test_keywords_match_any_scalar_anywhere():
    detection = """
    keywords:
      - 'max sign in*'
      - svc_network_backup
      - 600006
    condition: keywords
    """
    check(
        detection,
        [
            {"displayMessage": "Max sign in attempts exceeded"},
            {"target": [{"displayName": "x"}, {"detail": {"name": "SVC_NETWORK_BACKUP"}}]},
            {"client": {"geographicalContext": {"postalCode": 600006}}},
            {"client": {"geographicalContext": {"postalCode": "600006"}}},
        ],
        [
            {"svc_network_backup": "key names are not values"},
            {"displayMessage": "sign in"},
            {"list": [["nested", "deeper"], None, True, 1.5]},
        ],
    )


def test_keywords_with_modifiers_and_all():
    check(
        "keywords:\n  '|contains|all': [push, deny]\ncondition: keywords",
        [{"a": "Okta Verify PUSH", "b": {"c": "OV_RESPONSE_DENY"}}, {"a": "push then deny"}],
        [{"a": "push"}, {"b": "deny"}],
    )
    check(
        "keywords:\n  '|re': '^OV_.*DENY$'\ncondition: keywords",
        [{"x": ["OV_RESPONSE_DENY"]}],
        [{"x": "ov_deny"}],
    )


def test_keywords_combined_with_field_selection():
    detection = """
    sel:
      eventType: user.authentication.auth_via_mfa
    keywords:
      - '*deny*'
    condition: sel and keywords
    """
    check(
        detection,
        [
            {
                "eventType": "user.authentication.auth_via_mfa",
                "debugContext": {"debugData": {"t": "OV_RESPONSE_DENY"}},
            }
        ],
        [{"eventType": "user.authentication.auth_via_mfa"}, {"eventType": "other", "x": "deny"}],
    )


# ----------------------------------------------------------------------------------------------
# Conditions

CONDITION_DETECTIONS = """
sel_push:
  eventType: system.push.send_factor_verify_push
sel_response:
  eventType: user.authentication.auth_via_mfa
filter_success:
  outcome.result: SUCCESS
filter_admin:
  actor.alternateId|startswith: admin
"""

PUSH = {"eventType": "system.push.send_factor_verify_push"}
RESPONSE = {"eventType": "user.authentication.auth_via_mfa"}
SUCCESS = {"outcome": {"result": "SUCCESS"}}
ADMIN = {"actor": {"alternateId": "admin@example.com"}}


@pytest.mark.parametrize(
    ("condition", "matching", "not_matching"),
    [
        ("1 of sel_*", [PUSH, RESPONSE], [SUCCESS, {}]),
        ("all of filter_*", [{**SUCCESS, **ADMIN}], [SUCCESS, ADMIN]),
        ("all of them", [], [{**PUSH, **SUCCESS, **ADMIN}]),  # push and response cannot both hold
        ("sel_push and not filter_success", [PUSH, {**PUSH, **ADMIN}], [{**PUSH, **SUCCESS}, RESPONSE]),
        ("1 of sel_* and not 1 of filter_*", [PUSH, RESPONSE], [{**PUSH, **ADMIN}, {**RESPONSE, **SUCCESS}]),
        (
            "sel_push or sel_response and filter_success",  # and binds tighter than or
            [PUSH, {**RESPONSE, **SUCCESS}],
            [RESPONSE],
        ),
        ("(sel_push or sel_response) and filter_success", [{**RESPONSE, **SUCCESS}], [PUSH, RESPONSE]),
        ("not (sel_push or filter_admin)", [RESPONSE, {}], [PUSH, ADMIN]),
        ("not not sel_push", [PUSH], [RESPONSE]),
        ("any of sel_*", [PUSH], [ADMIN]),
    ],
)
def test_conditions(condition, matching, not_matching):
    check(CONDITION_DETECTIONS + f"condition: {condition}", matching, not_matching)


def test_several_conditions_are_alternatives():
    check(
        CONDITION_DETECTIONS + "condition:\n  - sel_push\n  - filter_admin",
        [PUSH, ADMIN],
        [RESPONSE],
    )


def test_selector_without_detection_is_an_error():
    with pytest.raises(SigmaConditionError):
        compile_rule(sigma_rule(CONDITION_DETECTIONS + "condition: sel_push and not 1 of nothing_*"))


# ----------------------------------------------------------------------------------------------
# What the engine refuses


@pytest.mark.parametrize(
    ("detection", "construct"),
    [
        ("sel: {actor.alternateId|contains|expand: '%trusted%'}\ncondition: sel", "expand"),
        ("sel: {actor.alternateId|re|expand: '%trusted%'}\ncondition: sel", "expand"),
        ("sel: {published|hour: 3}\ncondition: sel", "hour"),
        ("sel: {published|minute: 3}\ncondition: sel", "minute"),
        ("keywords: [null]\ncondition: keywords", "SigmaNull"),
    ],
)
def test_unsupported_constructs_are_named(detection, construct):
    rule = sigma_rule(detection)
    rule.source = SigmaRuleLocation(Path("rules/example.yml"))
    with pytest.raises(UnsupportedRuleError, match=construct) as raised:
        compile_rule(rule)
    assert raised.value.source == rule.source
    assert "test rule" in str(raised.value)


# ----------------------------------------------------------------------------------------------
# Rule metadata for the caller


def test_rule_fields_string_fields_and_keywords():
    rule = sigma_rule(
        """
        sel:
          eventType: user.session.start
          client.ipAddress|cidr: 10.0.0.0/8
          securityContext.asNumber|gt: 5
          debugContext.debugData.behaviors|contains: POSITIVE
          actor.alternateId|re: '^0oa'
          actor.displayName|fieldref: target.displayName
        condition: sel
        """
    )
    assert rule_fields(rule) == {
        "eventType",
        "client.ipAddress",
        "securityContext.asNumber",
        "debugContext.debugData.behaviors",
        "actor.alternateId",
        "actor.displayName",
        "target.displayName",
    }
    assert string_fields(rule) == {
        "eventType",
        "debugContext.debugData.behaviors",
        "actor.alternateId",
        "actor.displayName",
        "target.displayName",
    }
    assert not uses_keywords(rule)
    assert uses_keywords(sigma_rule("sel: {eventType: x}\nkw: [deny]\ncondition: sel or kw"))


def test_matching_does_no_compilation_per_event(monkeypatch):
    predicate = compile_rule(
        sigma_rule(
            """
            sel:
              eventType|re: '^user\\.'
              message: 'a*b?c'
              target.displayName|contains: admin
            kw: ['*deny*']
            condition: sel and not kw
            """
        )
    )

    def forbidden(*_args, **_kwargs):
        raise AssertionError("compiled while matching")

    monkeypatch.setattr(re, "compile", forbidden)
    monkeypatch.setattr(matcher_module, "compile_field", forbidden)
    event = {"eventType": "user.x", "message": "AxxBYC", "target": [{"displayName": "Admin"}]}
    assert predicate(event)
    assert not predicate({**event, "other": "DENY"})


# ----------------------------------------------------------------------------------------------
# SigmaHQ's Okta rules


def corpus_rules() -> list[Path]:
    return sorted(CORPUS.glob("*.yml")) if CORPUS.is_dir() else []


def with_trusted_domain(rule: SigmaRule) -> SigmaRule:
    """The processing a deployment gives the rule's %legtimate_identifiers% placeholder."""
    pipeline = ProcessingPipeline(
        items=[ProcessingItem(ValueListPlaceholderTransformation())],
        vars={"legtimate_identifiers": ["@example.com"]},
    )
    pipeline.apply(rule)
    return rule


@pytest.mark.shared
@needs_corpus
@pytest.mark.parametrize("path", corpus_rules(), ids=lambda path: path.stem)
def test_every_sigmahq_okta_rule_compiles(path):
    rule = SigmaRule.from_yaml(path.read_text())
    if path.stem == "okta_session_impersonation_granted":
        with pytest.raises(UnsupportedRuleError, match="expand"):
            compile_rule(rule)
        rule = with_trusted_domain(rule)
    predicate = compile_rule(rule)
    assert predicate({}) is False


def corpus_rule(stem: str) -> SigmaRule:
    return SigmaRule.from_yaml((CORPUS / f"{stem}.yml").read_text())


@pytest.mark.shared
@needs_corpus
def test_corpus_rules_are_all_there():
    # the directory holds 24 rule files (and the licence), not 25
    assert len(corpus_rules()) == 24


@pytest.mark.shared
@needs_corpus
def test_corpus_rules_match_okta_events():
    impersonation = compile_rule(with_trusted_domain(corpus_rule("okta_session_impersonation_granted")))
    grant = {"eventType": "user.session.impersonation.grant"}
    assert impersonation({**grant, "actor": {"alternateId": "eve@evil.example"}})
    assert not impersonation({**grant, "actor": {"alternateId": "it@EXAMPLE.com"}})
    assert not impersonation({**grant, "actor": {"alternateId": "system@okta.com"}})

    password = compile_rule(corpus_rule("okta_password_in_alternateid_field"))
    failed = {"legacyEventType": "core.user_auth.login_failed"}
    assert password({**failed, "actor": {"alternateId": "Hunter2!secret"}})
    assert not password({**failed, "actor": {"alternateId": "bob@example.com"}})
    assert not password({**failed, "actor": {"alternateId": "0oa1b2c3"}})

    behaviours = compile_rule(corpus_rule("okta_new_behaviours_admin_console"))
    console = {"eventType": "policy.evaluate_sign_on", "target": [{"displayName": "Okta Admin Console"}]}
    positive = "{New Geo-Location=NEGATIVE, New Device=POSITIVE, New IP=NEGATIVE}"
    assert behaviours({**console, "debugContext": {"debugData": {"behaviors": positive}}})
    assert not behaviours({**console, "debugContext": {"debugData": {"behaviors": "{New IP=NEGATIVE}"}}})
    assert not behaviours({**console, "debugContext": {"debugData": {"behaviors": positive}}, "target": []})

    proxy = compile_rule(corpus_rule("okta_admin_activity_from_proxy_query"))
    request = {"debugContext": {"debugData": {"requestUri": "/api/v1/ADMIN/apps"}}}
    assert proxy({**request, "securityContext": {"isProxy": True}})
    assert not proxy({**request, "securityContext": {"isProxy": False}})

    creation = compile_rule(corpus_rule("okta_apt_suspicious_user_creation"))
    created = {"eventType": "user.lifecycle.create"}
    assert creation({**created, "target": [{"displayName": "x"}, {"displayName": "SVC_NETWORK_BACKUP2"}]})
    assert not creation({**created, "target": [{"displayName": "svc_backup"}]})
