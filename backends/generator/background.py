"""Background: everything else an Okta org logs (sign-ins with other factors, app activity, failed
sign-ins, org-level events), as weighted :class:`BackgroundFlow` builders."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from .context import _ScenarioContext
from .events import (
    ACCOUNT_LOCK,
    APP_ASSIGN,
    FACTOR_ACTIVATE,
    GROUP_ADD,
    KNOWN_SIGNAL,
    NEW_NETWORK_SIGNAL,
    OUTCOME_DENY,
    OUTCOME_INVALID_CREDENTIALS,
    OUTCOME_SUCCESS,
    RATE_LIMIT,
    SESSION_START_FAILED,
    THREAT,
    _Step,
)
from .population import Client, User, _make_client, _mobile_browser_agent
from .session import _Session
from .tables import MOBILE_ISPS, NON_PUSH_FACTORS
from .values import _ip, _okta_id, _session_id


def _background_sign_in(ctx: _ScenarioContext, user: User, n: int) -> list[_Step]:
    """Password, a non-push factor, session start, then app access; n >= 4 events."""
    rng = ctx.rng
    mobile = rng.random() < 0.12
    classic = rng.random() < 0.2
    session = _Session(ctx, user, _session_id(rng, classic), classic)
    client = _background_client(ctx, user, mobile)
    signal = KNOWN_SIGNAL if rng.random() < 0.85 else NEW_NETWORK_SIGNAL
    t = 0
    session.policy_evaluation(t, client, signal, challenge=rng.random() < 0.7)
    t += rng.randint(700, 4000)
    session.password(t, client, signal)
    t += rng.randint(2000, 15000)
    session.other_factor(t, client, signal, rng.choice(NON_PUSH_FACTORS), success=True)
    t += rng.randint(300, 1500)
    session.session_start(t, client, signal)
    activity = n - 4
    ends = activity > 0 and rng.random() < 0.4
    is_admin = any(user is admin for admin in ctx.population.admins)
    for _ in range(activity - ends):
        t += rng.randint(3_000, 240_000)
        if is_admin and rng.random() < 0.2:
            session.admin_console(t, client, signal)
        else:
            session.app_access(t, client, signal, ctx.population.app_targets)
    if ends:
        session.session_end(t + rng.randint(60_000, 600_000), client, signal)
    return session.steps


def _background_client(ctx: _ScenarioContext, user: User, mobile: bool) -> Client:
    rng = ctx.rng
    if mobile:
        isp = rng.choice(MOBILE_ISPS[user.city.cc])
        return _make_client(
            rng, ip=_ip(rng, isp), city=user.city, isp=isp, agent=_mobile_browser_agent(rng), kind="Mobile"
        )
    if user.office is not None and rng.random() < 0.5:
        return user.office
    return user.home


def _background_app_activity(ctx: _ScenarioContext, user: User, n: int) -> list[_Step]:
    """App access in a session that started earlier (its start is outside this data set)."""
    rng = ctx.rng
    classic = rng.random() < 0.2
    session = _Session(ctx, user, _session_id(rng, classic), classic)
    client = _background_client(ctx, user, mobile=False)
    t = 0
    for _ in range(n):
        session.app_access(t, client, KNOWN_SIGNAL, ctx.population.app_targets)
        t += rng.randint(2_000, 300_000)
    return session.steps


def _background_failed_sign_in(ctx: _ScenarioContext, user: User, n: int) -> list[_Step]:
    """Wrong passwords (no session yet: externalSessionId null), maybe ending in a lockout or a threat."""
    rng = ctx.rng
    session = _Session(ctx, user, None, classic=True)
    client = _background_client(ctx, user, mobile=False)
    t = 0
    for index in range(n):
        debug = session.signal_debug(client, KNOWN_SIGNAL, "/api/v1/authn")
        if index == n - 1 and n > 1:
            session.add(t, ACCOUNT_LOCK, client, OUTCOME_SUCCESS, debug, [user.target])
        else:
            session.add(t, SESSION_START_FAILED, client, OUTCOME_INVALID_CREDENTIALS, debug, [user.target])
        t += rng.randint(3_000, 30_000)
    return session.steps


def _background_system(ctx: _ScenarioContext, user: User, n: int) -> list[_Step]:
    """One org-level event: rate limit warning, threat detection, admin change, factor enrolment."""
    rng = ctx.rng
    population = ctx.population
    pick = rng.random()
    if pick < 0.35:
        session = _Session(ctx, user, None, classic=True)
        endpoint = rng.choice(("/api/v1/users", "/api/v1/groups", "/api/v1/logs", "/api/v1/apps"))
        debug = {
            "requestUri": endpoint,
            "url": f"{endpoint}?limit=200&after={_okta_id(rng, '00u')}",
            "operationRateLimitScopeType": "Org",
            "operationRateLimitSubtype": "Org-wide",
            "operationRateLimitThreshold": "600",
            "operationRateLimitType": "API",
            "operationRateLimitPercentThreshold": "60",
            "operationRateLimitSecondsToReset": str(rng.randint(1, 59)),
            "threatSuspected": "false",
        }
        target = [
            {
                "id": endpoint,
                "type": "URL Pattern",
                "alternateId": "unknown",
                "displayName": endpoint,
                "detailEntry": None,
            }
        ]
        session.add(
            0,
            RATE_LIMIT,
            population.service_client,
            OUTCOME_SUCCESS,
            debug,
            target,
            actor=rng.choice(population.service_actors),
        )
    elif pick < 0.4:  # each one is an alert of the ThreatInsight rule: a few a day, not one an hour
        session = _Session(ctx, user, None, classic=True)
        client, signal = ctx.attacker_client()
        debug = session.signal_debug(
            client, signal, "/api/v1/authn", threatDetections='{"Password Spray":"HIGH"}'
        )
        actor = {
            "id": client.ip,
            "type": "IP address",
            "alternateId": "unknown",
            "displayName": client.ip,
            "detailEntry": None,
        }
        session.add(0, THREAT, client, OUTCOME_DENY, debug, None, actor=actor)
    elif pick < 0.85:
        admin = rng.choice(population.admins)
        session = _Session(ctx, admin, _session_id(rng, False), classic=False)
        kind = rng.choice((GROUP_ADD, APP_ASSIGN))
        debug = session.signal_debug(
            admin.home, KNOWN_SIGNAL, "/api/v1/groups/00g/users", "/api/v1/groups/00g/users?expand=user"
        )
        target = [
            user.target,
            {
                "id": _okta_id(rng, "00g"),
                "type": "UserGroup",
                "alternateId": "unknown",
                "displayName": rng.choice(("Engineering", "Finance – EMEA", "Dispatch Leads", "Contractors")),
                "detailEntry": None,
            },
        ]
        session.add(0, kind, admin.home, OUTCOME_SUCCESS, debug, target)
    else:
        session = _Session(ctx, user, _session_id(rng, False), classic=False)
        phone = rng.choice(user.phones)
        debug = session.signal_debug(
            user.home,
            KNOWN_SIGNAL,
            "/idp/idx/enroll/new",
            factor="OKTA_VERIFY",
            factorIntent="CREDENTIAL_ENROLLMENT",
        )
        session.add(0, FACTOR_ACTIVATE, user.home, OUTCOME_SUCCESS, debug, [user.target, phone.enrollment])
    return session.steps


class BackgroundFlow(NamedTuple):
    name: str
    weight: float
    events: tuple[int, int]
    build: Callable[[_ScenarioContext, User, int], list[_Step]]


BACKGROUND_FLOWS = (
    BackgroundFlow("sign_in", 0.55, (4, 14), _background_sign_in),
    BackgroundFlow("app_activity", 0.22, (1, 6), _background_app_activity),
    BackgroundFlow("failed_sign_in", 0.08, (1, 4), _background_failed_sign_in),
    BackgroundFlow("system", 0.15, (1, 1), _background_system),
)
_BACKGROUND_WEIGHTS = [flow.weight for flow in BACKGROUND_FLOWS]
