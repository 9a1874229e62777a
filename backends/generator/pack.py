"""The bundled rule pack as the generator models it: each rule's id, window, group-by and threshold, and
which rule inputs a step of a given kind is (:func:`step_feeds`).

These constants restate ``rules/*.yml`` on purpose, as ``rule.py`` does for the push rule: the ground
truth follows from them and from what the builders planted, never from the rule files or an engine, and
``tests/test_generator_pack.py`` checks them against the loaded pack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from .rule import PUSH_EVENT_TYPE, RESPONSE_EVENT_TYPE, RESPONSE_FACTOR, RULE_ID, RULE_NAME

MINUTES_5 = 300_000
HOUR = 3_600_000
DAY = 86_400_000
FASTPASS_PHISHING_REASON = "FastPass declined phishing attempt"


@dataclass(frozen=True)
class PackRule:
    """One rule of the pack. ``kind``: ``match`` (every matching event alerts), ``event_count`` or
    ``value_count`` (a standard correlation), ``session_cookie``, ``mfa_hunt``, ``failed_apps`` or
    ``single_factor`` (their aggregates), ``push_mismatch``, or ``risk_threshold`` (over the others'
    alerts, ``pack_truth.risk_alerts``)."""

    name: str
    rule_id: str
    title: str
    kind: str
    group_by: tuple[str, ...] = ()
    window_ms: int = 0
    threshold: tuple[str, int] | None = None  # (gt | gte, n) on the count or distinct count
    value_field: str | None = None  # value_count: the field whose distinct values are counted
    object_field: str | None = None  # match: the risk object's field, which names the alert

    def holds(self, number: int) -> bool:
        assert self.threshold is not None
        operator, limit = self.threshold
        return number > limit if operator == "gt" else number >= limit


def _match(name: str, rule_id: str, title: str, object_field: str = "actor.alternateId") -> PackRule:
    return PackRule(name, rule_id, title, "match", object_field=object_field)


AUTH_FAILED_MFA = "okta_authentication_failed_during_mfa_challenge"
IDP_LIFECYCLE = "okta_idp_lifecycle_modifications"
MFA_DISABLED = "okta_multi_factor_authentication_disabled"
LOCKOUTS = "okta_multiple_accounts_locked_out"
MFA_HUNT = "okta_mfa_exhaustion_hunt"
FAILED_APPS = "okta_multiple_failed_requests_to_access_applications"
SINGLE_FACTOR = "okta_successful_single_factor_authentication"
MFA_BURST = "okta_multiple_failed_mfa_requests_for_user"
SPRAY = "okta_multiple_users_failing_to_authenticate_from_ip"
API_TOKEN = "okta_new_api_token_created"
DEVICE_ENROLLED = "okta_new_device_enrolled_on_account"
FASTPASS = "okta_phishing_detection_with_fastpass_origin_check"
REPORTED = "okta_suspicious_activity_reported"
SESSION_COOKIE = "okta_suspicious_use_of_a_session_cookie"
THREAT_INSIGHT = "okta_threatinsight_threat_detected"
UNAUTHORIZED_APP = "okta_unauthorized_access_to_application"
CITIES = "okta_user_logins_from_multiple_cities"
PUSH_MISMATCH = "okta_verify_push_source_response_mismatch"
RISK_THRESHOLD = "okta_risk_threshold_exceeded"

PACK_RULES: tuple[PackRule, ...] = (
    _match(
        AUTH_FAILED_MFA,
        "e2b99e7d-d956-411a-a120-2b14adfdde93",
        "Okta Authentication Failed During MFA Challenge",
    ),
    _match(IDP_LIFECYCLE, "e0be2c83-5526-4219-a14f-c3db2e763d15", "Okta IDP Lifecycle Modifications"),
    _match(MFA_DISABLED, "7c0348ce-bdf9-45f6-8a57-c18b5976f00a", "Okta Multi-Factor Authentication Disabled"),
    PackRule(
        LOCKOUTS,
        "a511426e-184f-4de6-8711-cfd2af29d1e1",
        "Okta Multiple Accounts Locked Out",
        "event_count",
        ("client.ipAddress", "outcome.result"),
        MINUTES_5,
        ("gt", 5),
    ),
    PackRule(
        MFA_HUNT,
        "97e2fe57-3740-402c-988a-76b64ce04b8d",
        "Okta MFA Exhaustion Hunt",
        "mfa_hunt",
        ("actor.alternateId",),
        DAY,
    ),
    PackRule(
        FAILED_APPS,
        "1c21fed1-7000-4a2e-9105-5aaafa437247",
        "Okta Multiple Failed Requests to Access Applications",
        "failed_apps",
        ("authenticationContext.externalSessionId", "actor.alternateId", "client.ipAddress"),
        HOUR,
    ),
    PackRule(
        SINGLE_FACTOR,
        "98f6ad4f-4325-4096-9d69-45dc8e638e82",
        "Okta Successful Single Factor Authentication",
        "single_factor",
        ("client.ipAddress", "actor.alternateId"),
        HOUR,
    ),
    PackRule(
        MFA_BURST,
        "826dbaae-a1e6-4c8c-b384-d16898956e73",
        "Okta Multiple Failed MFA Requests For User",
        "event_count",
        ("actor.alternateId",),
        MINUTES_5,
        ("gte", 10),
    ),
    PackRule(
        SPRAY,
        "de365ffa-42f5-46b5-b43f-fa72290b8218",
        "Okta Multiple Users Failing To Authenticate From Ip",
        "value_count",
        ("client.ipAddress",),
        MINUTES_5,
        ("gt", 9),
        value_field="actor.alternateId",
    ),
    _match(API_TOKEN, "c3d22720-35d3-4da4-bd0a-740d37192bd4", "Okta New API Token Created"),
    _match(DEVICE_ENROLLED, "bb27cbce-d4de-432c-932f-2e206e9130fb", "Okta New Device Enrolled on Account"),
    _match(
        FASTPASS, "f4ca0057-cbf3-44f8-82ea-4e330ee901d3", "Okta Phishing Detection with FastPass Origin Check"
    ),
    _match(REPORTED, "bfc840f5-c9c6-454c-aa13-b46fd0bf1e79", "Okta Suspicious Activity Reported"),
    PackRule(
        SESSION_COOKIE,
        "71ad47d1-d6bd-4e0a-b35c-020ad9a6959e",
        "Okta Suspicious Use of a Session Cookie",
        "session_cookie",
        ("debugContext.debugData.dtHash", "actor.alternateId"),
        HOUR,
    ),
    _match(
        THREAT_INSIGHT,
        "140504ae-5fe2-4d65-b2bc-a211813fbca6",
        "Okta ThreatInsight Threat Detected",
        object_field="client.ipAddress",
    ),
    _match(
        UNAUTHORIZED_APP, "5f661629-9750-4cb9-897c-1f05d6db8727", "Okta Unauthorized Access to Application"
    ),
    PackRule(
        CITIES,
        "a3d1df37-c2a9-41d0-aa8f-59f82d6192a8",
        "Okta User Logins from Multiple Cities",
        "value_count",
        ("actor.alternateId",),
        HOUR,
        ("gt", 1),
        value_field="client.geographicalContext.city",
    ),
    PackRule(
        PUSH_MISMATCH,
        RULE_ID,
        RULE_NAME,
        "push_mismatch",
        ("authenticationContext.externalSessionId",),
        HOUR,
    ),
    # over the risk of the rules above: distinct techniques per user and day (pack_truth.risk_alerts)
    PackRule(
        RISK_THRESHOLD,
        "d8b967dd-657f-4d88-93b5-c588bcd7218c",
        "Okta Risk Threshold Exceeded",
        "risk_threshold",
        ("risk_object",),
        DAY,
        ("gt", 5),
    ),
)
PACK_RULES_BY_NAME = {rule.name: rule for rule in PACK_RULES}

_ACCOUNT_TAKEOVER = ("T1586", "T1586.003", "T1078", "T1078.004", "T1621")
#: the ATT&CK techniques of the rules whose risk object is a user (their ``risk: object_type: user``),
#: in tag order; the rules about an address (lockouts, spray, ThreatInsight) add no user risk
USER_RISK_TECHNIQUES: dict[str, tuple[str, ...]] = {
    AUTH_FAILED_MFA: _ACCOUNT_TAKEOVER,
    IDP_LIFECYCLE: ("T1087.004",),
    MFA_DISABLED: ("T1556", "T1556.006"),
    API_TOKEN: ("T1078", "T1078.001"),
    DEVICE_ENROLLED: ("T1098", "T1098.005"),
    FASTPASS: ("T1078", "T1078.001", "T1556"),
    REPORTED: ("T1078", "T1078.001"),
    UNAUTHORIZED_APP: ("T1087.004",),
    MFA_BURST: ("T1621",),
    CITIES: ("T1586.003",),
    MFA_HUNT: ("T1110",),
    FAILED_APPS: ("T1550.004", "T1538"),
    SINGLE_FACTOR: _ACCOUNT_TAKEOVER,
    SESSION_COOKIE: ("T1539",),
    PUSH_MISMATCH: ("T1621",),
}


class Feed(NamedTuple):
    """One rule input a step is: the rule, the step's group-by values, and what the rule counts of it
    (a value_count's value; the session-cookie rule's address, OS and browser; the hunt's ``push``,
    ``SUCCESS`` or ``FAILURE``; the application rule's ``challenge`` or ``sso``; whether a verification
    involved Okta Verify; nothing otherwise)."""

    rule: str
    group: tuple
    value: Any = None


class StepFacts(NamedTuple):
    """What a step was built with that the rules read."""

    user: str
    actor_type: str | None
    client: Any  # population.Client
    outcome: dict
    debug: dict
    session_id: str | None  # authenticationContext.externalSessionId
    targets: tuple[dict, ...]

    def has_target(self, key: str, value: str) -> bool:
        """Any element of the target list has ``key`` equal to ``value`` (ignoring case), as the rules'
        tests of list members read it (docs/semantics.md)."""
        wanted = value.lower()
        return any(isinstance(t.get(key), str) and t[key].lower() == wanted for t in self.targets)


def step_feeds(
    event_type: str,
    actor: dict,
    client: Any,
    outcome: dict,
    debug: dict,
    auth: dict | None = None,
    target: list | None = None,
) -> tuple[Feed, ...]:
    """The rule inputs one step is, from how it was built (its kind, outcome, factor, client, targets)."""
    builder = _FEEDS.get(event_type)
    if builder is None:
        return ()
    session_id = None if auth is None else auth.get("externalSessionId")
    facts = StepFacts(
        actor["alternateId"], actor.get("type"), client, outcome, debug, session_id, tuple(target or ())
    )
    return builder(facts)


def _push(s: StepFacts) -> tuple[Feed, ...]:
    return (Feed(MFA_HUNT, (s.user,), "push"),)  # the hunt counts every push sent, whatever its outcome


def _verified(s: StepFacts) -> tuple[Feed, ...]:
    """The single-factor rule's base rule: a person passed a verification (any factor)."""
    if s.outcome["result"] != "SUCCESS" or (s.actor_type or "").lower() != "user" or s.client.ip is None:
        return ()
    return (Feed(SINGLE_FACTOR, (s.client.ip, s.user), s.has_target("displayName", "Okta Verify")),)


