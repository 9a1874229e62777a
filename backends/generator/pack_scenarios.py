"""Scenarios for the rest of the pack: an attack that must fire each rule, and near misses that must not
(just under a threshold, or split by a window boundary). Correlation scenarios say so with ``Intent``s;
a single-event rule's alerts are every event that matches it, and its near misses are the events next
to it that do not (another event type, another outcome).

Near misses of a per-user threshold are built on a user who does nothing else (``fresh_user``), and those
of a per-address threshold on an address no one else uses, so that neither background nor another
scenario can push them over. The attacks use the org's own users, so the truth also holds what they
cause elsewhere (a sprayed user who also signed in from home that hour logged in from two cities).
"""

from __future__ import annotations

from .context import _ScenarioContext
from .design import Scenario, _Design
from .events import (
    API_TOKEN_CREATE,
    API_TOKEN_REVOKE,
    DEVICE_ENROLL,
    FACTOR_ACTIVATE,
    FACTOR_DEACTIVATE,
    FACTOR_RESET_ALL,
    IDP_ACTIVATE,
    IDP_CREATE,
    IDP_UPDATE,
    KNOWN_SIGNAL,
    NEW_NETWORK_SIGNAL,
    REPORT_SUSPICIOUS,
    REQUEST_BLOCKED,
    Signal,
)
from .pack import CITIES, HOUR, LOCKOUTS, MFA_BURST, MINUTES_5, SESSION_COOKIE, SPRAY
from .pack_truth import Intent
from .population import Client, User, _desktop_agent, _make_client, _mobile_browser_agent
from .rule import BUCKET_MS
from .session import _Session
from .tables import MOBILE_ISPS, NON_PUSH_FACTORS
from .truth import _Facts
from .values import _okta_id

_BURST_FACTORS = ("SMS", "GOOGLE_OTP", "OKTA_VERIFY", "EMAIL")  # codes an attacker guesses or replays
_ANCHOR = 30 * BUCKET_MS  # a minute into a design: room for what leads up to the boundary


def _design(label: str, session: _Session, users: list[User], **extra) -> _Design:
    session.steps.sort(key=lambda step: step.offset_ms)
    return _Design(label, session.session_id, [u.login for u in users], session.steps, _Facts(), **extra)


def _times(
    ctx: _ScenarioContext, count: int, start: int, end: int, first_at_start: bool = False
) -> list[int]:
    """`count` sorted distinct instants in [start, end); the first exactly at `start` if asked (an event
    on a window's first millisecond belongs to that window)."""
    rng = ctx.rng
    times = sorted(rng.sample(range(start, end), count))
    if first_at_start:
        times[0] = start
    return times


def _split(ctx: _ScenarioContext, total: int, most: int) -> int:
    """How many of `total` fall before a boundary so that neither side has more than `most`."""
    return ctx.rng.randint(total - most, most)


def _sign_in(session: _Session, t: int, client: Client, signal: Signal, allow: bool = False) -> int:
    """An ordinary sign-in (policy, password, a factor unless allowed without, session); its end."""
    rng = session.rng
    session.policy_evaluation(t, client, signal, challenge=not allow)
    t += rng.randint(700, 4000)
    session.password(t, client, signal)
    if not allow:
        t += rng.randint(2000, 15000)
        session.other_factor(t, client, signal, rng.choice(NON_PUSH_FACTORS), success=True)
    t += rng.randint(300, 1500)
    session.session_start(t, client, signal)
    return t


def _other_agent_client(ctx: _ScenarioContext, base: Client, differs_from: Client) -> Client:
    """``base`` with a desktop browser whose OS or browser family differs from ``differs_from``'s."""
    old = differs_from.client["userAgent"]
    while True:
        agent = _desktop_agent(ctx.rng)
        if (agent.os, agent.browser) != (old["os"], old["browser"]):
            break
    user_agent = {"rawUserAgent": agent.raw, "os": agent.os, "browser": agent.browser}
    return base._replace(client={**base.client, "userAgent": user_agent})


def _fresh_laptop(ctx: _ScenarioContext, user: User) -> Client:
    """The user's home network with a device token (dtHash) no other session has."""
    return user.home._replace(dt_hash=ctx.rng.randbytes(32).hex())


