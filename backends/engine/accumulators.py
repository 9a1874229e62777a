"""Mergeable metric accumulators: one per metric and group, each with ``add``, ``merge`` and ``result``.

Because every accumulator merges exactly (counts add, sets unite, minima take the minimum), workers
that read different byte ranges of a file produce partial states whose merge equals a single pass,
and a SQL ``GROUP BY`` computes the same algebra.
"""

from __future__ import annotations

from typing import Any

from sigma.pipelines.okta.model import MetricKind
from sigma.pipelines.okta.semantics import as_number, divide, finite, text_of


class Count:
    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0

    def add(self, value: Any, time_us: int) -> None:
        self.n += 1

    def merge(self, other: Count) -> None:
        self.n += other.n

    def result(self) -> int:
        return self.n


class TextSet:
    """Distinct non-null texts: ``distinct`` reports how many, ``values`` the sorted texts."""

    __slots__ = ("texts",)

    def __init__(self) -> None:
        self.texts: set[str] = set()

    def add(self, value: Any, time_us: int) -> None:
        text = value if value.__class__ is str else text_of(value)
        if text is not None:
            self.texts.add(text)

    def merge(self, other: TextSet) -> None:
        self.texts |= other.texts


class Distinct(TextSet):
    __slots__ = ()

    def result(self) -> int:
        return len(self.texts)


class Values(TextSet):
    __slots__ = ()

    def result(self) -> list[str]:
        return sorted(self.texts)


class Sum:
    __slots__ = ("total",)

    def __init__(self) -> None:
        self.total: int | float | None = None

    def add(self, value: Any, time_us: int) -> None:
        number = as_number(value)
        if number is not None:
            self.total = number if self.total is None else self.total + number

    def merge(self, other: Sum) -> None:
        if other.total is not None:
            self.total = other.total if self.total is None else self.total + other.total

    def result(self) -> int | float | None:
        return finite(self.total)  # finite numbers can sum beyond the double range


class Extreme:
    """Minimum or maximum of the numeric values."""

    __slots__ = ("best", "pick")

    def __init__(self, pick: Any) -> None:
        self.best: int | float | None = None
        self.pick = pick

    def add(self, value: Any, time_us: int) -> None:
        number = as_number(value)
        if number is not None:
            self.best = number if self.best is None else self.pick(self.best, number)

    def merge(self, other: Extreme) -> None:
        if other.best is not None:
            self.best = other.best if self.best is None else self.pick(self.best, other.best)

    def result(self) -> int | float | None:
        return self.best


class Average:
    __slots__ = ("n", "total")

    def __init__(self) -> None:
        self.total: int | float = 0
        self.n = 0

    def add(self, value: Any, time_us: int) -> None:
        number = as_number(value)
        if number is not None:
            self.total += number
            self.n += 1

    def merge(self, other: Average) -> None:
        self.total += other.total
        self.n += other.n

    def result(self) -> float | None:
        return divide(self.total, self.n)


class Seen:
    """Earliest or latest event time (epoch microseconds)."""

    __slots__ = ("pick", "time_us")

    def __init__(self, pick: Any) -> None:
        self.time_us: int | None = None
        self.pick = pick

    def add(self, value: Any, time_us: int) -> None:
        self.time_us = time_us if self.time_us is None else self.pick(self.time_us, time_us)

    def merge(self, other: Seen) -> None:
        if other.time_us is not None:
            self.add(None, other.time_us)

    def result(self) -> int | None:
        return self.time_us


def new_accumulator(kind: MetricKind) -> Any:
    match kind:
        case MetricKind.COUNT:
            return Count()
        case MetricKind.DISTINCT:
            return Distinct()
        case MetricKind.VALUES:
            return Values()
        case MetricKind.SUM:
            return Sum()
        case MetricKind.MIN:
            return Extreme(min)
        case MetricKind.MAX:
            return Extreme(max)
        case MetricKind.AVG:
            return Average()
        case MetricKind.FIRST_SEEN:
            return Seen(min)
        case MetricKind.LAST_SEEN:
            return Seen(max)
    raise ValueError(kind)
