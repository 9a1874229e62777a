"""What a scenario is (:class:`Scenario`) and what its builder returns (``_Design``): the steps of a
labelled session relative to its start, what it was built with, and what it means for each rule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .events import _Step
from .pack_truth import Intent
from .truth import _Facts

if TYPE_CHECKING:
    from .context import _ScenarioContext
    from .scenarios import Conversation


@dataclass(frozen=True)
class Scenario:
    """A labelled scenario. ``expected_alert`` is about the push-mismatch rule; what a scenario of another
    ``family`` means for the other rules its designs say with their ``intents``."""

    label: str
    expected_alert: bool
    summary: str
    conversation: Conversation | None = None
    build: Callable[[_ScenarioContext, Scenario], _Design] | None = None
    family: str = "push"


@dataclass
class _Design:
    """A scenario session before placement: steps relative to its start, plus what it was built with.

    ``align_ms``: the step offset ``anchor_ms`` must land on a multiple of ``align_ms`` (a window
    boundary: 5 minutes inside the hour, or the hour's end, across which the design then spans)."""

    label: str
    session_id: str | None
    users: list[str]
    steps: list[_Step]
    facts: _Facts
    case_twin_of: str | None = None
    intents: list[Intent] = field(default_factory=list)
    align_ms: int | None = None
    anchor_ms: int = 0
