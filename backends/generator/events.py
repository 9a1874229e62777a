"""LogEvent shapes: event kinds and outcomes, the light ``_Step`` a session is made of, authentication
contexts, risk signals, and how a step becomes an event dict (``_materialise``) and an NDJSON line.

Events share read-only sub-objects (``actor``, ``client``, ``securityContext``, ``request``, ``target``,
...) to keep generation fast: treat materialised events as immutable.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import NamedTuple

import orjson

from .population import Client
from .rule import PUSH_EVENT_TYPE, RESPONSE_EVENT_TYPE, RESPONSE_FACTOR
from .values import behaviors_text

# ---------------------------------------------------------------------------------------------------------
# Event kinds and steps
# ---------------------------------------------------------------------------------------------------------


class EventKind(NamedTuple):
    event_type: str
    display: str
    legacy: str | None
    severity: str = "INFO"


PUSH_SENT = EventKind(PUSH_EVENT_TYPE, "Push notification sent for verification", None)
MFA_SUCCESS = EventKind(
    RESPONSE_EVENT_TYPE, "Authentication of user via MFA", "core.user.factor.attempt_success"
)
MFA_FAILURE = EventKind(
    RESPONSE_EVENT_TYPE, "Authentication of user via MFA", "core.user.factor.attempt_fail"
)
POLICY_EVALUATION = EventKind("policy.evaluate_sign_on", "Evaluation of sign-on policy", None)
SESSION_START = EventKind("user.session.start", "User login to Okta", "core.user_auth.login_success")
SESSION_START_FAILED = EventKind(
    "user.session.start", "User login to Okta", "core.user_auth.login_failed", "WARN"
)
VERIFY = EventKind("user.authentication.verify", "Verify user identity", None)
SSO = EventKind("user.authentication.sso", "User single sign on to app", "app.auth.sso")
OAUTH_CODE = EventKind("app.oauth2.as.authorize.code", "OAuth2 authorization code request", None)
OAUTH_TOKEN = EventKind("app.oauth2.as.token.grant.access_token", "OAuth2 access token is granted", None)
ADMIN_APP = EventKind("user.session.access_admin_app", "User accessing Okta admin app", None)
SESSION_END = EventKind("user.session.end", "User logout from Okta", "core.user_auth.logout_success")
SMS_SENT = EventKind("system.sms.send_factor_verify_message", "Send SMS for verification", None)
RATE_LIMIT = EventKind(
    "system.org.rate_limit.warning", "Rate limit warning", "core.framework.ratelimit.warning", "WARN"
)
THREAT = EventKind(
    "security.threat.detected", "Request from suspicious actor", "security.threat.detected", "WARN"
)
ACCOUNT_LOCK = EventKind(
    "user.account.lock", "Max sign in attempts exceeded", "core.user_auth.account_locked", "WARN"
)
GROUP_ADD = EventKind(
    "group.user_membership.add", "Add user to group membership", "core.user_group_member.user_add"
)
APP_ASSIGN = EventKind(
    "application.user_membership.add",
    "Add user to application membership",
    "app.generic.provision.assign_user_to_app",
)
FACTOR_ACTIVATE = EventKind(
    "user.mfa.factor.activate", "Activate factor or authenticator", "core.user.factor.activate"
)
FACTOR_DEACTIVATE = EventKind(
    "user.mfa.factor.deactivate", "Reset factor for user", "core.user.factor.deactivate", "WARN"
)
FACTOR_RESET_ALL = EventKind(
    "user.mfa.factor.reset_all", "Reset all factors for user", "core.user.factor.reset_all", "WARN"
)
API_TOKEN_CREATE = EventKind("system.api_token.create", "Create API token", "api.token.create")
API_TOKEN_REVOKE = EventKind("system.api_token.revoke", "Revoke API token", "api.token.revoke")
DEVICE_ENROLL = EventKind("device.enrollment.create", "Enroll device", None)
IDP_CREATE = EventKind("system.idp.lifecycle.create", "Create IdP", None, "WARN")
IDP_ACTIVATE = EventKind("system.idp.lifecycle.activate", "Activate IdP", None, "WARN")
IDP_UPDATE = EventKind("system.idp.lifecycle.update", "Update IdP", None)
UNAUTH_APP = EventKind(
    "app.generic.unauth_app_access_attempt",
    "User attempted unauthorized access to app",
    "app.generic.unauth_app_access_attempt",
    "WARN",
)
REPORT_SUSPICIOUS = EventKind(
    "user.account.report_suspicious_activity_by_enduser", "User report suspicious activity", None, "WARN"
)
REQUEST_BLOCKED = EventKind("security.request.blocked", "Request from a blocked network zone", None, "WARN")

OUTCOME_SUCCESS = {"result": "SUCCESS", "reason": None}
OUTCOME_ALLOW = {"result": "ALLOW", "reason": "Sign-on policy evaluation resulted in ALLOW"}
OUTCOME_CHALLENGE = {"result": "CHALLENGE", "reason": "Sign-on policy evaluation resulted in CHALLENGE"}
OUTCOME_INVALID_CREDENTIALS = {"result": "FAILURE", "reason": "INVALID_CREDENTIALS"}
OUTCOME_VERIFICATION_ERROR = {"result": "FAILURE", "reason": "VERIFICATION_ERROR"}
OUTCOME_DENY = {"result": "DENY", "reason": "Login Failures"}
OUTCOME_FASTPASS_PHISHING = {"result": "FAILURE", "reason": "FastPass declined phishing attempt"}


class _Step(NamedTuple):
    """One future event: everything but its time, uuid and request id."""

    offset_ms: int
    kind: EventKind
    actor: dict
    client: Client
    auth: dict
    outcome: dict
    debug: dict  # static debugData fields (requestId is added per event)
    target: list | None
    hex_ids: bool  # OIE request ids are 32 hex digits, Classic ones 27 base64-like characters
    feeds: tuple = ()  # the rule inputs this step was built as (pack.step_feeds), for the ground truth

    @property
    def is_rule_event(self) -> bool:
        """Push sent, or auth_via_mfa with factor OKTA_VERIFY_PUSH (case-insensitive): the rule's input."""
        if self.kind.event_type == PUSH_EVENT_TYPE:
            return True
        factor = self.debug.get("factor")
        return (
            self.kind.event_type == RESPONSE_EVENT_TYPE
            and isinstance(factor, str)
            and factor.upper() == RESPONSE_FACTOR
        )


