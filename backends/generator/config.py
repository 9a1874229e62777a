"""What to generate: :class:`GeneratorConfig`, and the parsers of its size and duration options."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .values import _iso_seconds

_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3}
_SIZE_UNITS |= {"kib": 1024, "mib": 1024**2, "gib": 1024**3}
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_size(text: str | int) -> int:
    """Parse a byte size such as ``2GB``, ``500MB``, ``3MiB`` or ``1048576`` (decimal units: 1 GB = 10⁹ B)."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
    unit = match and match.group(2).lower()
    if not match or unit not in _SIZE_UNITS:
        raise ValueError(f"not a size: {text!r} (examples: 2GB, 500MB, 3MiB, 1048576)")
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def parse_duration(text: str | timedelta) -> timedelta:
    """Parse a duration such as ``24h``, ``90m``, ``2d`` or ``3600s``."""
    if isinstance(text, timedelta):
        return text
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([smhd])\s*", text.lower())
    if not match:
        raise ValueError(f"not a duration: {text!r} (examples: 24h, 90m, 2d)")
    return timedelta(seconds=float(match.group(1)) * _DURATION_UNITS[match.group(2)])


def _parse_start(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass
class GeneratorConfig:
    """What to generate. ``start`` must be on a whole UTC hour and ``duration`` a whole number of hours.

    - ``sessions_per_label``: scenario sessions of each label in an unsized run. A sized run
      (``target_bytes``) ignores it and adds scenario sessions, label by label, to keep ``push_share``.
    - ``background_events``: background (non push/response) events of an unsized run; ``None`` derives the
      number from ``push_share``. Ignored in sized runs.
    - ``target_bytes``: stop starting sessions once this many bytes of NDJSON have been produced (the
      sessions in flight still finish, so the output is a little larger). Density is chosen so that the size
      is reached near the end of ``duration``; if it is not, further hours follow.
    - ``push_share``: share of push/response events (the rule's input) among all events.
    - ``only_push``: emit only events of the rule's two event types (push sends and ``auth_via_mfa``, the
      latter of any factor), no background: the same scenarios, a much smaller file.
    - ``escape_share``: share of lines serialised with ``\\uXXXX`` escapes for non-ASCII characters and for
      ``= < > & '`` (what Java's Gson emits by default).
    - ``shuffle``: emit out of time order (a shuffle buffer of 50 000 events), for tests of unordered input.
    - ``scenarios`` / ``families``: only these scenario labels / families (``push`` for the push-mismatch
      rule; ``mfa_burst``, ``spray``, ``lockout``, ``session_cookie``, ``cities``, ``changes`` and
      ``threats`` for the rest of the pack). ``only_push`` keeps the ``push`` family only.
    """

    seed: int = 7
    start: datetime | str = datetime(2026, 3, 10, tzinfo=UTC)
    duration: timedelta | str = timedelta(hours=24)
    sessions_per_label: int = 3
    background_events: int | None = None
    target_bytes: int | str | None = None
    push_share: float = 0.02
    only_push: bool = False
    escape_share: float = 0.05
    shuffle: bool = False
    scenarios: tuple[str, ...] | None = None  # only these labels (None: every scenario)
    families: tuple[str, ...] | None = None  # only scenarios of these families (None: every family)

    def __post_init__(self) -> None:
        self.start = _parse_start(self.start)
        self.duration = parse_duration(self.duration)
        if self.target_bytes is not None:
            self.target_bytes = parse_size(self.target_bytes)
        if self.start.minute or self.start.second or self.start.microsecond:
            raise ValueError(f"start must be on a whole UTC hour, got {self.start.isoformat()}")
        hours = self.duration / timedelta(hours=1)
        if hours < 1 or hours != int(hours):
            raise ValueError(f"duration must be a whole number of hours (>= 1), got {self.duration}")
        if not 0 < self.push_share <= 1:
            raise ValueError("push_share must be in (0, 1]")
        if not 0 <= self.escape_share <= 1:
            raise ValueError("escape_share must be in [0, 1]")
        if self.sessions_per_label < 0 or (self.background_events or 0) < 0:
            raise ValueError("sessions_per_label and background_events must not be negative")
        if self.target_bytes is not None and self.target_bytes <= 0:
            raise ValueError("target_bytes must be positive")
        if self.scenarios is not None:
            from .scenarios import LABELS  # scenarios sit above config in the package's import order

            self.scenarios = tuple(self.scenarios)
            unknown = [label for label in self.scenarios if label not in LABELS]
            if unknown or not self.scenarios:
                raise ValueError(
                    f"unknown scenario(s) {', '.join(unknown) or '(none given)'} (scenarios: {', '.join(LABELS)})"
                )

        if self.families is not None:
            from .scenarios import FAMILIES

            self.families = tuple(self.families)
            unknown = [family for family in self.families if family not in FAMILIES]
            if unknown or not self.families:
                raise ValueError(
                    f"unknown scenario famil{'ies' if len(unknown) > 1 else 'y'} "
                    f"{', '.join(unknown) or '(none given)'} (families: {', '.join(FAMILIES)})"
                )

    @property
    def labels(self) -> tuple[str, ...]:
        """The scenario labels to generate, in the table's order. Only push-mismatch scenarios with
        ``only_push``: the others hold no push events, so nothing of them would be kept."""
        from .scenarios import SCENARIOS

        return tuple(
            scenario.label
            for scenario in SCENARIOS
            if (self.scenarios is None or scenario.label in self.scenarios)
            and (self.families is None or scenario.family in self.families)
            and (not self.only_push or scenario.family == "push")
        )

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp()) * 1000

    @property
    def hours(self) -> int:
        return int(self.duration / timedelta(hours=1))

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["start"] = _iso_seconds(self.start_ms)
        values["duration"] = f"{self.hours}h"
        for name in ("scenarios", "families"):
            if values[name] is None:
                del values[name]  # unrestricted runs keep the ground-truth format they always had
            else:
                values[name] = list(values[name])
        return values