# -- failed MFA bursts (per user, >= 10 in 5 minutes) -------------------------------------------------------


def _burst(ctx: _ScenarioContext, user: User, before: int, after: int, label: str, spread_ms: int) -> _Design:
    """An attacker with the password fails factor after factor: `before` failures in the minute before a
    5-minute boundary, `after` from the boundary on (within `spread_ms`)."""
    rng = ctx.rng
    session = _Session(ctx, user, ctx.new_session_id(classic=False), classic=False)
    client, signal = ctx.attacker_client()
    session.policy_evaluation(rng.randint(100, 900), client, signal)
    session.password(rng.randint(2000, 5000), client, signal)
    times = _times(ctx, before, _ANCHOR - 55_000, _ANCHOR) if before else []
    times += _times(ctx, after, _ANCHOR, _ANCHOR + spread_ms, first_at_start=True)
    for t in times:
        session.other_factor(t, client, signal, rng.choice(_BURST_FACTORS), success=False)
    intents = []
    if before:
        intents.append(Intent(MFA_BURST, (user.login,), _ANCHOR - 1, fires=before >= 10))
    intents.append(Intent(MFA_BURST, (user.login,), _ANCHOR, fires=after >= 10))
    return _design(label, session, [user], intents=intents, align_ms=MINUTES_5, anchor_ms=_ANCHOR)