_RULE_EVENT_TYPES = frozenset((PUSH_EVENT_TYPE, RESPONSE_EVENT_TYPE))


def _auth_contexts(session_id: str | None) -> dict[str, dict]:
    """The three authenticationContext shapes of one session: plain, password, and factor (MFA)."""
    common = {
        "issuer": None,
        "interface": None,
        "authenticationStep": 0,
        "externalSessionId": session_id,
        "rootSessionId": session_id,
    }
    return {
        "plain": {
            "authenticationProvider": None,
            "credentialProvider": None,
            "credentialType": None,
            **common,
        },
        "password": {
            "authenticationProvider": "OKTA_AUTHENTICATION_PROVIDER",
            "credentialProvider": "OKTA_CREDENTIAL_PROVIDER",
            "credentialType": "PASSWORD",
            **common,
        },
        "factor": {
            "authenticationProvider": "FACTOR_PROVIDER",
            "credentialProvider": "OKTA_CREDENTIAL_PROVIDER",
            "credentialType": None,
            **common,
        },
    }


@dataclass(frozen=True)
class Signal:
    """What Okta's behavior detection and risk engine say about one client in one session."""

    behaviors: str
    risk: str
    risk_level: str
    threat_suspected: bool


KNOWN_SIGNAL = Signal(behaviors_text(), "{level=LOW}", "LOW", False)
NEW_NETWORK_SIGNAL = Signal(behaviors_text(New_IP=True), "{level=LOW}", "LOW", False)


# ---------------------------------------------------------------------------------------------------------
# Events and lines
# ---------------------------------------------------------------------------------------------------------


_UUID_EPOCH = 0x01B21DD213814000  # 100 ns intervals between 1582-10-15 and 1970-01-01


def _uuid(ms: int, counter: int, node_high: int, clock_seq: int) -> str:
    """A version-1-looking UUID (like Okta's); unique per counter value, deterministic per seed."""
    ticks = ms * 10_000 + _UUID_EPOCH + counter % 10_000
    node = node_high | ((counter * 0x9E3779B1) & 0xFFFFFFFF)
    return (
        f"{ticks & 0xFFFFFFFF:08x}-{(ticks >> 32) & 0xFFFF:04x}-{0x1000 | ((ticks >> 48) & 0x0FFF):04x}-"
        f"{clock_seq:04x}-{node:012x}"
    )


def _classic_request_id(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()[:27].replace("_", "@")


def _materialise(step: _Step, published: str, uuid: str, request_id: str) -> dict:
    client = step.client
    kind = step.kind
    debug_data = {"requestId": request_id}
    debug_data.update(step.debug)
    return {
        "actor": step.actor,
        "client": client.client,
        "device": client.device,
        "authenticationContext": step.auth,
        "displayMessage": kind.display,
        "eventType": kind.event_type,
        "outcome": step.outcome,
        "published": published,
        "securityContext": client.security,
        "severity": kind.severity,
        "debugContext": {"debugData": debug_data},
        "legacyEventType": kind.legacy,
        "transaction": {"type": "WEB", "id": request_id, "detail": {}},
        "uuid": uuid,
        "version": "0",
        "request": client.request,
        "target": step.target,
    }


def _plain_line(event: dict) -> bytes:
    return orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE)


def _escaped_line(event: dict) -> bytes:
    """What exporters built on Gson emit: ASCII only, and ``= < > & '`` as ``\\u003d`` etc."""
    text = json.dumps(event, ensure_ascii=True, separators=(",", ":"))
    text = text.replace("=", "\\u003d").replace("<", "\\u003c").replace(">", "\\u003e")
    text = text.replace("&", "\\u0026").replace("'", "\\u0027")
    return (text + "\n").encode("ascii")
