"""The literal prefilter: needle derivation, the line scanners, and the property that it never drops
an event a rule matches."""

from __future__ import annotations

import base64
import pickle
import random
import re
import sys
import textwrap
from typing import ClassVar

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sigma.rule import SigmaRule

from sigma.backends.okta.engine.matcher import compile_rule, string_fields
from sigma.backends.okta.engine.prefilter import LineScanner, hyperscan_available
from sigma.backends.okta.engine.prefilter_clauses import (
    MAX_CLAUSE_NEEDLES,
    MAX_CLAUSES,
    Needle,
    necessary_clauses,
    necessary_needles,
)
from sigma.pipelines.okta.semantics import text_of

SCANNER_CHOICES = [False, *([True] if hyperscan_available() else [])]


def sigma_rule(detection: str) -> SigmaRule:
    body = textwrap.indent(textwrap.dedent(detection).strip(), "    ")
    return SigmaRule.from_yaml(f"title: test rule\nlogsource:\n    product: okta\ndetection:\n{body}\n")


def needles_of(detection: str) -> frozenset[Needle] | None:
    return necessary_needles(sigma_rule(detection))


def clauses_of(detection: str) -> frozenset[frozenset[Needle]] | None:
    return necessary_clauses(sigma_rule(detection))


def dnf(*clauses: frozenset[Needle]) -> frozenset[frozenset[Needle]]:
    return frozenset(clauses)


def any_one(needles: frozenset[Needle]) -> frozenset[frozenset[Needle]]:
    """Clauses of one needle each: a line with any of the needles."""
    return frozenset(frozenset((needle,)) for needle in needles)


def caseless(*texts: str) -> frozenset[Needle]:
    return frozenset(Needle(text.encode(), caseless=True) for text in texts)


def exact(*texts: str) -> frozenset[Needle]:
    return frozenset(Needle(text.encode(), caseless=False) for text in texts)


# ----------------------------------------------------------------------------------------------
# Derivation


RESPONSE_RULE = """
sel:
  eventType: user.authentication.auth_via_mfa
  debugContext.debugData.factor: OKTA_VERIFY_PUSH
condition: sel
"""


def test_base_rules_give_their_event_types():
    assert clauses_of("sel: {eventType: system.push.send_factor_verify_push}\ncondition: sel") == any_one(
        caseless("system.push.send_factor_verify_push")
    )
    # the AND needs both: the event type alone is in every MFA step's line
    assert clauses_of(RESPONSE_RULE) == dnf(caseless("user.authentication.auth_via_mfa", "okta_verify_push"))
    # one needle a line: the longer one, as before clauses
    assert needles_of(RESPONSE_RULE) == caseless("user.authentication.auth_via_mfa")


def test_value_list_is_the_union():
    assert clauses_of("sel:\n  eventType: [zone.delete, zone.deactivate]\ncondition: sel") == any_one(
        caseless("zone.delete", "zone.deactivate")
    )


def test_and_is_the_cross_product_of_the_children():
    detection = """
    sel:
      eventType: [policy.rule.update, policy.rule.delete]
      outcome.result: FAILURE
    condition: sel
    """
    assert clauses_of(detection) == dnf(
        caseless("policy.rule.update", "failure"), caseless("policy.rule.delete", "failure")
    )
    assert needles_of(detection) == caseless("failure")  # one needle of each clause: a shared one
    detection = """
    sel:
      outcome.result: FAILURE
      outcome.reason: INVALID_CREDENTIALS
    condition: sel
    """
    assert clauses_of(detection) == dnf(caseless("failure", "invalid_credentials"))
    assert needles_of(detection) == caseless("invalid_credentials")  # the longest


def test_all_is_an_and_over_values():
    assert clauses_of("sel:\n  message|contains|all: [push, verify_push_x]\ncondition: sel") == dnf(
        caseless("push", "verify_push_x")
    )
    # each windash value is an OR group ("-", "/", dashes): the "/" and dash forms give the bare word
    assert clauses_of("sel:\n  args|windash|contains|all: ['-fooxyz', '-barxyz']\ncondition: sel") == dnf(
        caseless("-fooxyz", "-barxyz"),
        caseless("-fooxyz", "barxyz"),
        caseless("fooxyz", "-barxyz"),
        caseless("fooxyz", "barxyz"),
    )
    # values without a needle are left out of the AND; all of them without: nothing
    assert clauses_of("sel:\n  message|contains|all: [abc, verify_push_x]\ncondition: sel") == dnf(
        caseless("verify_push_x")
    )
    assert clauses_of("sel:\n  message|contains|all: [abc, xyz]\ncondition: sel") is None


def test_or_of_ands():
    detections = """
    push:
      eventType: system.push.send_factor_verify_push
      outcome.result: SUCCESS
    response:
      eventType: user.authentication.auth_via_mfa
      debugContext.debugData.factor: OKTA_VERIFY_PUSH
    denied:
      outcome.reason: USER_REJECTED_OKTA_VERIFY_PUSH
    """
    push = caseless("system.push.send_factor_verify_push", "success")
    response = caseless("user.authentication.auth_via_mfa", "okta_verify_push")
    denied = caseless("user_rejected_okta_verify_push")
    assert clauses_of(detections + "condition: push or response") == dnf(push, response)
    assert clauses_of(detections + "condition: 1 of them") == dnf(push, response, denied)
    assert clauses_of(detections + "condition: (push or response) and denied") == dnf(
        push | denied, response | denied
    )
    # a list of maps is an OR of ANDs too
    listed = """
    sel:
      - eventType: system.push.send_factor_verify_push
        outcome.result: SUCCESS
      - eventType: user.authentication.auth_via_mfa
        debugContext.debugData.factor: OKTA_VERIFY_PUSH
    condition: sel
    """
    assert clauses_of(listed) == dnf(push, response)


def test_redundant_clauses_are_dropped():
    detections = """
    both:
      eventType: user.authentication.auth_via_mfa
      debugContext.debugData.factor: OKTA_VERIFY_PUSH
    mfa:
      eventType: user.authentication.auth_via_mfa
    """
    # a line with both needles has the one: the clause of two adds nothing to the OR
    assert clauses_of(detections + "condition: both or mfa") == any_one(
        caseless("user.authentication.auth_via_mfa")
    )
    assert clauses_of(detections + "condition: both and mfa") == dnf(
        caseless("user.authentication.auth_via_mfa", "okta_verify_push")
    )


def test_clause_size_is_capped():
    words = [f"needle{'x' * length}" for length in range(MAX_CLAUSE_NEEDLES + 2)]
    items = "".join(f"\n  field{index}: {word}" for index, word in enumerate(words))
    # the children are taken longest needle first; those that would make a clause too large are left out
    assert clauses_of(f"sel:{items}\ncondition: sel") == dnf(caseless(*words[-MAX_CLAUSE_NEEDLES:]))