def _build_mfa_burst(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    """10-14 failures from the boundary to the last second of one 5-minute window."""
    last = MINUTES_5 - ctx.rng.randint(1, 900)
    return _burst(ctx, ctx.user(), 0, ctx.rng.randint(10, 14), scenario.label, last)


def _build_mfa_burst_near_miss(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    return _burst(ctx, ctx.fresh_user(), 0, 9, scenario.label, 240_000)


def _build_mfa_burst_split(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    total = ctx.rng.randint(12, 16)
    before = _split(ctx, total, 9)
    return _burst(ctx, ctx.fresh_user(), before, total - before, scenario.label, 60_000)


def _build_wrong_passwords(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    """Ten wrong passwords in Identity Engine (auth_via_mfa FAILURE with PASSWORD_AS_FACTOR) in five
    minutes: each a failed MFA challenge, but the burst's base rule leaves the password out."""
    user = ctx.fresh_user()
    session = _Session(ctx, user, ctx.new_session_id(classic=False), classic=False)
    client, signal = ctx.known_laptop_client(user)
    for t in _times(ctx, 10, _ANCHOR, _ANCHOR + 200_000, first_at_start=True):
        session.wrong_password(t, client, signal)
    intents = [Intent(MFA_BURST, (user.login,), _ANCHOR, fires=False)]
    return _design(scenario.label, session, [user], intents=intents, align_ms=MINUTES_5, anchor_ms=_ANCHOR)


# -- password spray and lockouts (per address, 5 minutes) ----------------------------------------------------


def _spray(
    ctx: _ScenarioContext, label: str, users: int, before: int, attempts: tuple[int, int], locks: bool
) -> _Design:
    """One attacker address tries `users` accounts (the first `before` of them in the minute before a
    5-minute boundary, the others after it); with `locks`, each account ends locked out."""
    rng = ctx.rng
    client, signal = ctx.attacker_client(unique=True)
    victims = rng.sample(ctx.population.users, users)
    steps, times = [], []
    times = _times(ctx, before, _ANCHOR - 50_000, _ANCHOR) if before else []
    times += _times(ctx, users - before, _ANCHOR, _ANCHOR + 200_000, first_at_start=True)
    for user, t in zip(victims, times, strict=True):
        session = _Session(ctx, user, None, classic=True)
        tries = rng.randint(*attempts)
        for attempt in range(tries):
            at = t + attempt * rng.randint(1500, 4000)
            if locks and attempt == tries - 1:
                session.lockout(min(at, _ANCHOR - 1) if t < _ANCHOR else at, client, signal)
            else:
                session.sign_in_failed(min(at, _ANCHOR - 1) if t < _ANCHOR else at, client, signal)
        steps.extend(session.steps)
    if not locks and rng.random() < 0.5:  # ThreatInsight often notices a spray
        tail = _Session(ctx, victims[0], None, classic=True)
        tail.threat(
            times[-1] + rng.randint(5_000, 30_000),
            client,
            signal,
            threatDetections='{"Password Spray":"HIGH"}',
        )
        steps.extend(tail.steps)
    steps.sort(key=lambda step: step.offset_ms)
    rule, group, limit = (LOCKOUTS, (client.ip, "SUCCESS"), 5) if locks else (SPRAY, (client.ip,), 9)
    intents = [Intent(rule, group, _ANCHOR, fires=users - before > limit)]
    if before:
        intents.append(Intent(rule, group, _ANCHOR - 1, fires=before > limit))
    return _Design(
        label,
        None,
        [u.login for u in victims],
        steps,
        _Facts(),
        intents=intents,
        align_ms=MINUTES_5,
        anchor_ms=_ANCHOR,
    )


def _build_spray(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    return _spray(ctx, scenario.label, ctx.rng.randint(10, 14), 0, (1, 2), locks=False)


def _build_spray_near_miss(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    """Nine accounts, two or three tries each: many failures, but not more than nine users."""
    return _spray(ctx, scenario.label, 9, 0, (2, 3), locks=False)


def _build_spray_split(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    users = ctx.rng.randint(12, 16)
    return _spray(ctx, scenario.label, users, _split(ctx, users, 9), (1, 1), locks=False)


def _build_lockouts(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    return _spray(ctx, scenario.label, ctx.rng.randint(6, 8), 0, (2, 3), locks=True)


def _build_lockouts_near_miss(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    return _spray(ctx, scenario.label, 5, 0, (2, 3), locks=True)


def _build_lockouts_split(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    users = ctx.rng.randint(6, 9)
    return _spray(ctx, scenario.label, users, _split(ctx, users, 5), (2, 2), locks=True)


# -- session cookie reuse (per device token and user, an hour) ------------------------------------------------


def _cookie(ctx: _ScenarioContext, label: str, replay: str, across_hour: bool = False) -> _Design:
    """The user signs in on a laptop (its own device token); later the same token is used again by
    `replay`: ``attacker`` (another address and browser), ``roaming`` (the same browser from the
    phone's hotspot) or ``second_browser`` (the same address, another browser)."""
    rng = ctx.rng
    user = ctx.user()
    session = _Session(ctx, user, ctx.new_session_id(classic=False), classic=False)
    laptop = _fresh_laptop(ctx, user)
    t = _sign_in(session, rng.randint(100, 900), laptop, KNOWN_SIGNAL, allow=True)
    for _ in range(rng.randint(1, 3)):
        t += rng.randint(20_000, 200_000)
        session.app_access(t, laptop, KNOWN_SIGNAL, ctx.population.app_targets)
    if replay == "attacker":
        attacker, signal = ctx.attacker_client()
        again = _other_agent_client(ctx, attacker._replace(dt_hash=laptop.dt_hash), laptop)
    elif replay == "roaming":  # the phone's hotspot: another address, the same browser
        isp = rng.choice(MOBILE_ISPS[user.city.cc])
        hotspot = _make_client(
            rng,
            ip=ctx.fresh_ip(isp),
            city=user.city,
            isp=isp,
            agent=_mobile_browser_agent(rng),
            kind="Computer",
        )
        client = {**hotspot.client, "userAgent": laptop.client["userAgent"]}
        again = hotspot._replace(client=client, dt_hash=laptop.dt_hash)
        signal = NEW_NETWORK_SIGNAL
    else:
        again, signal = _other_agent_client(ctx, laptop, laptop), KNOWN_SIGNAL
    anchor = (t // BUCKET_MS + rng.randint(5, 60)) * BUCKET_MS
    t = anchor + (rng.randint(1_000, 240_000) if across_hour else rng.randint(60_000, 900_000))
    session.policy_evaluation(t, again, signal, challenge=False)
    session.app_access(t + rng.randint(2_000, 30_000), again, signal, ctx.population.app_targets)
    group = (laptop.dt_hash, user.login)
    if across_hour:
        intents = [
            Intent(SESSION_COOKIE, group, 0, fires=False),
            Intent(SESSION_COOKIE, group, t, fires=False),
        ]
        return _design(label, session, [user], intents=intents, align_ms=HOUR, anchor_ms=anchor)
    return _design(
        label, session, [user], intents=[Intent(SESSION_COOKIE, group, 0, fires=replay == "attacker")]
    )


def _build_cookie_reuse(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    return _cookie(ctx, scenario.label, "attacker")


def _build_cookie_roaming(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    return _cookie(ctx, scenario.label, "roaming")


def _build_cookie_second_browser(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    return _cookie(ctx, scenario.label, "second_browser")


def _build_cookie_next_hour(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    return _cookie(ctx, scenario.label, "attacker", across_hour=True)


# -- logins from several cities (per user, an hour) ----------------------------------------------------------


def _elsewhere(ctx: _ScenarioContext) -> tuple[Client, Signal]:
    """A sign-in from another city: an attacker's network, or the user's VPN exit (they look alike)."""
    return ctx.attacker_client()


def _build_multi_city(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    rng = ctx.rng
    user = ctx.user()
    home = _Session(ctx, user, ctx.new_session_id(classic=False), classic=False)
    t = _sign_in(home, rng.randint(100, 900), user.home, KNOWN_SIGNAL)
    away = _Session(ctx, user, ctx.new_session_id(classic=False), classic=False)
    client, signal = _elsewhere(ctx)
    _sign_in(away, t + rng.randint(120_000, 1_800_000), client, signal)
    home.steps.extend(away.steps)
    return _design(scenario.label, home, [user], intents=[Intent(CITIES, (user.login,), 0, fires=True)])


def _build_one_city_many_networks(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    """Home, office and phone within the hour: three addresses, one city."""
    rng = ctx.rng
    user = ctx.fresh_user()
    isp = rng.choice(MOBILE_ISPS[user.city.cc])
    phone = _make_client(
        rng, ip=ctx.fresh_ip(isp), city=user.city, isp=isp, agent=_mobile_browser_agent(rng), kind="Mobile"
    )
    session = _Session(ctx, user, ctx.new_session_id(classic=False), classic=False)
    t = rng.randint(100, 900)
    for client in [user.home, user.office or user.home, phone]:
        t = _sign_in(session, t, client, KNOWN_SIGNAL) + rng.randint(60_000, 900_000)
    return _design(scenario.label, session, [user], intents=[Intent(CITIES, (user.login,), 0, fires=False)])


def _build_cities_next_hour(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    """Home late in one hour, another city early in the next: one city per window."""
    rng = ctx.rng
    user = ctx.fresh_user()
    session = _Session(ctx, user, ctx.new_session_id(classic=False), classic=False)
    t = _sign_in(session, rng.randint(100, 900), user.home, KNOWN_SIGNAL)
    anchor = (t // BUCKET_MS + rng.randint(5, 300)) * BUCKET_MS
    client, signal = _elsewhere(ctx)
    away = anchor + rng.randint(0, 600_000)
    _sign_in(session, away, client, signal)
    intents = [
        Intent(CITIES, (user.login,), 0, fires=False),
        Intent(CITIES, (user.login,), away, fires=False),
    ]
    return _design(scenario.label, session, [user], intents=intents, align_ms=HOUR, anchor_ms=anchor)


# -- single-event rules: the event, and the one next to it that does not match -------------------------------


def _admin_session(ctx: _ScenarioContext) -> tuple[_Session, User]:
    admin = ctx.rng.choice(ctx.population.admins)
    return _Session(ctx, admin, ctx.new_session_id(classic=False), classic=False), admin


def _token_target(ctx: _ScenarioContext, name: str) -> list[dict]:
    return [
        {
            "id": _okta_id(ctx.rng, "00T"),
            "type": "Token",
            "alternateId": "unknown",
            "displayName": name,
            "detailEntry": None,
        }
    ]


def _build_api_token(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    """An admin revokes an old token (no alert), then a token is created (alert)."""
    rng = ctx.rng
    session, admin = _admin_session(ctx)
    t = _sign_in(session, rng.randint(100, 900), admin.home, KNOWN_SIGNAL)
    t += rng.randint(30_000, 300_000)
    session.change(
        t, API_TOKEN_REVOKE, admin.home, KNOWN_SIGNAL, _token_target(ctx, "ci-legacy"), "/api/internal/tokens"
    )
    t += rng.randint(20_000, 200_000)
    name = rng.choice(("terraform", "backup-sync", "svc-reporting", "tmp"))
    session.change(
        t, API_TOKEN_CREATE, admin.home, KNOWN_SIGNAL, _token_target(ctx, name), "/api/internal/tokens"
    )
    return _design(scenario.label, session, [admin])


def _build_device_enrolled(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    """Okta Verify set up on a new phone: the factor activation does not alert, the device enrolment does."""
    rng = ctx.rng
    user = ctx.user()
    session = _Session(ctx, user, ctx.new_session_id(classic=False), classic=False)
    t = _sign_in(session, rng.randint(100, 900), user.home, KNOWN_SIGNAL)
    phone = rng.choice(user.phones)
    device = [
        {
            "id": phone.device["id"],
            "type": "Device",
            "alternateId": "unknown",
            "displayName": phone.device["name"],
            "detailEntry": None,
        }
    ]
    t += rng.randint(30_000, 200_000)
    session.change(
        t, FACTOR_ACTIVATE, user.home, KNOWN_SIGNAL, [user.target, phone.enrollment], "/idp/idx/enroll/new"
    )
    session.change(
        t + rng.randint(500, 3000),
        DEVICE_ENROLL,
        user.home,
        KNOWN_SIGNAL,
        [user.target, *device],
        "/idp/idx/enroll/new",
    )
    return _design(scenario.label, session, [user])


def _build_mfa_disabled(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    """The help desk resets all of one user's factors (another event type: no alert) and deactivates one
    factor of another user (alert)."""
    rng = ctx.rng
    session, admin = _admin_session(ctx)
    t = _sign_in(session, rng.randint(100, 900), admin.home, KNOWN_SIGNAL)
    first, second = rng.sample(ctx.population.users, 2)
    t += rng.randint(30_000, 300_000)
    session.change(
        t,
        FACTOR_RESET_ALL,
        admin.home,
        KNOWN_SIGNAL,
        [first.target],
        f"/api/v1/users/{first.target['id']}/lifecycle/reset_factors",
    )
    t += rng.randint(30_000, 300_000)
    phone = rng.choice(second.phones)
    session.change(
        t,
        FACTOR_DEACTIVATE,
        admin.home,
        KNOWN_SIGNAL,
        [second.target, phone.enrollment],
        f"/api/v1/users/{second.target['id']}/factors",
    )
    return _design(scenario.label, session, [admin, first, second])


def _build_idp_lifecycle(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    """An admin session from an attacker's network creates and activates an identity provider (two
    alerts); an admin edits the existing one (update: no alert)."""
    rng = ctx.rng
    session, admin = _admin_session(ctx)
    t = _sign_in(session, rng.randint(100, 900), admin.home, KNOWN_SIGNAL)
    existing = [
        {
            "id": _okta_id(rng, "0oa"),
            "type": "IdentityProvider",
            "alternateId": "unknown",
            "displayName": "Azure AD",
            "detailEntry": None,
        }
    ]
    session.change(
        t + rng.randint(10_000, 120_000), IDP_UPDATE, admin.home, KNOWN_SIGNAL, existing, "/api/v1/idps"
    )
    rogue = _Session(ctx, admin, ctx.new_session_id(classic=False), classic=False)
    client, signal = ctx.attacker_client()
    t += rng.randint(200_000, 900_000)
    target = [
        {
            "id": _okta_id(rng, "0oa"),
            "type": "IdentityProvider",
            "alternateId": "unknown",
            "displayName": "SSO Partner",
            "detailEntry": None,
        }
    ]
    rogue.change(t, IDP_CREATE, client, signal, target, "/api/v1/idps")
    rogue.change(
        t + rng.randint(2_000, 30_000),
        IDP_ACTIVATE,
        client,
        signal,
        target,
        "/api/v1/idps/lifecycle/activate",
    )
    session.steps.extend(rogue.steps)
    return _design(scenario.label, session, [admin])


def _build_unauthorized_app(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    """A user opens an assigned app (no alert), then tries one to three they are not assigned to."""
    rng = ctx.rng
    user = ctx.user()
    session = _Session(ctx, user, ctx.new_session_id(classic=False), classic=False)
    client, signal = ctx.known_laptop_client(user)
    t = _sign_in(session, rng.randint(100, 900), client, signal)
    session.app_access(t + rng.randint(3_000, 60_000), client, signal, ctx.population.app_targets)
    for _app, target in rng.sample(ctx.population.app_targets, rng.randint(1, 3)):
        t += rng.randint(60_000, 300_000)
        session.unauthorized_app(t, client, signal, target)
    return _design(scenario.label, session, [user])


def _build_reported(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    """A user signs in (no alert), then reports the email about a sign-in they did not make."""
    rng = ctx.rng
    user = ctx.user()
    session = _Session(ctx, user, ctx.new_session_id(classic=False), classic=False)
    t = _sign_in(session, rng.randint(100, 900), user.home, KNOWN_SIGNAL)
    t += rng.randint(60_000, 1_200_000)
    session.change(
        t, REPORT_SUSPICIOUS, user.home, KNOWN_SIGNAL, [user.target], "/api/v1/users/me/suspicious-activity"
    )
    return _design(scenario.label, session, [user])


def _build_threat(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    """ThreatInsight flags an address one to three times (alerts); a block of another address by its
    network zone is another event type (no alert)."""
    rng = ctx.rng
    user = ctx.user()
    session = _Session(ctx, user, None, classic=True)
    client, signal = ctx.attacker_client(unique=True)
    t = rng.randint(100, 900)
    for _ in range(rng.randint(1, 3)):
        session.threat(t, client, signal, threatDetections='{"Credential Stuffing":"HIGH"}')
        t += rng.randint(10_000, 300_000)
    blocked, blocked_signal = ctx.attacker_client(unique=True)
    session.threat(t, blocked, blocked_signal, kind=REQUEST_BLOCKED)
    return _design(scenario.label, session, [user])


def _build_fastpass(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    """FastPass signs the user in (no alert); later the user opens a phishing page and FastPass declines."""
    rng = ctx.rng
    user = ctx.user()
    session = _Session(ctx, user, ctx.new_session_id(classic=False), classic=False)
    client, signal = ctx.known_laptop_client(user)
    session.policy_evaluation(rng.randint(100, 900), client, signal)
    session.fastpass(rng.randint(2_000, 5_000), client, signal, phishing=False)
    session.session_start(rng.randint(6_000, 8_000), client, signal)
    session.fastpass(rng.randint(300_000, 1_800_000), client, signal, phishing=True)
    return _design(scenario.label, session, [user])


def _build_mfa_challenge_failed(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    """A wrong password on the Classic API (user.session.start: no MFA alert), then the right one and a
    wrong SMS code (alert), then the right code."""
    rng = ctx.rng
    user = ctx.user()
    session = _Session(ctx, user, ctx.new_session_id(classic=False), classic=False)
    client, signal = ctx.known_laptop_client(user)
    session.sign_in_failed(rng.randint(100, 900), client, signal)
    session.policy_evaluation(rng.randint(5_000, 9_000), client, signal)
    session.password(rng.randint(10_000, 14_000), client, signal)
    session.other_factor(rng.randint(30_000, 60_000), client, signal, "SMS", success=False)
    session.other_factor(rng.randint(70_000, 120_000), client, signal, "SMS", success=True)
    session.session_start(rng.randint(121_000, 125_000), client, signal)
    return _design(scenario.label, session, [user])


def _pack(label: str, family: str, summary: str, build) -> Scenario:
    return Scenario(label, False, summary, build=build, family=family)


PACK_SCENARIOS: tuple[Scenario, ...] = (
    _pack(
        "mfa_burst",
        "mfa_burst",
        "an attacker fails 10-14 factor codes within one 5-minute window (first on its first millisecond)",
        _build_mfa_burst,
    ),
    _pack(
        "mfa_burst_near_miss",
        "mfa_burst",
        "nine failed factor codes in five minutes (the rule needs ten)",
        _build_mfa_burst_near_miss,
    ),
    _pack(
        "mfa_burst_split",
        "mfa_burst",
        "12-16 failed codes across a 5-minute boundary, at most nine on each side",
        _build_mfa_burst_split,
    ),
    _pack(
        "wrong_passwords",
        "mfa_burst",
        "ten wrong passwords as PASSWORD_AS_FACTOR in five minutes: MFA failures, not the burst's",
        _build_wrong_passwords,
    ),
    _pack(
        "password_spray",
        "spray",
        "one new address fails sign-ins of 10-14 users in five minutes, maybe flagged by ThreatInsight",
        _build_spray,
    ),
    _pack(
        "password_spray_near_miss",
        "spray",
        "nine users, two or three tries each, from one address",
        _build_spray_near_miss,
    ),
    _pack(
        "password_spray_split",
        "spray",
        "12-16 users across a 5-minute boundary, at most nine on each side",
        _build_spray_split,
    ),
    _pack(
        "lockout_wave", "lockout", "6-8 accounts locked out from one address in five minutes", _build_lockouts
    ),
    _pack(
        "lockout_near_miss",
        "lockout",
        "five accounts locked out from one address (the rule needs more than five)",
        _build_lockouts_near_miss,
    ),
    _pack(
        "lockout_split",
        "lockout",
        "6-9 lockouts across a 5-minute boundary, at most five on each side",
        _build_lockouts_split,
    ),
    _pack(
        "session_cookie_reuse",
        "session_cookie",
        "a laptop's device token replayed within the hour from another address, OS or browser",
        _build_cookie_reuse,
    ),
    _pack(
        "session_cookie_roaming",
        "session_cookie",
        "the same browser moves to a phone hotspot: two addresses, one OS and browser",
        _build_cookie_roaming,
    ),
    _pack(
        "session_cookie_second_browser",
        "session_cookie",
        "another browser with the same device token from the same address",
        _build_cookie_second_browser,
    ),
    _pack(
        "session_cookie_next_hour",
        "session_cookie",
        "the replay lands in the next hour: one address per window",
        _build_cookie_next_hour,
    ),
    _pack(
        "multi_city_login",
        "cities",
        "sign-ins from home and, minutes later, from another city",
        _build_multi_city,
    ),
    _pack(
        "one_city_many_networks",
        "cities",
        "home, office and phone sign-ins within the hour, all in one city",
        _build_one_city_many_networks,
    ),
    _pack(
        "cities_next_hour",
        "cities",
        "home late in one hour, another city early in the next",
        _build_cities_next_hour,
    ),
    _pack(
        "api_token_created",
        "changes",
        "an admin revokes an old API token, then one is created",
        _build_api_token,
    ),
    _pack(
        "device_enrolled",
        "changes",
        "Okta Verify activated on a new phone and the device enrolled",
        _build_device_enrolled,
    ),
    _pack(
        "mfa_disabled",
        "changes",
        "the help desk resets one user's factors and deactivates another's factor",
        _build_mfa_disabled,
    ),
    _pack(
        "idp_lifecycle",
        "changes",
        "an identity provider created and activated from an attacker's network; another updated",
        _build_idp_lifecycle,
    ),
    _pack(
        "unauthorized_app",
        "changes",
        "a user opens an assigned app, then tries 1-3 unassigned ones",
        _build_unauthorized_app,
    ),
    _pack(
        "suspicious_activity_reported",
        "changes",
        "a user signs in, then reports a sign-in they did not make",
        _build_reported,
    ),
    _pack(
        "threatinsight",
        "threats",
        "ThreatInsight flags an address 1-3 times; another is blocked by a zone",
        _build_threat,
    ),
    _pack(
        "fastpass_phishing",
        "threats",
        "FastPass signs a user in, later declines a phishing origin",
        _build_fastpass,
    ),
    _pack(
        "mfa_challenge_failed",
        "threats",
        "a wrong password (sign-in failure), then a wrong SMS code, then the right one",
        _build_mfa_challenge_failed,
    ),
)
