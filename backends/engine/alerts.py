"""Alerts and where they go: one JSON object per line, or a readable text rendering."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from .timestamps import format_time


@dataclass
class CorrelationAlert:
    """A group of events in one window for which a correlation's condition holds."""

    rule_id: str | None
    rule_title: str
    level: str | None
    group: dict[str, str]
    window_start_us: int
    window_end_us: int
    first_seen_us: int
    metrics: dict[str, Any]
    fields: dict[str, list[str]]
    event_ids: list[str]
    risk: dict[str, Any] | None = None
    order: tuple = field(default=(), compare=False, repr=False)
    condition: bool = True  # False only for groups reported with EngineOptions.every_group

    def to_dict(self) -> dict[str, Any]:
        alert = {
            "alert_id": alert_id(self),
            "rule_id": self.rule_id,
            "rule_title": self.rule_title,
            "level": self.level,
            "group": self.group,
            "window": {"start": format_time(self.window_start_us), "end": format_time(self.window_end_us)},
            "first_seen": format_time(self.first_seen_us),
            "metrics": self.metrics,
            "fields": self.fields,
            "event_ids": self.event_ids,
        }
        if self.risk is not None:
            alert["risk"] = self.risk
        if not self.condition:
            alert["condition"] = False
        return alert


@dataclass
class MatchAlert:
    """An event that matched a Sigma rule which produces alerts of its own."""

    rule_id: str | None
    rule_title: str
    level: str | None
    time_us: int | None
    event_id: str | None
    fields: dict[str, Any]
    event: dict[str, Any]
    risk: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        alert = {
            "alert_id": alert_id(self),
            "rule_id": self.rule_id,
            "rule_title": self.rule_title,
            "level": self.level,
            "time": None if self.time_us is None else format_time(self.time_us),
            "event_id": self.event_id,
            "fields": self.fields,
            "event": self.event,
        }
        if self.risk is not None:
            alert["risk"] = self.risk
        return alert


def risk_record(risk: dict[str, Any], fields: dict[str, Any], group: dict[str, Any] | None = None) -> dict:
    """A rule's ``risk`` (object, type, score) with the risk ``objects`` of one alert: the values of the
    output field it names (a correlation's list, or a single event's value), or of that group-by field
    (a standard correlation, whose outputs are its group-by fields)."""
    name = risk.get("object")
    value = fields.get(name)
    if value is None and group is not None:
        value = group.get(name)
    objects = [] if value is None else value if isinstance(value, list) else [value]
    return {**risk, "objects": objects}


Alert = CorrelationAlert | MatchAlert


# --- alerts shipped between processes -------------------------------------------------------------
#
# A worker process sends each alert as its JSON line and its fields, both orjson bytes, with the few
# attributes every alert is asked for (rule, condition, risk). Unpickling alert objects and serialising
# them again in the parent cost ~20 µs an alert, serially; this costs the parent ~1 µs, and the JSON
# sink writes the line as it came. Anything else read of a shipped alert rebuilds its fields first.

Shipped = tuple  # (is a correlation alert, JSON line, fields, rule title, rule id, condition, risk)


def ship(alert: Alert) -> Shipped | Alert:
    """What a worker sends for ``alert``; the alert itself when orjson cannot serialise it (an integer
    beyond 64 bits in a metric), which then travels pickled."""
    try:
        line = orjson.dumps(alert.to_dict())
        fields = orjson.dumps(alert)  # a dataclass: orjson serialises its fields
    except TypeError:
        return alert
    correlation = type(alert) is CorrelationAlert
    condition = alert.condition if correlation else True
    return (correlation, line, fields, alert.rule_title, alert.rule_id, condition, alert.risk)


def unship(shipped: Shipped | Alert) -> Alert:
    """The alert a worker sent with :func:`ship`: a :class:`CorrelationAlert` or :class:`MatchAlert`
    whose other fields are decoded when first read."""
    if not isinstance(shipped, tuple):
        return shipped
    correlation, line, fields, rule_title, rule_id, condition, risk = shipped
    alert = object.__new__(ShippedCorrelationAlert if correlation else ShippedMatchAlert)
    alert.__dict__.update(
        json_line=line, _fields=fields, rule_title=rule_title, rule_id=rule_id, condition=condition, risk=risk
    )
    return alert


class _Shipped:
    """The lazy half of a shipped alert: its JSON line is ready, its other fields are decoded on demand."""

    json_line: bytes

    def __getattr__(self, name: str) -> Any:  # called only for attributes not set yet
        fields = self.__dict__.pop("_fields", None) if not name.startswith("__") else None
        if fields is None:
            raise AttributeError(name)
        decoded = orjson.loads(fields)
        if "order" in decoded:
            decoded["order"] = tuple(decoded["order"])  # only its type: shipped alerts are sorted by key
        known = self.__dict__
        known.update({key: value for key, value in decoded.items() if key not in known})
        return getattr(self, name)

    def to_dict(self) -> dict[str, Any]:
        return orjson.loads(self.json_line)