def test_clause_count_is_capped():
    def values(stem: str, count: int) -> list[str]:
        return [f"{stem}{index:02d}" for index in range(count)]

    side = int(MAX_CLAUSES**0.5)
    assert side * side == MAX_CLAUSES
    long, middle, short = values("longestvalue", side), values("middlevalue", side), values("shortval", side)
    detection = f"sel:\n  a: {long}\n  b: {middle}\n  c: {short}\ncondition: sel"
    # long x middle makes exactly MAX_CLAUSES clauses; with short it would make more: short is left out
    assert clauses_of(detection) == dnf(*(caseless(left, right) for left in long for right in middle))
    # too many at once: the best child alone, as the single-child choice always did
    many = values("middlevalue", MAX_CLAUSES + 1)
    assert clauses_of(f"sel:\n  a: {long}\n  b: {many}\ncondition: sel") == any_one(caseless(*long))
    # one child with more clauses than the cap may still take a one-clause child in
    detection = f"sel:\n  a: {many}\n  b: onlyvalue\ncondition: sel"
    assert clauses_of(detection) == dnf(*(caseless(value, "onlyvalue") for value in many))


def test_or_is_the_union_and_none_when_one_side_has_none():
    detections = """
    push:
      eventType: system.push.send_factor_verify_push
    response:
      eventType: user.authentication.auth_via_mfa
    proxied:
      securityContext.asNumber|gt: 5
    """
    assert clauses_of(detections + "condition: push or response") == any_one(
        caseless("system.push.send_factor_verify_push", "user.authentication.auth_via_mfa")
    )
    assert clauses_of(detections + "condition: 1 of push or response") is not None
    assert clauses_of(detections + "condition: push or proxied") is None
    assert clauses_of(detections + "condition: push and proxied") == any_one(
        caseless("system.push.send_factor_verify_push")
    )
    assert clauses_of(detections + "condition: all of them") == dnf(
        caseless("system.push.send_factor_verify_push", "user.authentication.auth_via_mfa")
    )
    assert clauses_of(detections + "condition: 1 of them") is None


def test_not_gives_none_and_and_not_keeps_the_positive_side():
    detections = "sel:\n  eventType: user.session.start\nfilter:\n  outcome.result: SUCCESS\n"
    assert clauses_of(detections + "condition: not filter") is None
    assert clauses_of(detections + "condition: sel and not filter") == any_one(caseless("user.session.start"))
    assert clauses_of(detections + "condition: not (sel and filter)") is None
    assert clauses_of("sel: {outcome.result|neq: SUCCESS}\ncondition: sel") is None
    regex = "sel:\n  eventType|re: 'user\\.session\\.start'\n  outcome.result: SUCCESS\ncondition: sel"
    assert clauses_of(regex) == any_one(caseless("success"))
    assert clauses_of("sel: {eventType|re: 'user.session.start'}\ncondition: sel") is None


@pytest.mark.parametrize(
    "detection",
    [
        "sel: {actor.alternateId|re: 'administrator'}",
        "sel: {client.ipAddress|cidr: 10.0.0.0/8}",
        "sel: {asNumber|gte: 10000}",
        "sel: {asNumber: 123456}",
        "sel: {externalSessionId: null}",
        "sel: {externalSessionId|exists: true}",
        "sel: {left|fieldref: right}",
        "sel: {eventType: abc}",  # shorter than 4 bytes
        "sel: {eventType: 'a*b*c*d'}",  # every run too short
        "sel: {eventType|contains|expand: '%placeholder%'}",
        "sel: {code: '100000.0'}",  # a float's text: JSON may spell it 1e5
        "sel: {code: '12345'}",
        "sel: {blob|wide|contains: abcdef}",  # every character is followed by a NUL
    ],
)
def test_values_without_necessary_literals(detection):
    assert clauses_of(detection + "\ncondition: sel") is None


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("'*foo*barbaz?quxx*'", "barbaz"),  # the longest run between wildcards
        ("'\\*literal star*'", "*literal star"),  # an escaped star is a literal
        ("'/api/v1/authn/factors'", "factors"),  # "/" may be written "\/"
        ("'say \"hello\" all'", "hello"),  # '"' is always escaped
        ("'C:\\Windows\\System32'", "System32"),  # backslashes are escaped
        ("'Zürich office'", "rich office"),  # non-ASCII may be \u-escaped
        ("'New IP=POSITIVE'", "positive"),  # "=" appears in rendered objects
        ("'a, b, [list] {object}'", "object"),
        ("'line\\tbreak'", "break"),  # the YAML escape is a real tab
        ("'10.1.2.3'", "10.1.2.3"),  # not a number's text: three dots
        ("'* NEGATIVE*'", "NEGATIVE"),  # the rendering's ", " may give the space
        ("'Velocity=POSITIVE, NEGATIVE'", "Velocity"),
    ],
)
def test_needle_is_the_longest_safe_run(value, needle):
    detection = (
        f'sel:\n  field: "{value[1:-1]}"\ncondition: sel'
        if "\\t" in value
        else f"sel:\n  field: {value}\ncondition: sel"
    )
    assert needles_of(detection) == caseless(needle.lower())


def test_cased_and_base64_needles_are_exact():
    assert needles_of("sel: {factor|cased: OKTA_VERIFY_PUSH}\ncondition: sel") == exact("OKTA_VERIFY_PUSH")
    assert needles_of("sel: {payload|base64|contains: whoami}\ncondition: sel") == exact(
        base64.b64encode(b"whoami").decode()
    )
    offsets = needles_of("sel: {payload|base64offset|contains: 'powershell -enc'}\ncondition: sel")
    assert offsets is not None and len(offsets) == 3
    assert all(not needle.caseless for needle in offsets)


def test_booleans_windash_and_keywords():
    assert needles_of("sel: {isProxy: true}\ncondition: sel") == caseless("true")
    assert needles_of("sel: {isProxy: false}\ncondition: sel") == caseless("false")
    assert needles_of("sel: {args|windash|contains: '-encoded'}\ncondition: sel") == caseless(
        "encoded", "-encoded"
    )
    assert needles_of(
        "keywords:\n  - 'Max sign in*'\n  - svc_network_backup\ncondition: keywords"
    ) == caseless("max sign in", "svc_network_backup")
    assert needles_of("keywords: [12345678]\ncondition: keywords") is None


# ----------------------------------------------------------------------------------------------
# Scanning


def lines_of(chunk: bytes, spans: list[tuple[int, int]]) -> list[bytes]:
    return [chunk[start:end] for start, end in spans]