def _mfa(s: StepFacts) -> tuple[Feed, ...]:
    factor, result = s.debug.get("factor"), s.outcome["result"]
    feeds = list(_verified(s))
    if isinstance(factor, str) and factor.upper() == RESPONSE_FACTOR and result in ("SUCCESS", "FAILURE"):
        feeds.append(Feed(MFA_HUNT, (s.user,), result))  # the hunt: a push approved or denied
    if result != "FAILURE":
        return tuple(feeds)
    feeds.append(Feed(AUTH_FAILED_MFA, (s.user,)))
    # the base rule of the burst: a factor is there and it is not the password
    if factor is not None and factor.upper() != "PASSWORD_AS_FACTOR":
        feeds.append(Feed(MFA_BURST, (s.user,)))
    if s.outcome["reason"] == FASTPASS_PHISHING_REASON:
        feeds.append(Feed(FASTPASS, (s.user,)))
    return tuple(feeds)


def _session_start(s: StepFacts) -> tuple[Feed, ...]:
    city = Feed(CITIES, (s.user,), s.client.client["geographicalContext"]["city"])
    if s.outcome["result"] == "FAILURE":
        return city, Feed(SPRAY, (s.client.ip,), s.user)
    return (city,)


def _app_request(s: StepFacts, result: str, value: str) -> tuple[Feed, ...]:
    """The application rule's inputs: a request for an application (a target of type AppInstance)
    that the policy challenged, or a single sign-on, in a session of a user from an address."""
    if s.outcome["result"] != result or not s.has_target("type", "AppInstance") or s.session_id is None:
        return ()
    return (Feed(FAILED_APPS, (s.session_id, s.user, s.client.ip), value),)


