"""Shared builders for the tests of temporal_ordered, value_percentile, value_median and sliding
windows: two base rules over failed MFA pushes and session starts, and events of one user at given
seconds past 2026-01-01T00:00:00Z."""

from __future__ import annotations

import textwrap
from pathlib import Path

from sigma.pipelines.okta.loader import RulePack, load_rules

PUSH = "user.authentication.auth_via_mfa"
START = "user.session.start"

BASE_RULES = """
title: Failed push
id: 5a0c1d2e-3a4b-4c5d-8e6f-708192a3b401
name: push_denied
status: test
logsource: {product: okta, service: okta}
detection:
  selection:
    eventType: user.authentication.auth_via_mfa
    outcome.result: FAILURE
  condition: selection
level: informational
---
title: Session start
id: 5a0c1d2e-3a4b-4c5d-8e6f-708192a3b402
name: session_start
status: test
logsource: {product: okta, service: okta}
detection:
  selection:
    eventType: user.session.start
  condition: selection
level: informational
"""


def correlation_pack(folder: Path, correlation: str) -> RulePack:
    """The two base rules and one correlation document (YAML, written without its ``---``)."""
    path = folder / "rules.yml"
    path.write_text(BASE_RULES + "---\n" + textwrap.dedent(correlation))
    return load_rules([path])


def event(index: int, seconds: float, event_type: str = PUSH, user: str = "a", step=None) -> dict:
    whole, fraction = divmod(seconds, 1)
    microseconds = round(fraction * 1_000_000)
    minutes, second = divmod(int(whole), 60)
    hours, minute = divmod(minutes, 60)
    context = {"externalSessionId": f"s-{user}"}
    if step is not None:
        context["authenticationStep"] = step
    return {
        "uuid": f"e{index}",
        "published": f"2026-01-01T{hours:02d}:{minute:02d}:{second:02d}.{microseconds:06d}Z",
        "eventType": event_type,
        "outcome": {"result": "FAILURE"},
        "actor": {"alternateId": user},
        "authenticationContext": context,
    }