def oracle_spans(clauses, chunk: bytes) -> list[tuple[int, int]]:
    """The candidate lines by definition, line by line: a line that is structurally suspicious (not
    empty, and its first byte not "{" or its last, a final "\\r" aside, neither "}" nor "\\r"), or
    whose text satisfies a clause: the line's characters (lowered by str.lower() for caseless needles),
    with its JSON string escapes decoded when it has a \\u (a candidate when they do not decode)."""
    clauses = [
        frozenset((clause,)) if isinstance(clause, Needle) else frozenset(clause) for clause in clauses
    ]
    spans, start = [], 0
    for line in chunk.split(b"\n"):
        end = start + len(line)
        text = oracle_text(line)
        if (
            oracle_suspicious(line)
            or text is None
            or any(
                all(needle.text.decode() in (text.lower() if needle.caseless else text) for needle in clause)
                for clause in clauses
            )
        ):
            spans.append((start, end))
        start = end + 1
    return spans


def oracle_suspicious(line: bytes) -> bool:
    body = line.removesuffix(b"\r")
    return bool(line) and (not line.startswith(b"{") or (body != b"" and not body.endswith((b"}", b"\r"))))


JSON_SHORT_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def oracle_text(line: bytes) -> str | None:
    """The line's characters; with its escapes decoded one by one if it has a \\u (None if one is
    invalid), surrogate pairs joined and lone surrogates made U+FFFD as the engine's decoder does."""
    text = line.decode("utf-8", "surrogateescape")
    if b"\\u" not in line:
        return text
    decoded, index = [], 0
    while index < len(text):
        if text[index] != "\\":
            decoded.append(text[index])
            index += 1
        elif text[index + 1 : index + 2] == "u":
            digits = text[index + 2 : index + 6]
            if len(digits) != 4 or not all(digit in "0123456789abcdefABCDEF" for digit in digits):
                return None
            decoded.append(chr(int(digits, 16)))
            index += 6
        elif text[index + 1 : index + 2] in JSON_SHORT_ESCAPES:
            decoded.append(JSON_SHORT_ESCAPES[text[index + 1]])
            index += 2
        else:
            return None
    return "".join(decoded).encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


class ContraryScanner(LineScanner):
    """Scans for another needle of each clause than the longest (the one with the greatest text)."""

    def _rarest(self, clause):
        return max(clause, key=lambda needle: (needle.text, needle.caseless))


def every_scan(clauses, chunk: bytes) -> list[list[tuple[int, int]]]:
    """The candidate spans by each implementation, and with Hyperscan by whichever needle of each
    clause is scanned for: the longest (still counting), the rarest in the chunk, another one."""
    results = [
        LineScanner(clauses, use_hyperscan=choice).candidate_lines(chunk) for choice in SCANNER_CHOICES
    ]
    if hyperscan_available():
        settled = LineScanner(clauses, use_hyperscan=True, warmup_bytes=max(len(chunk), 1))
        results += [settled.candidate_lines(chunk), settled.candidate_lines(chunk)]
        results.append(ContraryScanner(clauses, use_hyperscan=True, warmup_bytes=0).candidate_lines(chunk))
    return results


def scan_both(clauses, chunk: bytes) -> list[bytes]:
    """The candidate lines, asserting that both implementations agree with the definition."""
    results = every_scan(clauses, chunk)
    assert all(result == results[0] for result in results)
    spans = results[0]
    assert spans == oracle_spans(clauses, chunk)
    return lines_of(chunk, spans)


def test_needle_lines_caseless_and_exact():
    chunk = b'{"a":"PUSH"}\n{"b":"x"}\n{"c":"Exact"}\n{"d":"exact"}\n{"e":"push push pUsH"}\n'
    needles = caseless("push") | exact("Exact")
    assert scan_both(needles, chunk) == [b'{"a":"PUSH"}', b'{"c":"Exact"}', b'{"e":"push push pUsH"}']


def test_unicode_escapes_are_decoded_before_the_needles_are_looked_for():
    lines = [
        b'{"a":"p\\u0075sh"}',  # "push" once decoded
        b'{"b":"plain"}',
        b'{"c":"\\"quoted\\""}',
        b'{"d":"caf\\u00e9 and push"}',  # the escape hides nothing: the needle is in the raw line
        b'{"e":"caf\\u00e9 only"}',  # an escape, no needle: no longer a candidate
        b'{"f":"New Device\\u003dPOSITIVE"}',  # Gson's "="
        b'{"g":"\\u0050\\u0055\\u0053\\u0048"}',  # every letter escaped, upper case
    ]
    assert scan_both(caseless("push"), b"\n".join(lines)) == [lines[0], lines[3], lines[6]]
    # rules give no needle with "=" (see _NEEDLE_CHARACTERS), but the decoded text has it
    assert scan_both(caseless("device=positive"), b"\n".join(lines)) == [lines[5]]
    assert scan_both(caseless("device"), b"\n".join(lines)) == [lines[5]]


@pytest.mark.parametrize(
    ("line", "candidate"),
    [
        (rb'{"a":"\\u0070ush"}', False),  # an escaped backslash, then the text "u0070ush"
        (rb'{"a":"\\\u0070ush"}', True),  # an escaped backslash, then an escaped "p"
        (rb'{"a":"\\\\u0070ush"}', False),  # two escaped backslashes
        (rb'{"a":"x\\u0070ush","b":"\u00e9"}', False),
        (rb'{"a":"\u005cu0070ush"}', False),  # an escaped backslash is no escape's start: "\u0070ush"
        (rb'{"a":"\u005c\u0070ush"}', True),  # "\push"
        (rb'{"a":"\u005cpush"}', True),
        (rb'{"a":"\u0050\u0055\u0053\u0048"}', True),
        (rb'{"a":"\u0070\u0075\u0073\u0068x"}', True),
        (rb'{"a":"pu\nsh","b":"\u00e9"}', False),  # a short escape is a character of its own
        (rb'{"a":"\u0070u\/sh"}', False),
        (rb'{"a":"\ud83d\ude00push"}', True),  # a surrogate pair, then the needle
        (rb'{"a":"\ud83dpush"}', True),  # a lone surrogate (the decoder makes it U+FFFD)
        (rb'{"a":"\u212aush","b":"p\u212a"}', False),  # KELVIN SIGN lowers into "k", not "p"
        (rb'{"a":"\u0070ush\x"}', True),  # an invalid escape: the line cannot be told apart
        (rb'{"a":"\u007"} ', True),
        (rb'{"a":"\u00e9 \q"}', True),
        (rb'{"a":"\u00e9"} \\', True),  # a backslash at the end of the line
        (rb'{"a":"\uzzzz push"}', True),
        (rb'{"a":"\u00e9 pu\u0073h"}', True),
    ],
)
def test_escaped_backslashes_and_invalid_escapes(line, candidate):
    other = b'{"y":"push"}'
    expected = [line, other] if candidate else [other]
    assert scan_both(caseless("push"), b'{"x":1}\n' + line + b"\n" + other) == expected
    assert scan_both(caseless("push"), line) == ([line] if candidate else [])  # the unterminated last line