class ShippedCorrelationAlert(_Shipped, CorrelationAlert):
    """A correlation alert that a worker process computed (see :func:`unship`)."""


class ShippedMatchAlert(_Shipped, MatchAlert):
    """A rule match that a worker process found (see :func:`unship`)."""


#: the namespace of alert ids (UUIDv5): fixed, so every engine and every run names an alert the same way
ALERT_NAMESPACE = uuid.UUID("5b0c3f0e-8d7a-5e59-9a3e-0f6b2c7d4a10")


def alert_id(alert: Alert) -> str:
    """A deterministic id (UUIDv5): a correlation alert's rule, window start and group values; a match
    alert's rule and event id (the event's time and content when it has no id). The same alert gets the
    same id in `run`, in `watch` and after a restart, which is what lets `watch` deliver it once."""
    rule = alert.rule_id or alert.rule_title
    if isinstance(alert, CorrelationAlert):
        name = orjson.dumps(["correlation", rule, alert.window_start_us, list(alert.group.items())])
    elif alert.event_id is not None:
        name = orjson.dumps(["match", rule, alert.event_id])
    else:
        name = orjson.dumps(["match", rule, alert.time_us, alert.event], option=orjson.OPT_SORT_KEYS)
    return str(uuid.uuid5(ALERT_NAMESPACE, name.decode()))


# One row per alert (CSV, tables): a correlation alert's time is its window's start, a match's the event's.
ALERT_COLUMNS = ("time", "level", "rule_title", "group", "metrics", "event_id", "rule_id")


def alert_row(alert: Alert) -> dict[str, str]:
    """An alert as flat text cells (see :data:`ALERT_COLUMNS`): ``group`` its values, ``metrics`` k=v."""
    data = alert.to_dict()
    row = {
        "level": data["level"] or "",
        "rule_title": data["rule_title"],
        "rule_id": data["rule_id"] or "",
    }
    if isinstance(alert, CorrelationAlert):
        row["time"] = data["window"]["start"]
        row["group"] = ", ".join(str(value) for value in alert.group.values())  # the names: in the rule
        metrics = ", ".join(f"{name}={_short(value)}" for name, value in alert.metrics.items())
        row["metrics"] = metrics if alert.condition else f"(condition false) {metrics}"
        row["event_id"] = ""
    else:
        row["time"] = data["time"] or ""
        row["group"] = row["metrics"] = ""
        row["event_id"] = alert.event_id or ""
    return row


class JsonLinesSink:
    """Writes each alert as one JSON object on its own line."""

    def __init__(self, stream: IO[bytes]):
        self.stream = stream
        self.count = 0

    def write(self, alert: Alert) -> None:
        line = alert.__dict__.get("json_line")  # a shipped alert's line, serialised by its worker
        if line is not None:
            self.stream.write(line + b"\n")
        else:
            self.stream.write(orjson.dumps(alert.to_dict(), option=orjson.OPT_APPEND_NEWLINE))
        self.count += 1

    def close(self) -> None:
        self.stream.flush()


class TextSink:
    """A readable rendering for people at a terminal (``make demo``). Groups reported with
    ``--every-group`` whose condition is false are shown as such, and not numbered or counted as alerts."""

    def __init__(self, stream: IO[bytes]):
        self.stream = stream
        self.count = 0
        self.not_firing = 0

    def write(self, alert: Alert) -> None:
        if isinstance(alert, CorrelationAlert) and not alert.condition:
            self.not_firing += 1
            number = None
        else:
            self.count += 1
            number = self.count
        self.stream.write((render_text(alert, number) + "\n").encode())

    def close(self) -> None:
        noun = "alert" if self.count == 1 else "alerts"
        text = f"{self.count} {noun}"
        if self.not_firing:
            text += (
                f" ({self.not_firing} more {'group' if self.not_firing == 1 else 'groups'}: condition false)"
            )
        self.stream.write(f"{text}\n".encode())
        self.stream.flush()


def render_text(alert: Alert, number: int | None) -> str:
    """An alert as a few readable lines; ``number`` None for a group whose condition is false."""
    data = alert.to_dict()
    heading = f"#{number}" if number is not None else "(condition false)"
    lines = [f"{heading} [{data['level']}] {data['rule_title']}"]
    if isinstance(alert, CorrelationAlert):
        group = ", ".join(f"{name}={value}" for name, value in alert.group.items()) or "(all events)"
        lines.append(f"    group   {group}")
        lines.append(
            f"    window  {data['window']['start']} .. {data['window']['end']}  first seen {data['first_seen']}"
        )
        lines.append(
            "    metrics " + ", ".join(f"{name}={_short(value)}" for name, value in alert.metrics.items())
        )
        for name, values in alert.fields.items():
            lines.append(f"    {name:<7} {', '.join(values) if values else '-'}")
        lines.append(f"    events  {len(alert.event_ids)}")
    else:
        lines.append(f"    time    {data['time']}  event {alert.event_id}")
        for name, value in alert.fields.items():
            lines.append(f"    {name} = {_short(value)}")
    return "\n".join(lines)


def _short(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
