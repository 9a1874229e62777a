"""Mergeable metric accumulators: one per metric and group, each with ``add``, ``merge`` and ``result``.

Because every accumulator merges exactly (counts add, sets unite, minima take the minimum), workers
that read different byte ranges of a file produce partial states whose merge equals a single pass,
and a SQL ``GROUP BY`` computes the same algebra.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from sigma.pipelines.okta.model import Metric, MetricKind
from sigma.pipelines.okta.semantics import as_number, divide, finite, interpolated_percentile, text_of


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


class Percentile:
    """A percentile needs every value (an exact one has no smaller summary): the numbers as doubles,
    merged by concatenation, ranked at the end (:func:`~sigma.pipelines.okta.semantics.interpolated_percentile`)."""

    __slots__ = ("numbers", "percentile")

    def __init__(self, percentile: float) -> None:
        self.numbers: list[float] = []
        self.percentile = percentile

    def add(self, value: Any, time_us: int) -> None:
        number = as_number(value)
        if number is not None:
            self.numbers.append(float(number))

    def merge(self, other: Percentile) -> None:
        self.numbers.extend(other.numbers)

    def result(self) -> float | None:
        return interpolated_percentile(self.numbers, self.percentile)


class InOrder:
    """How many of the referenced rules, from the first, occur in their listed order, each event
    strictly later than the previous one (equal times are not an order). ``add`` takes the event's rule
    mask as its value. State: each rule's event times, merged by concatenation; the answer is the greedy
    earliest-first match (rule 0's earliest time, then rule 1's earliest strictly later, ...), which
    finds an ordered subsequence whenever one exists, so it is exact for any merge order."""

    __slots__ = ("times",)

    def __init__(self, rules: int) -> None:
        self.times: list[list[int]] = [[] for _ in range(rules)]

    def add(self, mask: int, time_us: int) -> None:
        for index, times in enumerate(self.times):
            if mask >> index & 1:
                times.append(time_us)

    def merge(self, other: InOrder) -> None:
        for mine, theirs in zip(self.times, other.times, strict=True):
            mine.extend(theirs)

    def result(self) -> int:
        matched, after = 0, None
        for times in self.times:
            times.sort()
            position = 0 if after is None else bisect_right(times, after)
            if position == len(times):
                break
            after = times[position]
            matched += 1
        return matched


def accumulator_for(metric: Metric, rules: int) -> Any:
    """The accumulator of a metric of a correlation over ``rules`` referenced rules."""
    if metric.kind is MetricKind.PERCENTILE:
        return Percentile(metric.percentile)
    if metric.kind is MetricKind.IN_ORDER:
        return InOrder(rules)
    return new_accumulator(metric.kind)


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
