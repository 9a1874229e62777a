"""Scenarios: labelled sessions whose expected outcome is known by design.

A new scenario is one :class:`Scenario` entry in :data:`SCENARIOS`: either a :class:`Conversation`
(who pushes, to how many devices, how often, how the user answers) or a ``build`` function that returns
a ``_Design``. ``_check_design`` rejects a built session whose facts contradict its ``expected_alert``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from .app_scenarios import APP_SCENARIOS
from .context import _ScenarioContext
from .design import Scenario, _Design
from .events import KNOWN_SIGNAL, Signal, _Step
from .pack import HOUR
from .pack_scenarios import PACK_SCENARIOS
from .rule import BUCKET_MS, WINDOW_MS
from .session import _Session
from .tables import OTHER_FACTORS
from .truth import _Facts, alert_condition
from .values import _case_twin, behaviors_text


@dataclass(frozen=True)
class Conversation:
    """A push conversation: who asks (source), how many devices a push fans out to, how the user answers."""

    source: str  # "attacker" | "known_laptop" | "new_laptop"
    devices: tuple[int, int]
    pushes: tuple[int, int]
    answers: Callable[[random.Random, int], list[str | None]]  # per push: "approve", "deny" or None (ignored)
    gap_seconds: tuple[int, int] = (8, 60)  # between pushes (each push starts a new 2 s bucket)
    same_network: bool = False  # the phone answers from the sign-in client's IP


def _fatigue_answers(rng: random.Random, n: int) -> list[str | None]:
    """Most pushes ignored; the user finally approves one, denies one or two, or both (approvals <= 1 < n/2)."""
    answers: list[str | None] = [None] * n
    style = rng.choice(("approve_last", "deny_some", "deny_then_approve"))
    if style != "approve_last":
        for index in rng.sample(range(n - 1), k=rng.randint(1, min(2, n - 1))):
            answers[index] = "deny"
    if style != "deny_some":
        answers[-1] = "approve"
    return answers


def _denied_answers(rng: random.Random, n: int) -> list[str | None]:
    return ["deny"] if n == 1 else rng.choice((["deny", "deny"], [None, "deny"], ["deny", None]))


def _approve_last(rng: random.Random, n: int) -> list[str | None]:
    """Earlier pushes time out unanswered; the last one is approved."""
    return [None] * (n - 1) + ["approve"]


def _deny_then_approve(rng: random.Random, n: int) -> list[str | None]:
    return ["deny"] + ["approve"] * (n - 1)


def _phone_signal(rng: random.Random) -> Signal:
    return Signal(behaviors_text(New_IP=rng.random() < 0.3), "{level=LOW}", "LOW", False)


def _fanout_offsets(rng: random.Random, bucket_ms: int, count: int) -> list[int]:
    """`count` instants inside the 2 s bucket starting at `bucket_ms` (e.g. 10.120, 10.180, 10.410)."""
    first = bucket_ms + rng.randint(20, 1200)
    offsets = [first]
    for _ in range(count - 1):
        offsets.append(min(offsets[-1] + rng.randint(15, 250), bucket_ms + BUCKET_MS - 1))
    return offsets


def _build_conversation(ctx: _ScenarioContext, scenario: Scenario, session_id: str | None = None) -> _Design:
    plan = scenario.conversation
    assert plan is not None
    rng = ctx.rng
    fanout = rng.randint(*plan.devices)
    user = ctx.user(devices=fanout)
    devices = user.phones
    answering_phone = rng.choice(devices)
    classic = rng.random() < 0.2
    session_id = ctx.claim_session_id(session_id) if session_id else ctx.new_session_id(classic)
    session = _Session(ctx, user, session_id, classic=session_id.startswith("102"))
    source, signal = ctx.source(plan.source, user)
    phone = ctx.phone_client(user, answering_phone, same_as=source if plan.same_network else None)
    phone_signal = _phone_signal(rng)
    n_pushes = rng.randint(*plan.pushes)
    answers = plan.answers(rng, n_pushes)

    t = rng.randint(100, 900)
    session.policy_evaluation(t, source, signal)
    t += rng.randint(800, 3000)
    session.password(t, source, signal)
    bucket = (t // BUCKET_MS + 1 + rng.randint(0, 2)) * BUCKET_MS  # pushes start on an even second (relative)
    facts = _Facts(
        pushes=n_pushes,
        fanout=fanout,
        source_ips={source.ip},
        new_device="New Device=POSITIVE" in signal.behaviors,
        new_ip="New IP=POSITIVE" in signal.behaviors,
    )
    last_approval = None
    for answer in answers:
        gap = BUCKET_MS * rng.randint(plan.gap_seconds[0] // 2 + 1, plan.gap_seconds[1] // 2)
        instants = _fanout_offsets(rng, bucket, fanout)
        for instant, device in zip(instants, devices, strict=True):
            session.push(instant, source, signal, device)
        if answer is not None:
            answered = instants[-1] + rng.randint(2500, max(2500, min(gap - 2500, 40_000)))
            session.push_answer(answered, phone, phone_signal, answering_phone, approve=answer == "approve")
            facts.response_ips.add(phone.ip)
            facts.approvals += answer == "approve"
            facts.denials += answer == "deny"
            if answer == "approve":
                last_approval = answered
        bucket += gap
    if last_approval is not None:
        t = last_approval + rng.randint(300, 1500)
        session.session_start(t, source, signal)
        for _ in range(rng.randint(0, 3)):
            t += rng.randint(5_000, 120_000)
            session.app_access(t, source, signal, ctx.population.app_targets)
    session.steps.sort(key=lambda s: s.offset_ms)
    return _Design(scenario.label, session_id, [user.login], session.steps, facts)


def _build_null_session(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    """Okta Verify push denials on Classic flows that never got a session: externalSessionId is null."""
    rng = ctx.rng
    users = rng.sample(ctx.population.users, k=rng.randint(2, 4))
    facts = _Facts()
    steps: list[_Step] = []
    t = rng.randint(100, 2000)
    for user in users:
        session = _Session(ctx, user, None, classic=True)
        phone = rng.choice(user.phones)
        phone_client = ctx.phone_client(user, phone)
        session.policy_evaluation(t, user.home, KNOWN_SIGNAL)
        answered = t + rng.randint(6_000, 20_000)
        for _ in range(rng.randint(1, 2)):
            session.push_answer(answered, phone_client, _phone_signal(rng), phone, approve=False)
            facts.denials += 1
            facts.response_ips.add(phone_client.ip)
            answered += rng.randint(8_000, 40_000)
        session.session_start(answered + rng.randint(500, 3000), user.home, KNOWN_SIGNAL, success=False)
        steps.extend(session.steps)
        t += rng.randint(20_000, 240_000)
    steps.sort(key=lambda s: s.offset_ms)
    return _Design(scenario.label, None, [u.login for u in users], steps, facts)


def _build_other_factor(ctx: _ScenarioContext, scenario: Scenario) -> _Design:
    """An attacker-like sign-in whose MFA attempts use TOTP or SMS: auth_via_mfa, but not a push response."""
    rng = ctx.rng
    user = ctx.user()
    session_id = ctx.new_session_id(classic=False)
    session = _Session(ctx, user, session_id, classic=False)
    source, signal = ctx.attacker_client()
    t = rng.randint(100, 900)
    session.policy_evaluation(t, source, signal)
    t += rng.randint(800, 3000)
    session.password(t, source, signal)
    for _ in range(rng.randint(2, 4)):
        factor = rng.choice(OTHER_FACTORS)
        t += rng.randint(4_000, 45_000)
        if factor.upper() == "SMS":
            session.sms_sent(t, source, signal)
            t += rng.randint(5_000, 30_000)
        session.other_factor(t, source, signal, factor, success=False)
    facts = _Facts(source_ips={source.ip}, new_device=True, new_ip=True)
    return _Design(scenario.label, session_id, [user.login], session.steps, facts)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "mfa_fatigue",
        True,
        "attacker on a new device and IP sends 3-10 pushes >2 s apart; the phone ignores most, approves or denies one",
        Conversation("attacker", devices=(1, 1), pushes=(3, 10), answers=_fatigue_answers),
    ),
    Scenario(
        "push_denied_mismatch",
        True,
        "attacker on a new device and IP pushes once or twice; the user denies from the phone",
        Conversation("attacker", devices=(1, 1), pushes=(1, 2), answers=_denied_answers),
    ),
    Scenario(
        "fatigue_with_fanout",
        True,
        "push fatigue against a user with 2-3 devices: every push fans out inside one 2 s bucket",
        Conversation("attacker", devices=(2, 3), pushes=(3, 8), answers=_fatigue_answers),
    ),
    Scenario(
        "benign_approval",
        False,
        "user on a known laptop, one push approved from the phone (dc_ip 2, ratio 1.0)",
        Conversation("known_laptop", devices=(1, 1), pushes=(1, 1), answers=_approve_last),
    ),
    Scenario(
        "benign_new_laptop",
        False,
        "new laptop on a new network (New Device/New IP POSITIVE), one push approved",
        Conversation("new_laptop", devices=(1, 1), pushes=(1, 1), answers=_approve_last),
    ),
    Scenario(
        "benign_fanout",
        False,
        "new laptop, 3 devices: one push fans out to 3 events in one 2 s bucket, approved once (ratio 1.0 after collapse)",
        Conversation("new_laptop", devices=(3, 3), pushes=(1, 1), answers=_approve_last),
    ),
    Scenario(
        "benign_denial_same_network",
        False,
        "push denied (then maybe approved) with phone and laptop on the same network (dc_ip 1)",
        Conversation(
            "new_laptop", devices=(1, 1), pushes=(1, 2), answers=_deny_then_approve, same_network=True
        ),
    ),
    Scenario(
        "benign_retry",
        False,
        "new laptop, first push times out, second approved: ratio 0.5 is not < 0.5",
        Conversation(
            "new_laptop", devices=(1, 1), pushes=(2, 2), answers=_approve_last, gap_seconds=(62, 180)
        ),
    ),
    Scenario(
        "null_session",
        False,
        "OKTA_VERIFY_PUSH denials of several users with a null session id (group NULL): no pushes, no alert",
        build=_build_null_session,
    ),
    Scenario(
        "other_factor",
        False,
        "attacker-like session whose MFA denials are OKTA_VERIFY (TOTP) / SMS / sms, no pushes",
        build=_build_other_factor,
    ),
)
SCENARIOS += PACK_SCENARIOS + APP_SCENARIOS
SCENARIOS_BY_LABEL = {s.label: s for s in SCENARIOS}
FAMILIES = tuple(dict.fromkeys(s.family for s in SCENARIOS))
LABELS = tuple(s.label for s in SCENARIOS)
ATTACK_LABELS = tuple(s.label for s in SCENARIOS if s.expected_alert)
BENIGN_LABELS = tuple(s.label for s in SCENARIOS if s.family == "push" and not s.expected_alert)
# benign_denial_same_network sometimes takes the case-swapped session id of a benign_new_laptop in the same
# hour: merged case-insensitively the two would alert (rejection + new device/IP + 2 IPs), apart they must not.
_TWIN_PAIR = ("benign_new_laptop", "benign_denial_same_network")


def _build_design(ctx: _ScenarioContext, label: str, twin_of: str | None = None) -> _Design:
    scenario = SCENARIOS_BY_LABEL[label]
    if scenario.build is not None:
        design = scenario.build(ctx, scenario)
    else:
        design = _build_conversation(ctx, scenario, session_id=_case_twin(twin_of) if twin_of else None)
        design.case_twin_of = twin_of
    _check_design(scenario, design)
    return design


def _check_design(scenario: Scenario, design: _Design) -> None:
    """A scenario's declared outcome must follow from what it was built with (guards the scenario tables)."""
    by_design = design.facts.pushes > 0 and alert_condition(design.facts.metrics())
    if by_design != scenario.expected_alert:
        raise AssertionError(
            f"scenario {scenario.label} built a session that contradicts its expected outcome: {design.facts}"
        )
    if design.align_ms != HOUR and design.steps[-1].offset_ms >= WINDOW_MS - BUCKET_MS:
        raise AssertionError(f"scenario {scenario.label} does not fit in one window")