def _policy(s: StepFacts) -> tuple[Feed, ...]:
    feeds = _app_request(s, "CHALLENGE", "challenge")
    if s.outcome["result"] not in ("ALLOW", "SUCCESS") or s.debug.get("dtHash") is None:
        return feeds
    agent = s.client.client["userAgent"]
    cookie = (s.debug["dtHash"], s.user)
    return (*feeds, Feed(SESSION_COOKIE, cookie, (s.client.ip, agent["os"], agent["browser"])))


def _sso(s: StepFacts) -> tuple[Feed, ...]:
    return _app_request(s, "SUCCESS", "sso")


def _lock(s: StepFacts) -> tuple[Feed, ...]:
    return (Feed(LOCKOUTS, (s.client.ip, s.outcome["result"])),)


def _single(rule: str, on_failure_only: bool = False):
    def feeds(s: StepFacts) -> tuple[Feed, ...]:
        if on_failure_only and s.outcome["result"] != "FAILURE":
            return ()
        return (Feed(rule, (s.client.ip if rule == THREAT_INSIGHT else s.user,)),)

    return feeds


_FEEDS = {
    PUSH_EVENT_TYPE: _push,
    RESPONSE_EVENT_TYPE: _mfa,
    "user.authentication.verify": _verified,
    "user.authentication.sso": _sso,
    "user.session.start": _session_start,
    "policy.evaluate_sign_on": _policy,
    "user.account.lock": _lock,
    "system.api_token.create": _single(API_TOKEN),
    "device.enrollment.create": _single(DEVICE_ENROLLED),
    "user.mfa.factor.deactivate": _single(MFA_DISABLED),
    "user.account.report_suspicious_activity_by_enduser": _single(REPORTED),
    "security.threat.detected": _single(THREAT_INSIGHT),
    "app.generic.unauth_app_access_attempt": _single(UNAUTHORIZED_APP, on_failure_only=True),
    **{
        f"system.idp.lifecycle.{verb}": _single(IDP_LIFECYCLE)
        for verb in ("activate", "create", "delete", "deactivate")
    },
}
