"""``_Session``: builds the steps of one session, one helper per kind of event (sign-in, Okta Verify
push and answer, other factors, app access, admin console, sign-out)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from .context import _ScenarioContext
from .events import (
    ACCOUNT_LOCK,
    ADMIN_APP,
    MFA_FAILURE,
    MFA_SUCCESS,
    OAUTH_CODE,
    OAUTH_TOKEN,
    OUTCOME_ALLOW,
    OUTCOME_CHALLENGE,
    OUTCOME_FASTPASS_PHISHING,
    OUTCOME_INVALID_CREDENTIALS,
    OUTCOME_SUCCESS,
    OUTCOME_VERIFICATION_ERROR,
    POLICY_EVALUATION,
    PUSH_SENT,
    SESSION_END,
    SESSION_START,
    SESSION_START_FAILED,
    SMS_SENT,
    SSO,
    THREAT,
    UNAUTH_APP,
    VERIFY,
    EventKind,
    Signal,
    _auth_contexts,
    _Step,
)
from .pack import step_feeds
from .population import Client, Phone, User
from .rule import RESPONSE_FACTOR
from .tables import _ALNUM, App
from .values import _log_only_security_data

_SIGN_ON_MODES = {
    "SAML_2_0": "SAML 2.0",
    "WS_FEDERATION": "WS-Federation",
    "OPENID_CONNECT": "OpenID Connect",
}


class _Session:
    """Builds the steps of one session: who, which session id, and helpers for each kind of event."""

    def __init__(self, ctx: _ScenarioContext, user: User, session_id: str | None, classic: bool) -> None:
        self.rng = ctx.rng
        self.population = ctx.population
        self.user = user
        self.session_id = session_id
        self.classic = classic
        self.auth = _auth_contexts(session_id)
        self.steps: list[_Step] = []

    def add(
        self,
        offset_ms: int,
        kind: EventKind,
        client: Client,
        outcome: dict,
        debug: dict,
        target: list | None,
        auth: str = "plain",
        actor: dict | None = None,
    ) -> None:
        actor = actor or self.user.actor
        self.steps.append(
            _Step(
                offset_ms,
                kind,
                actor,
                client,
                self.auth[auth],
                outcome,
                debug,
                target,
                not self.classic,
                step_feeds(kind.event_type, actor, client, outcome, debug, self.auth[auth], target),
            )
        )

    def signal_debug(
        self,
        client: Client,
        signal: Signal,
        request_uri: str,
        url: str | None = None,
        security_data: bool = False,
        behaviors: bool = True,
        **extra: Any,
    ) -> dict:
        """debugData of a user-facing request: behaviors (unless app access), risk, and for sign-in decisions
        (`security_data`) logOnlySecurityData."""
        debug = {
            "requestUri": request_uri,
            "url": url if url is not None else request_uri + "?",
            "dtHash": client.dt_hash,
        }
        if behaviors:
            debug["behaviors"] = signal.behaviors
        debug["risk"] = signal.risk
        debug["threatSuspected"] = "true" if signal.threat_suspected else "false"
        debug.update(extra)
        if security_data:
            debug["logOnlySecurityData"] = _log_only_security_data(signal.behaviors, signal.risk_level)
        return debug

    # -- sign-in -------------------------------------------------------------------------------------------

    def policy_evaluation(self, t: int, client: Client, signal: Signal, challenge: bool = True) -> None:
        uri = "/api/v1/authn" if self.classic else "/idp/idx/identify"
        debug = self.signal_debug(
            client, signal, uri, security_data=True, deviceFingerprint=client.dt_hash[:32]
        )
        self.add(
            t,
            POLICY_EVALUATION,
            client,
            OUTCOME_CHALLENGE if challenge else OUTCOME_ALLOW,
            debug,
            self.population.policy_targets,
        )

    def password(self, t: int, client: Client, signal: Signal) -> None:
        """Primary authentication: OIE logs it as auth_via_mfa with PASSWORD_AS_FACTOR, Classic as verify."""
        if self.classic:
            debug = self.signal_debug(client, signal, "/api/v1/authn")
            self.add(t, VERIFY, client, OUTCOME_SUCCESS, debug, [self.user.target], auth="password")
            return
        debug = self.signal_debug(
            client,
            signal,
            "/idp/idx/challenge/answer",
            factor="PASSWORD_AS_FACTOR",
            factorIntent="AUTHENTICATION",
        )
        self.add(
            t,
            MFA_SUCCESS,
            client,
            OUTCOME_SUCCESS,
            debug,
            [self.user.target, self.user.password_target],
            auth="password",
        )

    def session_start(self, t: int, client: Client, signal: Signal, success: bool = True) -> None:
        uri = "/api/v1/authn" if self.classic else "/idp/idx/authenticators/poll"
        debug = self.signal_debug(client, signal, uri)
        kind, outcome = (
            (SESSION_START, OUTCOME_SUCCESS)
            if success
            else (SESSION_START_FAILED, OUTCOME_VERIFICATION_ERROR)
        )
        self.add(t, kind, client, outcome, debug, [self.user.target] if not success else None)

    # -- Okta Verify push ---------------------------------------------------------------------------------

    def push(self, t: int, client: Client, signal: Signal, phone: Phone) -> None:
        uri = "/api/v1/authn/factors/push/verify" if self.classic else "/idp/idx/challenge"
        debug = self.signal_debug(
            client,
            signal,
            uri,
            security_data=True,
            deviceCategory=phone.category,
            devicePlatform=phone.platform,
        )
        self.add(t, PUSH_SENT, client, OUTCOME_SUCCESS, debug, [self.user.target, phone.enrollment])

    def push_answer(self, t: int, phone_client: Client, signal: Signal, phone: Phone, approve: bool) -> None:
        enrollment = phone.enrollment["id"]
        transaction = "ftq" + "".join(self.rng.choices(_ALNUM, k=30))
        uri = (
            f"/api/v1/authn/factors/{enrollment}/transactions/{transaction}/verify"
            if self.classic
            else f"/idp/authenticators/{enrollment}/transactions/{transaction}/verify"
        )
        debug = self.signal_debug(
            phone_client,
            signal,
            uri,
            security_data=True,
            factor=RESPONSE_FACTOR,
            factorIntent="AUTHENTICATION",
            pushOnlyResponseType="OV_RESPONSE_APPROVE" if approve else "OV_RESPONSE_DENY",
            pushWithNumberChallengeResponseType="OV_WITH_CHALLENGE_RESPONSE_NOT_APPLICABLE",
            keyTypeUsedForAuthentication="PROOF_OF_POSSESSION",
        )
        kind, outcome = (
            (MFA_SUCCESS, OUTCOME_SUCCESS) if approve else (MFA_FAILURE, OUTCOME_INVALID_CREDENTIALS)
        )
        self.add(t, kind, phone_client, outcome, debug, [self.user.target, phone.enrollment], auth="factor")

    # -- other factors and activity ------------------------------------------------------------------------

    def other_factor(self, t: int, client: Client, signal: Signal, factor: str, success: bool) -> None:
        debug = self.signal_debug(
            client, signal, "/idp/idx/challenge/answer", factor=factor, factorIntent="AUTHENTICATION"
        )
        kind, outcome = (
            (MFA_SUCCESS, OUTCOME_SUCCESS) if success else (MFA_FAILURE, OUTCOME_INVALID_CREDENTIALS)
        )
        enrollment = {
            "id": f"pfd{self.user.target['id'][3:]}",
            "type": "AuthenticatorEnrollment",
            "alternateId": "unknown",
            "displayName": _FACTOR_NAMES.get(factor.upper(), factor),
            "detailEntry": None,
        }
        self.add(t, kind, client, outcome, debug, [self.user.target, enrollment], auth="factor")

    def sms_sent(self, t: int, client: Client, signal: Signal) -> None:
        debug = self.signal_debug(client, signal, "/idp/idx/challenge", smsProvider="TWILIO")
        self.add(t, SMS_SENT, client, OUTCOME_SUCCESS, debug, [self.user.target])

    def app_access(self, t: int, client: Client, signal: Signal, apps: Sequence[tuple[App, dict]]) -> None:
        rng = self.rng
        app, app_target = rng.choice(apps)
        app_user = {
            "id": "0ua" + self.user.target["id"][3:],
            "type": "AppUser",
            "alternateId": self.user.login,
            "displayName": self.user.display,
            "detailEntry": None,
        }
        if app.sign_on == "OPENID_CONNECT":
            query = f"client_id={app_target['id']}&response_type=code&scope=openid%20profile%20email&state={rng.getrandbits(64):x}"
            kind = OAUTH_CODE if rng.random() < 0.6 else OAUTH_TOKEN
            uri = app.path if kind is OAUTH_CODE else app.path.replace("authorize", "token")
            debug = self.signal_debug(
                client,
                signal,
                uri,
                uri + "?" + query if kind is OAUTH_CODE else uri + "?",
                behaviors=False,
                grantType="authorization_code",
                grantedScopes="openid, profile, email",
            )
            self.add(t, kind, client, OUTCOME_SUCCESS, debug, [app_target, app_user])
            return
        path = app.path.format(id=app_target["id"])
        relay = f"RelayState=%2Fhome%3Fsrc%3Dokta&SAMLRequest={base64.b64encode(rng.randbytes(24)).decode()}"
        debug = self.signal_debug(
            client,
            signal,
            path,
            path + "?" + relay,
            behaviors=False,
            initiationType="SP_INITIATED",
            signOnMode=_SIGN_ON_MODES[app.sign_on],
        )
        self.add(t, SSO, client, OUTCOME_SUCCESS, debug, [app_target, app_user])

    def admin_console(self, t: int, client: Client, signal: Signal) -> None:
        debug = self.signal_debug(
            client, signal, "/admin/sso/request", "/admin/sso/request?fromURI=%2Fadmin%2Fdashboard"
        )
        self.add(t, ADMIN_APP, client, OUTCOME_SUCCESS, debug, None)

    # -- attacks and changes ---------------------------------------------------------------------------------

    def sign_in_failed(self, t: int, client: Client, signal: Signal) -> None:
        """A wrong password on the Classic API: user.session.start FAILURE (no session yet)."""
        debug = self.signal_debug(client, signal, "/api/v1/authn")
        self.add(t, SESSION_START_FAILED, client, OUTCOME_INVALID_CREDENTIALS, debug, [self.user.target])

    def lockout(self, t: int, client: Client, signal: Signal) -> None:
        debug = self.signal_debug(client, signal, "/api/v1/authn")
        self.add(t, ACCOUNT_LOCK, client, OUTCOME_SUCCESS, debug, [self.user.target])

    def wrong_password(self, t: int, client: Client, signal: Signal) -> None:
        """A wrong password in Okta Identity Engine: auth_via_mfa FAILURE with PASSWORD_AS_FACTOR."""
        debug = self.signal_debug(
            client,
            signal,
            "/idp/idx/challenge/answer",
            factor="PASSWORD_AS_FACTOR",
            factorIntent="AUTHENTICATION",
        )
        self.add(
            t,
            MFA_FAILURE,
            client,
            OUTCOME_INVALID_CREDENTIALS,
            debug,
            [self.user.target, self.user.password_target],
            auth="password",
        )

    def fastpass(self, t: int, client: Client, signal: Signal, phishing: bool) -> None:
        """Okta FastPass (SIGNED_NONCE): approved, or declined because the page's origin is not Okta's."""
        debug = self.signal_debug(
            client,
            signal,
            "/idp/authenticators/sso_extension/transactions/verify",
            factor="SIGNED_NONCE",
            factorIntent="AUTHENTICATION",
            keyTypeUsedForAuthentication="PROOF_OF_POSSESSION",
        )
        kind, outcome = (
            (MFA_FAILURE, OUTCOME_FASTPASS_PHISHING) if phishing else (MFA_SUCCESS, OUTCOME_SUCCESS)
        )
        enrollment = {
            "id": f"pfd{self.user.target['id'][3:]}",
            "type": "AuthenticatorEnrollment",
            "alternateId": "unknown",
            "displayName": "Okta Verify",
            "detailEntry": {"methodTypeUsed": "Use Okta FastPass"},
        }
        self.add(t, kind, client, outcome, debug, [self.user.target, enrollment], auth="factor")

    def change(
        self,
        t: int,
        kind: EventKind,
        client: Client,
        signal: Signal,
        target: list | None,
        request_uri: str,
        outcome: dict = OUTCOME_SUCCESS,
    ) -> None:
        """An administrative or self-service change (API token, factor, device, identity provider)."""
        debug = self.signal_debug(client, signal, request_uri, behaviors=False)
        self.add(t, kind, client, outcome, debug, target)

    def unauthorized_app(self, t: int, client: Client, signal: Signal, app_target: dict) -> None:
        path = f"/app/{app_target['alternateId'].lower().replace(' ', '')}/{app_target['id']}/sso/saml"
        debug = self.signal_debug(client, signal, path, behaviors=False)
        self.add(t, UNAUTH_APP, client, _OUTCOME_UNASSIGNED, debug, [app_target, self.user.target])

    def threat(
        self, t: int, client: Client, signal: Signal, kind: EventKind = THREAT, **details: str
    ) -> None:
        """ThreatInsight (or a block) about a client: the actor is its address, not a user."""
        debug = self.signal_debug(client, signal, "/api/v1/authn", **details)
        actor = {
            "id": client.ip,
            "type": "IP address",
            "alternateId": "unknown",
            "displayName": client.ip,
            "detailEntry": None,
        }
        self.add(t, kind, client, _OUTCOME_THREAT, debug, None, actor=actor)

    def session_end(self, t: int, client: Client, signal: Signal) -> None:
        debug = self.signal_debug(
            client, signal, "/login/signout", "/login/signout?fromURI=%2Fapp%2FUserHome"
        )
        self.add(t, SESSION_END, client, OUTCOME_SUCCESS, debug, None)


_OUTCOME_UNASSIGNED = {"result": "FAILURE", "reason": "User is not assigned to this application"}
_OUTCOME_THREAT = {"result": "DENY", "reason": "Login Failures"}

_FACTOR_NAMES = {
    "OKTA_VERIFY": "Okta Verify",
    "SMS": "Phone",
    "SIGNED_NONCE": "Okta Verify",
    "FIDO_WEBAUTHN": "Security Key or Biometric",
    "EMAIL": "Email",
    "GOOGLE_OTP": "Google Authenticator",
}