def test_escaped_lines_need_the_whole_clause():
    clauses = necessary_clauses(sigma_rule(RESPONSE_RULE))
    mfa = b'{"eventType":"user.authentication.auth_via_mfa",'
    lines = [
        mfa + b'"factor":"OKTA_VERIFY_PUSH","n":"Zo\\u00eb"}',
        mfa + b'"factor":"PASSWORD","n":"Zo\\u00eb"}',
        mfa + b'"factor":"OKTA_VERIFY_PU\\u0053H"}',
        mfa + b'"factor":"OKTA_VERIFY_PU\\u00e9SH"}',
        mfa + b'"factor":"O\\u212aTA_VERIFY_PUSH"}',
        mfa + b'"factor":"O\xe2\x84\xaaTA_VERIFY_PUSH"}',
        mfa + b'"factor":"O\xe2\x84\xaaTA_VERIFY_PUSH","n":"\\u00eb"}',
        b'{"eventType":"user.authentication.auth_via_mf\\u0061","factor":"OKTA_VERIFY_PUSH"}',
    ]
    chunk = b"\n".join(lines) + b"\n"
    assert scan_both(clauses, chunk) == [lines[0], lines[2], lines[4], lines[5], lines[6], lines[7]]


def test_structural_checks():
    chunk = (
        b'{"ok":1}\n'
        b'{"truncated":\n'
        b"garbage\n"
        b"\n"
        b"   \t \n"
        b'  {"padded":1}  \t\n'
        b'{"crlf":1}\r\n'
        b"\r\n"
        b'{"crcr":1}\r\r\n'
        b'} {"reversed" {\n'
        b'[{"array":1}]\n'
        b'{"last":"no newline"}'
    )
    # blanks around a line's object and blank lines that are not empty make candidates: cheaper to
    # scan for than to skip, and the caller decodes them fine (an object, a blank line)
    assert scan_both(frozenset(), chunk) == [
        b'{"truncated":',
        b"garbage",
        b"   \t ",
        b'  {"padded":1}  \t',
        b"\r",
        b'} {"reversed" {',
        b'[{"array":1}]',
    ]


@pytest.mark.parametrize(
    ("last_line", "candidate"),
    [
        (b'{"last":1}', False),
        (b'{"last":1', True),
        (b"x", True),
        (b"  ", True),
        (b'{"a":1}\r', False),
        (b'{"a":1} ', True),
        (b"\r", True),
        (b"{", True),
        (b"}", True),
        (b"{}", False),
        (b'{"a":"\\u00e9"}', False),
        (b'{"a":"x\\u0031"}', False),
        (b'{"a":"needle"}', True),
        (b'{"a":"NEE\\u0044LE"}', True),
        (b'{"a":"NEE\\u0044LE', True),
    ],
)
def test_last_line_without_newline(last_line, candidate):
    for first in [b'{"first":1}\n', b"\n", b'{"first":"needle"}\r\n']:
        expected = [first.rstrip(b"\n")] if b"needle" in first else []
        assert scan_both(caseless("needle"), first + last_line) == expected + (
            [last_line] if candidate else []
        )


def test_first_line_and_single_line_chunks():
    assert scan_both(frozenset(), b'x{"a":1}\n{"b":2}\n') == [b'x{"a":1}']
    assert scan_both(frozenset(), b' {"a":1}\n{"b":2}\n') == [b' {"a":1}']
    assert scan_both(frozenset(), b'\r\n{"b":2}\n') == [b"\r"]
    assert scan_both(frozenset(), b'\n\n{"b":2}\n\n') == []
    assert scan_both(frozenset(), b"\n") == []
    assert scan_both(frozenset(), b"") == []
    assert scan_both(frozenset(), b"x") == [b"x"]
    assert scan_both(caseless("needle"), b'{"a":"NEEDLE"}') == [b'{"a":"NEEDLE"}']
    assert scan_both(caseless("needle"), b'{"a":"NEEDLE"}\n') == [b'{"a":"NEEDLE"}']
    assert scan_both(caseless("needle"), b'{"a":"NEEDLE"} \n') == [b'{"a":"NEEDLE"} ']


def test_a_valid_line_with_blanks_around_its_object_is_a_candidate():
    lines = [b'{"a":1}', b' {"a":1}', b'{"a":1} ', b'\t{"a":1}\t', b'{"a":1}\r', b'{"a":1} \r']
    assert scan_both(frozenset(), b"\n".join(lines) + b"\n") == [lines[1], lines[2], lines[3], lines[5]]
    for line in lines:
        assert orjson.loads(line) == {"a": 1}  # each decodes: the caller counts no offence


def test_characters_that_lower_into_ascii_letters():
    # str.lower() turns exactly these two non-ASCII characters into (strings with) ASCII letters.
    lowering = [
        chr(code) for code in range(0x80, sys.maxunicode + 1) if re.search("[\x00-\x7f]", chr(code).lower())
    ]
    assert lowering == ["\u0130", "\u212a"]
    rule = sigma_rule("sel: {name|contains: kilo}\ncondition: sel")
    predicate = compile_rule(rule)
    line = '{"name":"\u212ailo"}'.encode()
    assert predicate(orjson.loads(line))
    assert scan_both(necessary_needles(rule), line + b"\n" + b'{"name":"other"}\n') == [line]
    # without a caseless "k" in any needle, the Kelvin sign is no reason to decode
    assert scan_both(caseless("other"), line + b"\n") == []


def test_scanner_pickles_for_worker_processes():
    scanner = LineScanner(caseless("push"))
    copy = pickle.loads(pickle.dumps(scanner))
    assert copy.backend == scanner.backend
    assert copy.candidate_lines(b'{"a":"push"}\n{"b":1}\n') == [(0, 12)]
    scanner = LineScanner(dnf(caseless("push", "send")))
    copy = pickle.loads(pickle.dumps(scanner))
    assert copy.clauses == scanner.clauses
    assert copy.candidate_lines(b'{"a":"push"}\n{"b":"send push"}\n') == [(13, 30)]
    copy = pickle.loads(pickle.dumps(LineScanner(dnf(caseless("push", "send")), warmup_bytes=123)))
    assert copy.warmup_bytes == 123


