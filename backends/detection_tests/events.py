"""The events of a test: partial LogEvents completed from a realistic template, event files, and
generated scenarios, all written to one NDJSON file that every engine reads.

A test writes only the fields that matter. The rest comes from :data:`LOGEVENT_TEMPLATE`, a benign
Okta Identity Engine sign-in event with every top-level part of a System Log ``LogEvent``; then the
file's named template (``like:``), then the event as written. Mappings merge key by key; anything else
(strings, numbers, lists, ``null``) replaces. ``at: 90s`` sets ``published`` that long after the test's
start. Each event gets a ``uuid`` derived from the file, the test and its position, unless it sets one.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import uuid as uuids
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from sigma.pipelines.okta.errors import RulePackError

from ..engine.timestamps import format_time
from .model import DetectionTest, EventFile, GeneratedEvents, InlineEvent
from .parser import TestConfigError

LOGEVENT_TEMPLATE: dict[str, Any] = {
    "actor": {
        "id": "00u1a2b3c4d5e6f7g8h9",
        "type": "User",
        "alternateId": "ann.lee@example.com",
        "displayName": "Ann Lee",
        "detailEntry": None,
    },
    "client": {
        "userAgent": {
            "rawUserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.4 Safari/605.1.15",
            "os": "Mac OS X",
            "browser": "SAFARI",
        },
        "zone": "null",
        "device": "Computer",
        "id": None,
        "ipAddress": "192.0.2.10",
        "geographicalContext": {
            "city": "Lisbon",
            "state": "Lisbon",
            "country": "Portugal",
            "postalCode": "1000-001",
            "geolocation": {"lat": 38.7223, "lon": -9.1393},
        },
    },
    "device": None,
    "authenticationContext": {
        "authenticationProvider": None,
        "credentialProvider": None,
        "credentialType": None,
        "issuer": None,
        "interface": None,
        "authenticationStep": 0,
        "rootSessionId": "idxTestRootSession0000000000",
        "externalSessionId": "idxTestSession000000000000",
    },
    "displayMessage": "User login to Okta",
    "eventType": "user.session.start",
    "outcome": {"result": "SUCCESS", "reason": None},
    "published": "2026-03-10T14:00:00.000Z",
    "securityContext": {
        "asNumber": 64496,
        "asOrg": "example isp",
        "isp": "example isp",
        "domain": "example.net",
        "isProxy": False,
    },
    "severity": "INFO",
    "debugContext": {
        "debugData": {
            "requestId": "aBcDeFgHiJkLmNoPqRsTuVwXyZ",
            "requestUri": "/idp/idx/authenticators/poll",
            "url": "/idp/idx/authenticators/poll?",
        }
    },
    "legacyEventType": None,
    "transaction": {"type": "WEB", "id": "aBcDeFgHiJkLmNoPqRsTuVwXyZ", "detail": {}},
    "uuid": None,
    "version": "0",
    "request": {
        "ipChain": [
            {
                "ip": "192.0.2.10",
                "geographicalContext": {"city": "Lisbon", "state": "Lisbon", "country": "Portugal"},
                "version": "V4",
                "source": None,
            }
        ]
    },
    "target": [],
}


@dataclass
class TestEvents:
    """A test's events in one NDJSON file, and how expectations find inline events."""

    __test__ = False  # not a pytest class

    path: Path
    count: int
    by_name: dict[str, str] = field(default_factory=dict)  # event name or 1-based position -> uuid
    expected_alerts: set[tuple[int, str]] | None = None  # generated events: (window start, session)


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``: mappings merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def complete(
    event: InlineEvent, test: DetectionTest, templates: dict[str, dict], salt: str, copy_number: int = 0
) -> dict[str, Any]:
    """The LogEvent of an inline event (its ``copy_number``-th copy when it repeats)."""
    completed = merge(LOGEVENT_TEMPLATE, templates[event.like]) if event.like else dict(LOGEVENT_TEMPLATE)
    completed = merge(completed, _plain(event.data))
    if event.at is not None:
        seconds = event.at + copy_number * event.every
        completed["published"] = format_time(test.start + round(seconds * 1_000_000))
    if completed.get("uuid") is None:
        completed["uuid"] = str(uuids.UUID(bytes=hashlib.sha256(salt.encode()).digest()[:16], version=4))
    return completed


def write_test_events(
    test: DetectionTest, templates: dict[str, dict], test_file: Path, folder: Path
) -> TestEvents:
    """Write every event of ``test`` to one NDJSON file in ``folder``."""
    path = folder / "events.jsonl"
    found = TestEvents(path, 0)
    position = 0
    with path.open("wb") as out:
        for source in test.events:
            if isinstance(source, InlineEvent):
                position += 1
                for copy_number in range(source.repeat):
                    salt = f"{test_file}\0{test.name}\0{position}\0{copy_number}"
                    event = complete(source, test, templates, salt, copy_number)
                    if copy_number == 0:
                        found.by_name[str(position)] = event["uuid"]
                        if source.name is not None:
                            found.by_name[source.name] = event["uuid"]
                    out.write(orjson.dumps(event) + b"\n")
                    found.count += 1
            elif isinstance(source, EventFile):
                for line in _file_lines(source, test):
                    out.write(line + b"\n")
                    found.count += 1
            else:
                lines, expected = _generated(source)
                for line in lines:
                    out.write(line + b"\n")
                    found.count += 1
                found.expected_alerts = (found.expected_alerts or set()) | expected
    return found


def _file_lines(source: EventFile, test: DetectionTest) -> list[bytes]:
    """Each event of the file as one JSON line. Engines differ in what they accept as input beyond
    NDJSON (``run --engine duckdb`` reads NDJSON only), so the test hands every engine the same lines; a
    line that is not a JSON object is a configuration error rather than a silent difference."""
    try:
        return [orjson.dumps(event) for event in read_events(source.path)]
    except ValueError as error:
        raise RulePackError(
            [TestConfigError(f"{source.path}: {error}", source=source.location, rule=test.name)]
        ) from error


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events of an NDJSON file, a ``.gz`` of one, or a JSON array; ValueError names a bad line."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    text = raw.removeprefix(b"\xef\xbb\xbf").strip()
    if text.startswith(b"["):
        try:
            events = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise ValueError(f"not a JSON array of events: {error}") from error
    else:
        events = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    events.append(orjson.loads(line))
                except orjson.JSONDecodeError as error:
                    raise ValueError(f"line {number} is not JSON: {error}") from error
    for number, event in enumerate(events, 1):
        if not isinstance(event, dict):
            raise ValueError(f"event {number} is not a JSON object")
    return events


def _generated(source: GeneratedEvents) -> tuple[list[bytes], set[tuple[int, str]]]:
    from ..engine.timestamps import parse_time
    from ..generator import GeneratorConfig, generate_events

    config = GeneratorConfig(
        seed=source.seed,
        scenarios=source.scenarios,
        sessions_per_label=source.sessions,
        background_events=source.background,
    )
    events, truth = generate_events(config)
    expected = {(parse_time(window), session) for window, session in truth.expected_alerts}
    return [orjson.dumps(event) for event in events], expected


def _plain(value: Any) -> Any:
    """YAML's dates and times as the text Okta writes (YAML reads an unquoted ISO time as a datetime)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if hasattr(value, "isoformat") and not isinstance(value, str):
        from ..engine.timestamps import parse_time

        return format_time(parse_time(value.isoformat()))
    return value
