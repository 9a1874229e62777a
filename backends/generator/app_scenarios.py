"""Scenarios of the rules that read the ``target`` list: challenged application requests (Multiple
Failed Requests to Access Applications) and single-factor sign-ins (Successful Single Factor
Authentication), each attack with its near misses.

Both groups are built so that nothing else can reach them: the application rule groups by session
(each design has its own), and the single-factor rule by address and user (a fresh user on an
address no other scenario gets).
"""

from __future__ import annotations

from .context import _ScenarioContext
from .design import Scenario, _Design
from .events import OUTCOME_CHALLENGE, POLICY_EVALUATION, Signal
from .pack import FAILED_APPS, SINGLE_FACTOR
from .pack_scenarios import _design
from .pack_truth import Intent
from .population import Client
from .session import _Session


def _challenged_request(session: _Session, t: int, client: Client, signal: Signal, app_target: dict) -> None:
    """The sign-on policy challenges a request to open one application (the app is the first target)."""
    debug = session.signal_debug(client, signal, "/idp/idx/identify", security_data=True)
    targets = [app_target, *session.population.policy_targets]
    session.add(t, POLICY_EVALUATION, client, OUTCOME_CHALLENGE, debug, targets)


def _app_requests(ctx: _ScenarioContext, label: str, challenges: int, passed: int) -> _Design:
    """Someone holding a user's session opens application after application from one address: the
    policy challenges ``challenges`` requests and ``passed`` single sign-ons follow."""
    rng = ctx.rng
    user = ctx.user()
    session = _Session(ctx, user, ctx.new_session_id(classic=False), classic=False)
    client, signal = ctx.attacker_client(unique=True)
    saml_apps = [
        (app, target) for app, target in ctx.population.app_targets if app.sign_on != "OPENID_CONNECT"
    ]
    t = rng.randint(100, 900)
    for _ in range(challenges):
        _challenged_request(session, t, client, signal, rng.choice(ctx.population.app_targets)[1])
        t += rng.randint(5_000, 90_000)
    for _ in range(passed):
        session.app_access(t, client, signal, saml_apps)  # a SAML or bookmark app: one sso event
        t += rng.randint(5_000, 90_000)
    group = (session.session_id, user.login, client.ip)
    fires = challenges > 2 and 200 * passed < 99 * challenges  # round(passed / challenges, 2) < 0.5
    return _design(label, session, [user], intents=[Intent(FAILED_APPS, group, 0, fires=fires)])


def _build_app_challenges(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    challenges = ctx.rng.randint(3, 5)
    return _app_requests(ctx, scenario.label, challenges, ctx.rng.randint(0, 1))


def _build_app_challenges_passed(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    return _app_requests(ctx, scenario.label, 3, 2)  # ratio 0.67


def _build_app_challenges_two(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    return _app_requests(ctx, scenario.label, 2, 0)  # ratio 0, but the rule needs more than two


def _single_factor(ctx: _ScenarioContext, label: str, factor: str | None) -> _Design:
    """A fresh user signs in from a new address with the password alone (``factor`` None), or with
    the password and ``factor``."""
    rng = ctx.rng
    user = ctx.fresh_user()
    session = _Session(ctx, user, ctx.new_session_id(classic=False), classic=False)
    client, signal = ctx.attacker_client(unique=True)
    t = rng.randint(100, 900)
    session.policy_evaluation(t, client, signal, challenge=factor is not None)
    t += rng.randint(700, 4000)
    session.password(t, client, signal)
    if factor is not None:
        t += rng.randint(2000, 15000)
        session.other_factor(t, client, signal, factor, success=True)
    session.session_start(t + rng.randint(300, 1500), client, signal)
    fires = factor is None or factor not in ("OKTA_VERIFY", "SIGNED_NONCE")  # the target says Okta Verify
    intent = Intent(SINGLE_FACTOR, (client.ip, user.login), 0, fires=fires)
    return _design(label, session, [user], intents=[intent])


def _build_single_factor(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    return _single_factor(ctx, scenario.label, None)


def _build_okta_verify_sign_in(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    return _single_factor(ctx, scenario.label, ctx.rng.choice(("OKTA_VERIFY", "SIGNED_NONCE")))


def _app(label: str, summary: str, build) -> Scenario:
    return Scenario(label, False, summary, build=build, family="apps")


APP_SCENARIOS: tuple[Scenario, ...] = (
    _app(
        "app_challenges",
        "a held session is challenged on 3-5 application requests from one address and passes at most one",
        _build_app_challenges,
    ),
    _app(
        "app_challenges_passed",
        "three challenged application requests, two single sign-ons follow (ratio 0.67)",
        _build_app_challenges_passed,
    ),
    _app(
        "app_challenges_two",
        "two challenged application requests and no sign-on (the rule needs more than two)",
        _build_app_challenges_two,
    ),
    _app(
        "single_factor_sign_in",
        "a user signs in from a new address with the password alone",
        _build_single_factor,
    ),
    _app(
        "okta_verify_sign_in",
        "the same sign-in with an Okta Verify code or FastPass as the second factor",
        _build_okta_verify_sign_in,
    ),
)