@pytest.mark.skipif(not hyperscan_available(), reason="hyperscan is not installed")
def test_the_rarest_needle_of_each_clause_is_scanned_for_after_counting():
    clauses = dnf(
        caseless("user.authentication.auth_via_mfa", "okta_verify_push"),  # the longer is the commoner
        caseless("common", "rare_one", "rare_two"),  # two unseen needles: the longer, then the smaller
        caseless("solo"),
    )
    common = b'{"eventType":"user.authentication.auth_via_mfa","x":"common common"}'
    lines = [
        common,
        b'{"eventType":"user.authentication.auth_via_mfa","factor":"OKTA_VERIFY_PUSH"}',
        b'{"x":"common rare_one rare_two"}',
        b'{"x":"okta_verify_push only"}',
        b'{"x":"solo"}',
        b'{"x":"rare_one \\u0072are_two common"}',
        b"garbage",
    ]
    first = b"\n".join([common] * 40) + b"\n"
    later = b"\n".join(lines * 3) + b"\n" + lines[1]
    scanner = LineScanner(clauses, use_hyperscan=True, warmup_bytes=len(first) + 1)
    assert scanner.scanned_needles == caseless("user.authentication.auth_via_mfa", "rare_one", "solo")
    assert scanner.candidate_lines(first) == []
    assert scanner.scanned_needles == caseless("user.authentication.auth_via_mfa", "rare_one", "solo")
    assert scanner.candidate_lines(b"\n") == []  # the counting ends: the next scan is the chosen one's
    assert scanner.scanned_needles == caseless("okta_verify_push", "rare_one", "solo")
    expected = oracle_spans(clauses, later)
    assert lines_of(later, expected) == [*lines[1:3], lines[4], lines[5], lines[6]] * 3 + [lines[1]]
    assert scanner.candidate_lines(later) == expected
    assert LineScanner(clauses, use_hyperscan=True).candidate_lines(later) == expected  # the longest
    assert LineScanner(clauses, use_hyperscan=False).candidate_lines(later) == expected
    # the counts come from the data: where the shorter needle is the commoner, the longer stays
    scanner = LineScanner(clauses, use_hyperscan=True, warmup_bytes=100)
    assert scanner.candidate_lines(b"\n".join([lines[3]] * 5)) == []  # counted over its first 100 bytes
    assert scanner.scanned_needles == caseless("user.authentication.auth_via_mfa", "rare_one", "solo")
    assert scanner.candidate_lines(later) == expected
    # one-needle clauses have nothing to choose from
    assert LineScanner(caseless("solo", "other"), use_hyperscan=True).scanned_needles == caseless(
        "solo", "other"
    )


def test_characters_that_lower_into_letters_inside_needles():
    # U+212A KELVIN SIGN lowers into "k" anywhere; U+0130 into "i" and a combining dot, so only a
    # needle's final "i" can come from it
    kelvin, dotted = "\u212a", "\u0130"
    lines = [
        f'{{"a":"{kelvin}IWI"}}',
        f'{{"a":"KIW{dotted}"}}',
        f'{{"a":"K{dotted}WI"}}',  # "ki\u0307wi": no "kiwi"
        f'{{"a":"{kelvin}{dotted}"}}',
        f'{{"a":"wi{kelvin}i"}}',
        f'{{"a":"wiK{dotted}"}}',
        '{"a":"\\u212aiwi"}',
        '{"a":"kiw\\u0130"}',
    ]
    chunk = "\n".join(lines).encode()
    expected = [lines[0], lines[1], lines[4], lines[5], lines[6], lines[7]]
    assert scan_both(caseless("kiwi", "wiki"), chunk) == [line.encode() for line in expected]
    assert scan_both(exact("kiwi", "wiki"), chunk) == []
    # more letters that may be spelt two ways than the literals cover: a part of the needle is scanned for
    many = "kayak-kiosk-kicks"
    spelt = [f'{{"a":"{many.upper()}"}}', f'{{"a":"KAYA{kelvin}-{kelvin}IOS{kelvin}-{kelvin}ICKS"}}']
    assert scan_both(caseless(many), "\n".join(spelt).encode()) == [line.encode() for line in spelt]
    assert scan_both(caseless(many), b'{"a":"kayak-kiosk"}\n{"a":"kiosk-kicks"}\n') == []


def test_a_line_needs_every_needle_of_a_clause():
    clauses = necessary_clauses(sigma_rule(RESPONSE_RULE))
    password = (
        b'{"eventType":"user.authentication.auth_via_mfa","debugContext":{"debugData":{"factor":"PASSWORD"}}}'
    )
    push = b'{"eventType":"user.authentication.auth_via_mfa","debugContext":{"debugData":{"factor":"OKTA_VERIFY_PUSH"}}}'
    cased = b'{"debugContext":{"debugData":{"factor":"okta_verify_push"}},"eventType":"USER.authentication.auth_via_MFA"}'
    sent = b'{"eventType":"system.push.send_factor_verify_push","factor":"OKTA_VERIFY_PUSH"}'
    chunk = b"\n".join([password, push, cased, sent]) + b"\n"
    assert scan_both(clauses, chunk) == [push, cased]
    # needles on neighbouring lines do not make a clause, whatever the order
    halves = [b'{"eventType":"user.authentication.auth_via_mfa"}', b'{"factor":"OKTA_VERIFY_PUSH"}']
    assert scan_both(clauses, b"\n".join(halves)) == []
    assert scan_both(clauses, b"\n".join(halves[::-1]) + b"\n") == []
    # the two base rules together: the push sent line by its one needle, the response by both
    sent_rule = sigma_rule("sel: {eventType: system.push.send_factor_verify_push}\ncondition: sel")
    assert scan_both(clauses | necessary_clauses(sent_rule), chunk) == [push, cased, sent]


def test_clauses_sharing_needles_and_repeated_matches():
    clauses = dnf(
        caseless("alpha", "beta"), caseless("beta", "gamma"), exact("Delta"), caseless("gamma", "delta")
    )
    lines = [
        b'{"x":"alpha alpha alpha"}',
        b'{"x":"beta alphA"}',
        b'{"x":"gamma beta gamma"}',
        b'{"x":"gamma Delta"}',  # Delta alone suffices
        b'{"x":"gamma delta"}',
        b'{"x":"delta"}',
        b'{"x":"alphabet"}',  # "alpha" and "bet" but not "beta"
        b'{"x":"alphabeta"}',
        b'{"x":"gammalpha"}',
    ]
    assert scan_both(clauses, b"\n".join(lines)) == [lines[1], lines[2], lines[3], lines[4], lines[7]]
    # clauses of three and four needles, one sharing a pair with a clause of two
    clauses = dnf(caseless("papa", "romeo", "sierra"), caseless("papa", "romeo", "tango", "uniform"))
    lines = [
        b'{"x":"papa romeo"}',
        b'{"x":"sierra, papa: romeo"}',
        b'{"x":"romeo tango uniform"}',
        b'{"x":"uniform tango romeo papa"}',
        b'{"x":"papa"}',
    ]
    assert scan_both(clauses, b"\n".join(lines)) == [lines[1], lines[3]]
    assert scan_both(clauses | dnf(caseless("papa", "tango")), b"\n".join(lines)) == [lines[1], lines[3]]


def test_a_long_value_list_and_a_needle():
    users = [f"user{index:05d}@example.com" for index in range(3000)]
    rule = sigma_rule(
        yaml.safe_dump(
            {"sel": {"eventType": "user.session.start", "actor.alternateId": users}, "condition": "sel"}
        )
    )
    clauses = necessary_clauses(rule)
    assert clauses == dnf(*(caseless("user.session.start", user) for user in users))
    assert necessary_needles(rule) == caseless("user.session.start")
    lines = [
        b'{"eventType":"user.session.start","actor":{"alternateId":"USER02999@example.com"}}',
        b'{"eventType":"user.session.start","actor":{"alternateId":"someone@example.com"}}',
        b'{"eventType":"user.session.end","actor":{"alternateId":"user00000@example.com"}}',
    ]
    assert scan_both(clauses, b"\n".join(lines * 50)) == [lines[0]] * 50


def test_needles_are_one_needle_clauses_and_an_empty_clause_is_refused():
    chunk = b'{"a":"push"}\n{"b":"send"}\n{"c":"other"}\n'
    assert LineScanner(caseless("push", "send")).candidate_lines(chunk) == LineScanner(
        any_one(caseless("push", "send"))
    ).candidate_lines(chunk)
    assert scan_both(caseless("push", "send"), chunk) == [b'{"a":"push"}', b'{"b":"send"}']
    with pytest.raises(ValueError, match="empty clause"):
        LineScanner([frozenset()])


SCAN_NEEDLES = [
    Needle(b"abcd", True),
    Needle(b"bcde", True),
    Needle(b"ABCD", False),
    Needle(b"kiwi", True),
    Needle(b"xyzw", False),
]
SCAN_PIECES = [
    b"abcd",
    b"ABCD",
    b"bcde",
    b"aBcDe",
    b"xyzw",
    b"XYZW",
    b"kiwi",
    b"\xe2\x84\xaaiwi",
    b"\\u0041",
    b"{",
    b"}",
    b"{",
    b"}",
    b" ",
    b"\r",
    b"\n",
    b"\n",
    b'"',
    b"zz",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sets(st.sampled_from(SCAN_NEEDLES), min_size=1, max_size=3), max_size=4),
    st.lists(st.sampled_from(SCAN_PIECES), max_size=40),
)
def test_scanners_agree_with_the_definition(clauses, pieces):
    scan_both([frozenset(clause) for clause in clauses], b"".join(pieces))


@pytest.mark.skipif(not hyperscan_available(), reason="hyperscan is not installed")
def test_backend_choice():
    assert LineScanner(caseless("push")).backend == "hyperscan"
    assert LineScanner(caseless("push"), use_hyperscan=False).backend == "python"


# ----------------------------------------------------------------------------------------------
# The property: every line whose event a rule matches is a candidate


FIELDS = [
    "eventType",
    "outcome.result",
    "debugContext.debugData.factor",
    "debugContext.debugData.behaviors",
    "target.displayName",
    "displayMessage",
    "client.ipAddress",
]
WORDS = [  # each exercises one way a value's raw JSON differs from its decoded text
    "system.push.send_factor_verify_push",
    "OKTA_VERIFY_PUSH",
    "/api/v1/authn",  # "/" may be written "\/"
    'say "hi" there',  # '"' is escaped
    "back\\slash\\path",  # so is "\"
    "Zürich office",  # non-ASCII may be \u-escaped
    "New IP=POSITIVE",  # "=" and ", " appear in the caller's rendering of objects and lists
    "Velocity=POSITIVE, NEGATIVE",
    "kilo-India-link",  # U+212A and U+0130 lower into ASCII letters
    "100000.0",  # a float's text, which JSON may spell 1e5
    "line\nbreak here",  # control characters are escaped
    "-encoded value",  # windash
    "true",  # a JSON boolean's text
    "\U0001f600 emoji text",  # a surrogate pair when \u-escaped
    "C:\\u0070ush\\tool",  # backslashes before "u" and a hex number, and before "t"
]
MODIFIERS = [
    "",
    "",
    "|contains",
    "|startswith",
    "|endswith",
    "|cased",
    "|cased|contains",
    "|windash|contains",
    "|base64offset|contains",
    "|re",
    "|exists",
    "|neq",
]
FILLERS = ["", "x", "ABC ", "\u00e9", "/", '"', "\\", "=", ", ", "K", "\t", "\\u0041", "\\u", "\\\\"]


def sigma_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


@st.composite
def string_spec(draw):
    """A rule value: a word cut into literal pieces joined by wildcards."""
    word = draw(st.sampled_from(WORDS))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(word) - 1)), max_size=2)))
    pieces = [word[start:end] for start, end in zip([0, *cuts], [*cuts, len(word)], strict=True)]
    wildcards = [draw(st.sampled_from(["*", "?", ""])) for _ in pieces[1:]]
    return {"pieces": pieces, "wildcards": wildcards}


@st.composite
def item_spec(draw):
    """A detection item: field, modifier and one to three values."""
    field = draw(st.sampled_from(FIELDS))
    modifier = draw(st.sampled_from(MODIFIERS))
    values = draw(st.lists(string_spec(), min_size=1, max_size=3))
    return field, [{**value, "modifier": modifier} for value in values]


def sigma_value(spec) -> str:
    if spec["modifier"] == "|re":
        return re.escape("".join(spec["pieces"]))
    if spec["modifier"] == "|exists":
        return True
    if "base64" in spec["modifier"]:  # pySigma refuses wildcards under base64
        return sigma_escape("".join(spec["pieces"]))
    value = sigma_escape(spec["pieces"][0])
    for wildcard, piece in zip(spec["wildcards"], spec["pieces"][1:], strict=True):
        value += wildcard + sigma_escape(piece)
    return value


@st.composite
def rule_spec(draw):
    """Detections of one map of items (an AND) or, now and then, a list of maps (an OR of ANDs)."""
    detections = {}
    for index in range(draw(st.integers(1, 3))):
        alternatives = draw(st.integers(1, 2)) if draw(st.booleans()) else 1
        detections[f"sel{index}"] = [
            draw(st.lists(item_spec(), min_size=1, max_size=3)) for _ in range(alternatives)
        ]
    keywords = draw(
        st.one_of(
            st.none(),
            st.lists(string_spec().map(lambda value: {**value, "modifier": ""}), min_size=1, max_size=2),
        )
    )
    names = list(detections) + (["keywords"] if keywords else [])
    condition = draw(condition_text(names))
    return {"detections": detections, "keywords": keywords, "condition": condition}


def condition_text(names):
    """Conditions over the detections, mostly positive so that events often match."""
    operand = st.one_of(
        st.sampled_from(names),
        st.sampled_from(names),
        st.sampled_from(["1 of sel*", "all of sel*", "1 of them", "all of them"]),
    )
    return st.one_of(
        operand,
        st.tuples(operand, st.sampled_from(["and", "or"]), operand).map(" ".join),
        st.tuples(operand, operand).map(lambda parts: f"{parts[0]} and not {parts[1]}"),
        st.tuples(operand, operand, operand).map(lambda parts: "({} or {}) and not {}".format(*parts)),
        st.tuples(operand, operand, operand).map(lambda parts: "({} and {}) or {}".format(*parts)),
        st.tuples(operand, operand, operand, operand).map(
            lambda parts: "({} and {}) or ({} and {})".format(*parts)
        ),
        st.tuples(operand, operand, operand).map(lambda parts: "({} or {}) and {}".format(*parts)),
        operand.map(lambda part: f"not {part}"),
    )


def all_values(values) -> bool:
    """Whether an item of several values takes |all: the contains modifiers, base64 aside (an event
    value can hold every value as a substring)."""
    modifier = values[0]["modifier"]
    return len(values) > 1 and "contains" in modifier and "base64" not in modifier


def build_rule(spec) -> SigmaRule:
    detection = {}
    for name, alternatives in spec["detections"].items():
        mappings = []
        for items in alternatives:
            mapping = {}
            for field, values in items:
                modifier = values[0]["modifier"]
                key = field + modifier + ("|all" if all_values(values) else "")
                mapping[key] = [sigma_value(value) for value in values] if modifier != "|exists" else True
            mappings.append(mapping)
        detection[name] = mappings[0] if len(mappings) == 1 else mappings
    if spec["keywords"]:
        detection["keywords"] = [sigma_value(value) for value in spec["keywords"]]
    detection["condition"] = spec["condition"]
    document = {"title": "property rule", "logsource": {"product": "okta"}, "detection": detection}
    return SigmaRule.from_yaml(yaml.safe_dump(document))


def realise(spec, rnd: random.Random, case_changes: float) -> object:
    """An event value that the rule value (probably) matches, with random case changes."""
    text = spec["pieces"][0]
    for wildcard, piece in zip(spec["wildcards"], spec["pieces"][1:], strict=True):
        text += {"*": rnd.choice(FILLERS), "?": rnd.choice("xK/é"), "": ""}[wildcard] + piece
    modifier = spec["modifier"]
    if modifier in ("|re", "|exists", "|neq", "|cased") or "base64" in modifier:
        text = "".join(spec["pieces"])
    if "contains" in modifier or modifier == "|endswith":
        text = rnd.choice(FILLERS) + text
    if "contains" in modifier or modifier == "|startswith":
        text += rnd.choice(FILLERS)
    if "windash" in modifier:
        text = text.replace("-", rnd.choice(["-", "/", "\u2013"]))
    text = change_case(text, rnd, case_changes)
    if "base64" in modifier:
        raw = (rnd.choice(["", "a", "ab"]) + "".join(spec["pieces"]) + rnd.choice(["", "z"])).encode()
        text = base64.b64encode(raw).decode()
    shape = rnd.random()
    if "=" in text and shape < 0.5 and (rendered := object_rendered_around(text)) is not None:
        return rendered
    if shape < 0.3 and text == "100000.0":
        return 100000.0  # encoded as 1e5 a third of the time
    if shape < 0.3 and text.lower() == "true":
        return True
    if shape < 0.4:
        return ["noise", text]
    if shape < 0.6 and (rendered := object_rendered_around(text)) is not None:
        return rendered
    return text


def object_rendered_around(text: str) -> dict | None:
    """An object whose rendering by the caller ("{key=value, ...}") contains ``text``, if one exists."""
    segments = text.split(", ")
    members: dict = {}
    for index, segment in enumerate(segments):
        key, equals, value = segment.partition("=")
        if equals:
            members[key] = value
        elif index == 0:
            members["k"] = segment  # "{k=first, ..."
        elif index == len(segments) - 1:
            members[segment] = ""  # "..., last=}"
        else:
            return None
    if len(segments) == 1 and "=" not in text:
        return {"New IP": text, "New Device": "NEGATIVE"}
    return members


def realise_item(values, rnd: random.Random, case_changes: float) -> object:
    """A value for a detection item: one of its values, or all of them for contains|all."""
    if all_values(values):
        return " ".join(str(realise(value, rnd, case_changes)) for value in values)
    return realise(rnd.choice(values), rnd, case_changes)


def change_case(text: str, rnd: random.Random, probability: float) -> str:
    changed = []
    for character in text:
        if rnd.random() < probability:
            character = rnd.choice(
                [
                    character.upper(),
                    character.lower(),
                    {"k": "\u212a", "i": "\u0130"}.get(character.lower(), character),
                ]
            )
        changed.append(character)
    return "".join(changed)


def place(event: dict, field: str, value: object, rnd: random.Random) -> None:
    """Put a value at a dotted field: nested objects, a literal dotted key, or inside a list."""
    segments = field.split(".")
    if len(segments) > 1 and rnd.random() < 0.2:
        event[field] = value
        return
    container = event
    for segment in segments[:-1]:
        inner = container.get(segment)
        if not isinstance(inner, dict):
            inner = {}
            container[segment] = [inner] if segment == "target" and rnd.random() < 0.5 else inner
        container = inner
    container[segments[-1]] = value


def normalise(event: dict, fields: frozenset[str]) -> dict:
    """What the engine's caller does: objects in string fields become their text."""
    for field in fields:
        segments = field.split(".")
        container = event
        for segment in segments[:-1]:
            container = container.get(segment) if isinstance(container, dict) else None
        if isinstance(container, dict) and isinstance(container.get(segments[-1]), dict):
            container[segments[-1]] = text_of(container[segments[-1]])
    return event


class RandomJson:
    """A JSON encoder that escapes randomly and varies key order and whitespace."""

    SHORT_ESCAPES: ClassVar[dict[str, str]] = {
        "\n": "\\n",
        "\t": "\\t",
        "\r": "\\r",
        "\b": "\\b",
        "\f": "\\f",
    }

    def __init__(self, rnd: random.Random, escape_probability: float):
        self.rnd = rnd
        self.escape_probability = escape_probability

    def space(self) -> str:
        return self.rnd.choice(["", "", " ", "  ", "\t", " \r "])

    def encode(self, value: object) -> str:
        if isinstance(value, dict):
            items = list(value.items())
            self.rnd.shuffle(items)
            members = [
                f"{self.space()}{self.string(key)}{self.space()}:{self.space()}{self.encode(inner)}"
                for key, inner in items
            ]
            return "{" + ",".join(members) + self.space() + "}"
        if isinstance(value, list):
            return "[" + ",".join(self.space() + self.encode(inner) + self.space() for inner in value) + "]"
        if value is True or value is False or value is None:
            return {True: "true", False: "false", None: "null"}[value]
        if isinstance(value, float):
            return self.rnd.choice([repr(value), f"{value:e}", "1e5" if value == 100000.0 else repr(value)])
        if isinstance(value, int):
            return str(value)
        return self.string(value)

    def string(self, text: str) -> str:
        return '"' + "".join(self.character(character) for character in text) + '"'

    def character(self, character: str) -> str:
        code = ord(character)
        escape = self.rnd.random() < self.escape_probability
        if character in '"\\':
            return self.unicode_escape(character) if escape else "\\" + character
        if code < 0x20:
            return (
                self.unicode_escape(character)
                if escape
                else self.SHORT_ESCAPES.get(character) or self.unicode_escape(character)
            )
        if character == "/":
            return self.unicode_escape(character) if escape else self.rnd.choice(["/", "\\/"])
        return self.unicode_escape(character) if escape else character

    def unicode_escape(self, character: str) -> str:
        encoded = character.encode("utf-16-be")
        units = [int.from_bytes(encoded[index : index + 2], "big") for index in range(0, len(encoded), 2)]
        hexdigits = "".join(f"\\u{unit:04x}" for unit in units)
        return hexdigits.upper().replace("\\U", "\\u") if self.rnd.random() < 0.5 else hexdigits


@st.composite
def scenario(draw):
    specs = draw(st.lists(rule_spec(), min_size=1, max_size=2))
    rnd = random.Random(draw(st.integers(0, 2**32)))  # a seed: drawing every choice overruns the buffer
    escape_probability = draw(st.sampled_from([0.0, 0.0, 0.01, 0.2, 0.6]))
    case_changes = draw(st.sampled_from([0.0, 0.3, 1.0]))
    events = []
    for _ in range(draw(st.integers(2, 8))):
        event = {"uuid": "e" + str(rnd.randrange(10**6)), "published": "2024-05-01T12:00:00.000Z"}
        spec = rnd.choice(specs)
        for alternatives in spec["detections"].values():
            for field, values in rnd.choice(alternatives):
                if rnd.random() < 0.9:
                    place(event, field, realise_item(values, rnd, case_changes), rnd)
        if spec["keywords"] and rnd.random() < 0.8:
            place(event, "client.zone", realise(rnd.choice(spec["keywords"]), rnd, case_changes), rnd)
        events.append(event)
    return specs, events, RandomJson(rnd, escape_probability), rnd


def assemble(encoded_lines: list[str], rnd: random.Random) -> tuple[bytes, list[tuple[int, int]], list[int]]:
    """A chunk of lines with random noise lines, CRLF and final newline; the events' spans and the
    noise lines that must be candidates."""
    chunk = bytearray()
    spans, garbage = [], []
    newline = rnd.choice([b"\n", b"\r\n"])
    for text in encoded_lines:
        if rnd.random() < 0.2:
            chunk += rnd.choice([b"", b"  ", b"\t"]) + newline
        if rnd.random() < 0.1:
            garbage.append(len(spans))
            text = rnd.choice(['{"truncated": "x', "not json", '"x"}'])
        line = (rnd.choice(["", " "]) + text + rnd.choice(["", " \t"])).encode() + newline.rstrip(b"\n")
        spans.append((len(chunk), len(chunk) + len(line)))
        chunk += line + b"\n"
    if rnd.random() < 0.5:
        chunk = chunk[:-1]  # the last line without its newline
    return bytes(chunk), spans, garbage


@settings(
    max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(scenario())
def test_prefilter_never_drops_a_matching_event(case):
    specs, events, encoder, rnd = case
    rules = [build_rule(spec) for spec in specs]
    clause_sets = [necessary_clauses(rule) for rule in rules]
    clauses = frozenset().union(*(found for found in clause_sets if found is not None))
    chunk, spans, garbage = assemble([encoder.encode(event) for event in events], rnd)

    results = every_scan(clauses, chunk)
    assert all(result == results[0] for result in results), "scanner implementations disagree"
    assert results[0] == oracle_spans(clauses, chunk)
    candidates = set(results[0])
    assert all(spans[index] in candidates for index in garbage)

    checked = joint = 0
    for rule, rule_clauses in zip(rules, clause_sets, strict=True):
        if rule_clauses is None:
            continue  # the caller decodes every line for this rule
        predicate, fields = compile_rule(rule), string_fields(rule)
        one_needle = set(oracle_spans(necessary_needles(rule), chunk))  # the weaker form is sound too
        for index, (start, end) in enumerate(spans):
            if index in garbage:
                continue
            if predicate(normalise(orjson.loads(chunk[start:end]), fields)):
                checked += 1
                joint += any(len(clause) > 1 for clause in rule_clauses)
                assert (start, end) in candidates, f"dropped {chunk[start:end]!r} for {rule_clauses}"
                assert (start, end) in one_needle, f"{chunk[start:end]!r} has no necessary needle"
    event(f"matched lines checked against clauses: {min(checked, 3)}{'+' if checked >= 3 else ''}")
    event(f"of them under clauses of several needles: {min(joint, 3)}{'+' if joint >= 3 else ''}")


ESCAPING_PIECES = [
    "push",
    "PuSh",
    "p",
    "ush",
    "u",
    "0070",
    "\\",
    "\\u",
    "\\u0070",
    "\\\\",
    "k",
    "\u212a",
    "ilo",
    "wik",
    "i",
    "\u0130",
    "wik\u0130",
    "\u212ailo",
    "\u00e9",
    "\U0001f600",
    "\n",
    '"',
    "/",
    "=",
    " ",
]
ESCAPING_CLAUSES = [
    any_one(caseless("push")),
    any_one(caseless("kilo", "wiki")),
    any_one(exact("u0070ush")),
    any_one(caseless("0070")),
    dnf(caseless("push", "kilo")),
    dnf(exact("PuSh"), caseless("wiki", "ush")),
]


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(ESCAPING_PIECES), max_size=8).map("".join), min_size=1, max_size=4),
    st.sampled_from(ESCAPING_CLAUSES),
    st.integers(0, 2**32),
    st.sampled_from([0.0, 0.2, 0.7, 1.0]),
)
def test_escaping_hides_no_needle(texts, clauses, seed, escape_probability):
    """Strings of pieces chosen to put backslashes, "u" and hexadecimal digits next to each other and
    to the needles, every character escaped at random: a line whose decoded value satisfies a clause
    is a candidate, and the scanners agree with the definition."""
    rnd = random.Random(seed)
    encoder = RandomJson(rnd, escape_probability)
    events = [{"v": text, "w": [rnd.choice(texts), "x"]} for text in texts]
    chunk = b"\n".join(encoder.encode(event).encode() for event in events) + rnd.choice([b"", b"\n"])
    candidates = scan_both(clauses, chunk)
    for values, line in zip(events, chunk.split(b"\n"), strict=False):
        assert orjson.loads(line) == values
        text = "\0".join([values["v"], *values["w"]])  # a clause's needles may be in different values
        if any(
            all(needle.text.decode() in (text.lower() if needle.caseless else text) for needle in clause)
            for clause in clauses
        ):
            assert line in candidates, f"dropped {line!r}"
