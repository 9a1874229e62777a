"""Synthetic Okta System Log data with exact ground truth for the push-mismatch detection.

The generator writes realistic ``LogEvent`` NDJSON for the Splunk ESCU detection "Okta Mismatch Between
Source and Response for Verify Push Request" (rule id :data:`RULE_ID`, ATT&CK T1621) and a ground-truth
JSON that says which ``(window, session)`` pairs must alert. No third-party data is copied: every value
is produced here from small hand-written tables.

Public API
----------
- :class:`GeneratorConfig`: what to generate (seed, time range, scenario counts, size, mix, escaping).
- :func:`iter_events`: a deterministic stream of event dicts, in ``published`` order (unless ``shuffle``).
- :class:`EventStream`: the same stream, plus serialised lines and the ground truth once exhausted.
- :func:`write_dataset`: NDJSON (``.gz`` by suffix) + ground-truth JSON, returns a :class:`DatasetSummary`.

How the data is made
--------------------
Time is cut into epoch-aligned UTC hours (the rule's tumbling windows). Each hour gets a plan: labelled
scenario sessions (see :data:`SCENARIOS`) and a budget of background events. A session is a list of light
``_Step`` records (offset, event kind, client, ...); event dicts are only built when a step is emitted,
and a heap merges the active sessions into time order, so memory is O(active sessions), not O(events).
Every scenario session lies inside one hour window; its start is on an even second, so the 2-second
collapse buckets of its steps are known from the design.

Events share read-only sub-objects (``actor``, ``client``, ``securityContext``, ``request``, ``target``,
...) to keep generation fast: treat yielded events as immutable (copy before mutating).

Ground truth is derived from the scenario design (how many pushes, fan-out, answers, IPs and behaviors a
session was built with), not by evaluating events. Every push/response event of the output belongs to a
labelled scenario session, so the truth lists every rule group.
"""

from __future__ import annotations

import base64
import functools
import gzip
import heapq
import json
import random
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, NamedTuple

import orjson

__all__ = [
    "ATTACK_LABELS",
    "BENIGN_LABELS",
    "LABELS",
    "LOGEVENT_KEYS",
    "PUSH_EVENT_TYPE",
    "RESPONSE_EVENT_TYPE",
    "RESPONSE_FACTOR",
    "RULE_ID",
    "SCENARIOS",
    "DatasetSummary",
    "EventStream",
    "GeneratorConfig",
    "GroundTruth",
    "iter_events",
    "parse_duration",
    "parse_size",
    "write_dataset",
]

RULE_ID = "8085b79b-9b85-4e67-ad63-351c9e9a5e9a"
RULE_NAME = "Okta Mismatch Between Source and Response for Verify Push Request"
PUSH_EVENT_TYPE = "system.push.send_factor_verify_push"
RESPONSE_EVENT_TYPE = "user.authentication.auth_via_mfa"
RESPONSE_FACTOR = "OKTA_VERIFY_PUSH"
NULL_GROUP = "NULL"
WINDOW_MS = 3_600_000
BUCKET_MS = 2_000

LOGEVENT_KEYS = (
    "actor",
    "client",
    "device",
    "authenticationContext",
    "displayMessage",
    "eventType",
    "outcome",
    "published",
    "securityContext",
    "severity",
    "debugContext",
    "legacyEventType",
    "transaction",
    "uuid",
    "version",
    "request",
    "target",
)

# ---------------------------------------------------------------------------------------------------------
# Configuration and results
# ---------------------------------------------------------------------------------------------------------

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
        return values


@dataclass
class SessionTruth:
    """The ground truth of one labelled scenario session."""

    label: str
    expected_alert: bool
    session_id: str | None
    group: str
    user: str
    users: list[str]
    window_start: str
    first_published: str
    last_published: str
    design: dict[str, Any]
    case_twin_of: str | None = None


@dataclass
class GroundTruth:
    """Every scenario session, every rule group (window, session) with its metrics, and the alerts."""

    config: dict[str, Any]
    sessions: list[SessionTruth]
    groups: list[dict[str, Any]]

    @property
    def expected_alerts(self) -> list[tuple[str, str]]:
        """(window start, session id) of every session whose scenario must alert, sorted."""
        return sorted((s.window_start, s.group) for s in self.sessions if s.expected_alert)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule_id": RULE_ID,
            "rule_name": RULE_NAME,
            "semantics": {
                "window": "1h tumbling, epoch-aligned (UTC), by published",
                "group_by": "authenticationContext.externalSessionId (null -> 'NULL')",
                "collapse": "2 s epoch-aligned buckets over the ten by-fields (missing -> 'NULL')",
                "condition": "((ratio < 0.5 and total_pushes > 1) or total_rejected > 0) and dc_ip > 1 "
                "and suspect_device_from_source > 0 and suspect_ip_from_source > 0",
            },
            "generator": self.config,
            "labels": dict(sorted(Counter(s.label for s in self.sessions).items())),
            "expected_alerts": [list(pair) for pair in self.expected_alerts],
            "groups": self.groups,
            "sessions": [asdict(s) for s in self.sessions],
        }


@dataclass
class DatasetSummary:
    """What :func:`write_dataset` wrote, and how fast."""

    events_path: str
    truth_path: str | None
    events: int
    bytes: int
    rule_events: int
    push_share: float
    escaped_events: int
    sessions: dict[str, int]
    expected_alerts: int
    first_published: str | None
    last_published: str | None
    seconds: float
    mb_per_s: float = field(default=0.0)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------------------
# Reference tables: places, networks, agents, people, applications
# ---------------------------------------------------------------------------------------------------------


class City(NamedTuple):
    name: str
    state: str
    country: str
    postal: str
    lat: float
    lon: float
    cc: str


class Isp(NamedTuple):
    asn: int
    org: str
    name: str
    domain: str | None
    prefixes: tuple[str, ...]  # two leading octets ("73.15") or an IPv6 /32 ("2607:fb90")


class UserAgent(NamedTuple):
    raw: str
    os: str
    browser: str


class App(NamedTuple):
    name: str
    label: str
    sign_on: str  # SAML_2_0 | OPENID_CONNECT | WS_FEDERATION
    path: str


# fmt: off
HOME_CITIES = (
    City("New York", "New York", "United States", "10013", 40.7209, -74.0007, "US"),
    City("San Francisco", "California", "United States", "94107", 37.7697, -122.3933, "US"),
    City("Chicago", "Illinois", "United States", "60607", 41.8747, -87.6514, "US"),
    City("Austin", "Texas", "United States", "78701", 30.2711, -97.7437, "US"),
    City("Seattle", "Washington", "United States", "98121", 47.6154, -122.3456, "US"),
    City("Denver", "Colorado", "United States", "80202", 39.7525, -104.9995, "US"),
    City("Atlanta", "Georgia", "United States", "30303", 33.7537, -84.3863, "US"),
    City("Boston", "Massachusetts", "United States", "02110", 42.3572, -71.0514, "US"),
    City("Miami", "Florida", "United States", "33131", 25.7634, -80.1886, "US"),
    City("Toronto", "Ontario", "Canada", "M5H 2N2", 43.6511, -79.3832, "CA"),
    City("Montréal", "Quebec", "Canada", "H2Y 1C6", 45.5046, -73.5566, "CA"),
    City("London", "England", "United Kingdom", "EC2V 7HH", 51.5155, -0.0922, "GB"),
    City("Düsseldorf", "North Rhine-Westphalia", "Germany", "40213", 51.2254, 6.7763, "DE"),
    City("Berlin", "Land Berlin", "Germany", "10117", 52.5170, 13.3889, "DE"),
    City("Zürich", "Zurich", "Switzerland", "8001", 47.3717, 8.5423, "CH"),
    City("Kraków", "Lesser Poland", "Poland", "31-042", 50.0614, 19.9366, "PL"),
    City("Malmö", "Skåne County", "Sweden", "211 20", 55.6050, 13.0038, "SE"),
    City("Paris", "Île-de-France", "France", "75002", 48.8667, 2.3333, "FR"),
    City("São Paulo", "São Paulo", "Brazil", "01310-100", -23.5614, -46.6559, "BR"),
    City("Ciudad de México", "Ciudad de México", "Mexico", "06600", 19.4270, -99.1676, "MX"),
    City("Bogotá", "Bogota D.C.", "Colombia", "110111", 4.6097, -74.0817, "CO"),
    City("Bengaluru", "Karnataka", "India", "560001", 12.9716, 77.5946, "IN"),
    City("Tokyo", "Tokyo", "Japan", "100-0005", 35.6812, 139.7671, "JP"),
    City("Sydney", "New South Wales", "Australia", "2000", -33.8688, 151.2093, "AU"),
)
# Where the workforce lives: weights aligned with HOME_CITIES.
HOME_CITY_WEIGHTS = (9, 7, 6, 5, 5, 3, 3, 4, 3, 3, 2, 6, 2, 3, 2, 2, 1, 3, 3, 2, 1, 3, 2, 2)

RESIDENTIAL_ISPS = {
    "US": (
        Isp(7922, "comcast cable communications, llc", "comcast cable", "comcast.net", ("73.15", "98.207", "24.60")),
        Isp(20115, "charter communications inc", "charter communications", "spectrum.com", ("71.84", "97.94")),
        Isp(7018, "at&t services, inc.", "at&t internet services", "att.net", ("99.108", "107.194")),
    ),
    "CA": (Isp(577, "bell canada", "bell canada", "bell.ca", ("70.49", "184.144")),),
    "GB": (Isp(2856, "british telecommunications plc", "bt", "bt.com", ("86.150", "81.152")),),
    "DE": (Isp(3320, "deutsche telekom ag", "deutsche telekom ag", "telekom.de", ("93.211", "79.201")),),
    "CH": (Isp(3303, "swisscom (schweiz) ag", "swisscom", "swisscom.ch", ("178.197", "85.5")),),
    "PL": (Isp(5617, "orange polska spolka akcyjna", "orange polska", "orange.pl", ("83.24", "89.72")),),
    "SE": (Isp(3301, "telia company ab", "telia sverige", "telia.se", ("81.227", "90.224")),),
    "FR": (Isp(3215, "orange s.a.", "orange", "orange.fr", ("90.84", "86.246")),),
    "BR": (Isp(18881, "telefônica brasil s.a", "vivo", "vivo.com.br", ("177.33", "187.57")),),
    "MX": (Isp(8151, "uninet s.a. de c.v.", "telmex", "telmex.com", ("189.203", "187.190")),),
    "CO": (Isp(10620, "telmex colombia s.a.", "claro colombia", "claro.com.co", ("181.49", "186.84")),),
    "IN": (Isp(24560, "bharti airtel ltd.", "airtel broadband", "airtel.in", ("122.171", "182.73")),),
    "JP": (Isp(2516, "kddi corporation", "kddi", "kddi.com", ("106.133", "111.104")),),
    "AU": (Isp(1221, "telstra corporation ltd", "telstra internet", "telstra.com.au", ("120.148", "101.160")),),
}
MOBILE_ISPS = {
    "US": (
        Isp(22394, "verizon business", "verizon wireless", "verizonwireless.com", ("174.205", "97.140")),
        Isp(21928, "t-mobile usa, inc.", "t-mobile usa, inc.", "t-mobile.com", ("172.58", "2607:fb90")),
    ),
    "CA": (Isp(812, "rogers communications canada inc.", "rogers wireless", "rogers.com", ("72.143", "2607:f2c0")),),
    "GB": (Isp(25135, "vodafone limited", "vodafone uk", "vodafone.co.uk", ("85.255", "92.40")),),
    "DE": (Isp(3209, "vodafone gmbh", "vodafone germany", "vodafone.de", ("94.134", "2a02:3032")),),
    "CH": (Isp(15796, "sunrise gmbh", "sunrise", "sunrise.ch", ("212.4", "85.0")),),
    "PL": (Isp(12912, "t-mobile polska s.a.", "t-mobile polska", "t-mobile.pl", ("31.60", "37.248")),),
    "SE": (Isp(1257, "tele2 sverige ab", "tele2", "tele2.se", ("90.129", "2.70")),),
    "FR": (Isp(51207, "free mobile sas", "free mobile", "free.fr", ("37.170", "2a04:cec0")),),
    "BR": (Isp(26615, "tim s/a", "tim celular", "tim.com.br", ("177.79", "191.246")),),
    "MX": (Isp(28403, "radiomovil dipsa, s.a. de c.v.", "telcel", "telcel.com", ("189.217", "201.144")),),
    "CO": (Isp(27831, "colombia movil", "tigo", "tigo.com.co", ("191.95", "181.56")),),
    "IN": (Isp(55836, "reliance jio infocomm limited", "jio", "jio.com", ("49.36", "2409:40c2")),),
    "JP": (Isp(9605, "ntt docomo, inc.", "ntt docomo", "docomo.ne.jp", ("1.75", "49.98")),),
    "AU": (Isp(133612, "vodafone australia pty ltd", "vodafone australia", "vodafone.com.au", ("1.136", "49.176")),),
}
OFFICE_ISPS = (
    Isp(6461, "zayo bandwidth", "zayo bandwidth", "zayo.com", ("64.125", "216.200")),
    Isp(3356, "level 3 parent, llc", "lumen", "lumen.com", ("4.14", "8.42")),
    Isp(174, "cogent communications", "cogent communications", "cogentco.com", ("38.104", "154.27")),
    Isp(8220, "colt technology services group limited", "colt", "colt.net", ("212.36", "213.86")),
)
# Where push-fatigue attackers sign in from: hosting providers, VPN exits and residential proxies.
ATTACKER_NETWORKS = (
    (City("Amsterdam", "North Holland", "Netherlands", "1012", 52.3759, 4.8975, "NL"),
     Isp(14061, "digitalocean, llc", "digitalocean, llc", "digitalocean.com", ("167.99", "164.92"))),
    (City("Bucharest", "Bucharest", "Romania", "010011", 44.4354, 26.1033, "RO"),
     Isp(9009, "m247 europe srl", "m247 ltd", "m247.com", ("89.46", "185.156"))),
    (City("Falkenstein", "Saxony", "Germany", "08223", 50.4779, 12.3713, "DE"),
     Isp(24940, "hetzner online gmbh", "hetzner online gmbh", "hetzner.com", ("95.216", "65.108"))),
    (City("Gravelines", "Hauts-de-France", "France", "59820", 50.9865, 2.1281, "FR"),
     Isp(16276, "ovh sas", "ovh sas", "ovhcloud.com", ("51.38", "141.95"))),
    (City("Los Angeles", "California", "United States", "90017", 34.0544, -118.2441, "US"),
     Isp(20473, "the constant company, llc", "vultr holdings llc", "vultr.com", ("45.77", "149.28"))),
    (City("Ashburn", "Virginia", "United States", "20147", 39.0438, -77.4874, "US"),
     Isp(16509, "amazon.com, inc.", "amazon technologies inc.", "amazon.com", ("3.88", "44.201"))),
    (City("Stockholm", "Stockholm", "Sweden", "111 20", 59.3326, 18.0649, "SE"),
     Isp(39351, "31173 services ab", "31173 services ab", "mullvad.net", ("185.65", "193.138"))),
    (City("Singapore", "Singapore", "Singapore", "018989", 1.2868, 103.8503, "SG"),
     Isp(14061, "digitalocean, llc", "digitalocean, llc", "digitalocean.com", ("128.199", "139.59"))),
    (City("Lagos", "Lagos", "Nigeria", "100001", 6.4550, 3.3941, "NG"),
     Isp(37148, "globacom limited", "globacom limited", "gloworld.com", ("197.210", "105.112"))),
)

_CHROME = "Mozilla/5.0 ({platform}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36"
_WINDOWS, _MAC, _LINUX = "Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 10_15_7", "X11; Linux x86_64"
DESKTOP_AGENTS = (  # (template, os, browser, weight)
    (_CHROME.replace("{platform}", _WINDOWS), "Windows 10", "CHROME", 30),
    (_CHROME.replace("{platform}", _WINDOWS) + " Edg/{v}.0.{b}.{p}", "Windows 10", "EDGE_CHROMIUM", 15),
    (_CHROME.replace("{platform}", _MAC), "Mac OS X", "CHROME", 25),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{s} Safari/605.1.15",
     "Mac OS X", "SAFARI", 15),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{f}.0) Gecko/20100101 Firefox/{f}.0", "Windows 10", "FIREFOX", 7),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:{f}.0) Gecko/20100101 Firefox/{f}.0", "Linux", "FIREFOX", 5),
    (_CHROME.replace("{platform}", _LINUX), "Linux", "CHROME", 3),
)
MOBILE_BROWSER_AGENTS = (
    ("Mozilla/5.0 (iPhone; CPU iPhone OS {ios_} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{s} "
     "Mobile/15E148 Safari/604.1", "iOS", "SAFARI"),
    ("Mozilla/5.0 (Linux; Android {android}; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile "
     "Safari/537.36", "Android", "CHROME"),
)
PHONE_MODELS = (  # Okta Verify devices: (model, os_platform, os versions, device category)
    ("iPhone15,2", "IOS", ("17.5.1", "17.6.1", "18.3.2"), "SmartPhone_IPhone"),
    ("iPhone15,3", "IOS", ("17.4.1", "18.2.1", "18.3.1"), "SmartPhone_IPhone"),
    ("iPhone16,1", "IOS", ("17.7", "18.3.2"), "SmartPhone_IPhone"),
    ("iPhone17,2", "IOS", ("18.2.1", "18.3.2"), "SmartPhone_IPhone"),
    ("iPad13,18", "IOS", ("17.6.1", "18.1"), "Tablet_IPad"),
    ("Pixel 8", "ANDROID", ("14", "15"), "SmartPhone_Android"),
    ("Pixel 7a", "ANDROID", ("14",), "SmartPhone_Android"),
    ("SM-S918B", "ANDROID", ("14", "15"), "SmartPhone_Android"),
    ("SM-A546B", "ANDROID", ("14",), "SmartPhone_Android"),
)
OKTA_VERIFY_VERSIONS = ("9.21.0", "9.24.1", "9.27.0", "9.29.2", "9.31.0")

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "David", "Linda", "Daniel", "Sarah",
    "Kevin", "Emily", "Brian", "Jessica", "Jason", "Laura", "Ryan", "Megan", "Eric", "Rachel", "Priya",
    "Arjun", "Wei", "Mei", "Hiroshi", "Yuki", "Carlos", "Lucia", "Ahmed", "Fatima", "Olga", "Ivan",
    "José", "Zoë", "Łukasz", "Søren", "Björn", "Renée", "Chloé", "Maël", "Çağla", "Đorđe", "Inês",
    "Ana Lúcia", "Jürgen", "Åsa", "Núria", "François",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martinez", "Lopez",
    "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Lee", "Harris", "Clark", "Lewis",
    "Patel", "Sharma", "Chen", "Wang", "Tanaka", "Sato", "Kim", "Nguyen", "Cohen", "Novak", "Rossi",
    "Álvarez", "Müller", "Wójcik", "Øvergaard", "Nuñez", "Lefèvre", "Öztürk", "Đurić", "Brandão",
    "Gonçalves", "Šimić", "Großmann", "Ångström",
)
NON_LATIN_NAMES = (  # display names in other scripts, with the login their directory gives them
    ("山田 太郎", "taro.yamada"), ("佐藤 花子", "hanako.sato"), ("王 芳", "fang.wang"), ("김 민준", "minjun.kim"),
    ("Алексей Смирнов", "aleksei.smirnov"), ("Σοφία Παπαδοπούλου", "sofia.papadopoulou"),
)
_ASCII_FOLD = str.maketrans({"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "Đ": "D", "đ": "d", "ß": "ss", "Æ": "Ae", "æ": "ae"})
ORG_DOMAIN = "lumen-freight.example"

APPS = (
    App("salesforce", "Salesforce.com", "SAML_2_0", "/app/salesforce/{id}/sso/saml"),
    App("slack", "Slack", "SAML_2_0", "/app/slack/{id}/sso/saml"),
    App("zoomus", "Zoom", "SAML_2_0", "/app/zoomus/{id}/sso/saml"),
    App("workday", "Workday", "SAML_2_0", "/app/workday/{id}/sso/saml"),
    App("office365", "Microsoft Office 365", "WS_FEDERATION", "/app/office365/{id}/sso/wsfed/passive"),
    App("atlassian", "Atlassian Cloud", "SAML_2_0", "/app/atlassian/{id}/sso/saml"),
    App("servicenow_ud", "ServiceNow", "SAML_2_0", "/app/servicenow_ud/{id}/sso/saml"),
    App("githubcloud", "GitHub Enterprise Cloud", "SAML_2_0", "/app/githubcloud/{id}/sso/saml"),
    App("amazon_aws_sso", "AWS IAM Identity Center", "SAML_2_0", "/app/amazon_aws_sso/{id}/sso/saml"),
    App("oidc_client", "Freight Portal", "OPENID_CONNECT", "/oauth2/v1/authorize"),
    App("oidc_client", "Dispatch Mobile", "OPENID_CONNECT", "/oauth2/aus1freight/v1/authorize"),
)
NON_PUSH_FACTORS = ("SIGNED_NONCE", "SIGNED_NONCE", "FIDO_WEBAUTHN", "OKTA_VERIFY", "EMAIL", "SMS", "GOOGLE_OTP")
# other_factor: MFA denials that are not Okta Verify push, including a lower-case spelling (exporter quirk).
OTHER_FACTORS = ("OKTA_VERIFY", "SMS", "sms")

BEHAVIOR_NAMES = ("New Geo-Location", "New Device", "New IP", "New State", "New Country", "Velocity", "New City")
# Share of events per UTC hour of day (a workforce mostly in the Americas and Europe).
HOUR_WEIGHTS = (
    0.55, 0.50, 0.45, 0.45, 0.50, 0.60, 0.80, 1.00, 1.20, 1.35, 1.40, 1.40,
    1.35, 1.40, 1.45, 1.45, 1.40, 1.30, 1.15, 1.00, 0.90, 0.80, 0.70, 0.60,
)
# fmt: on


_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CLASSIC_SESSION_CHARS = _ALNUM + "-_"


# ---------------------------------------------------------------------------------------------------------
# Small value builders
# ---------------------------------------------------------------------------------------------------------


def _okta_id(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choices(_ALNUM, k=20 - len(prefix)))


def _session_id(rng: random.Random, classic: bool) -> str:
    if classic:
        return "102" + "".join(rng.choices(_CLASSIC_SESSION_CHARS, k=22))
    return "idx" + "".join(rng.choices(_ALNUM, k=22))


def _case_twin(session_id: str) -> str:
    """The same session id with the case of its letters swapped: a different session (ids are case-sensitive)."""
    return session_id[:3] + session_id[3:].swapcase()


def _ip(rng: random.Random, isp: Isp) -> str:
    prefix = rng.choice(isp.prefixes)
    if ":" in prefix:
        groups = ":".join(f"{rng.getrandbits(16):x}" for _ in range(6))
        return f"{prefix}:{groups}"
    return f"{prefix}.{rng.randint(1, 254)}.{rng.randint(1, 254)}"


def behaviors_text(**positive: bool) -> str:
    """Okta's ``debugData.behaviors`` string; keyword names use underscores for spaces and dashes."""
    flags = {name: "NEGATIVE" for name in BEHAVIOR_NAMES}
    for key, value in positive.items():
        name = key.replace("__", "-").replace("_", " ")
        if name not in flags:
            raise KeyError(name)
        flags[name] = "POSITIVE" if value else "NEGATIVE"
    return "{" + ", ".join(f"{k}={v}" for k, v in flags.items()) + "}"


@functools.lru_cache(maxsize=256)
def _log_only_security_data(behaviors: str, risk_level: str) -> str:
    pairs = (item.split("=") for item in behaviors.strip("{}").split(", "))
    return orjson.dumps({"risk": {"level": risk_level}, "behaviors": dict(pairs)}).decode()


def _ascii_login(first: str, last: str, taken: set[str]) -> str:
    def fold(text: str) -> str:
        text = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
        return "".join(c for c in text if c.isascii() and (c.isalnum() or c == "-")).lower()

    base = f"{fold(first)}.{fold(last)}"
    login, n = base, 1
    while login in taken:
        n += 1
        login = f"{base}{n}"
    taken.add(login)
    return f"{login}@{ORG_DOMAIN}"


def _iso_seconds(ms: int) -> str:
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_millis(ms: int) -> str:
    return _Clock().iso(ms)


def _round_half_away(value: float, digits: int) -> float:
    return float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


class _Clock:
    """Formats epoch milliseconds as Okta's ``published`` (``2026-03-10T12:34:56.789Z``), caching the minute."""

    def __init__(self) -> None:
        self._minute = -1
        self._prefix = ""

    def iso(self, ms: int) -> str:
        seconds, millis = divmod(ms, 1000)
        minute, second = divmod(seconds, 60)
        if minute != self._minute:
            self._minute = minute
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:", time.gmtime(minute * 60))
        return f"{self._prefix}{second:02d}.{millis:03d}Z"


# ---------------------------------------------------------------------------------------------------------
# Clients, devices and people
# ---------------------------------------------------------------------------------------------------------


class Client(NamedTuple):
    """Pre-built, shared fragments of the events one network client produces."""

    ip: str
    client: dict
    request: dict
    security: dict
    device: dict | None
    dt_hash: str


def _make_client(
    rng: random.Random,
    *,
    ip: str,
    city: City,
    isp: Isp,
    agent: UserAgent,
    kind: str,
    zone: str | None = "null",
    is_proxy: bool = False,
    device: dict | None = None,
) -> Client:
    geo = {
        "city": city.name,
        "state": city.state,
        "country": city.country,
        "postalCode": city.postal,
        "geolocation": {
            "lat": round(city.lat + rng.uniform(-0.04, 0.04), 4),
            "lon": round(city.lon + rng.uniform(-0.04, 0.04), 4),
        },
    }
    client = {
        "userAgent": {"rawUserAgent": agent.raw, "os": agent.os, "browser": agent.browser},
        "zone": zone,
        "device": kind,
        "id": None,
        "ipAddress": ip,
        "geographicalContext": geo,
    }
    request = {
        "ipChain": [
            {"ip": ip, "geographicalContext": geo, "version": "V6" if ":" in ip else "V4", "source": None}
        ]
    }
    security = {
        "asNumber": isp.asn,
        "asOrg": isp.org,
        "isp": isp.name,
        "domain": isp.domain,
        "isProxy": is_proxy,
    }
    return Client(ip, client, request, security, device, rng.randbytes(32).hex())


def _desktop_agent(rng: random.Random) -> UserAgent:
    template, os_name, browser, _ = rng.choices(DESKTOP_AGENTS, weights=[a[3] for a in DESKTOP_AGENTS])[0]
    chrome = rng.randint(128, 134)
    raw = template.format(
        v=chrome,
        b=rng.randint(2400, 3200),
        p=rng.randint(40, 140),
        f=rng.randint(128, 136),
        s=rng.choice(("17.6", "18.1", "18.3", "18.4")),
    )
    return UserAgent(raw, os_name, browser)


def _mobile_browser_agent(rng: random.Random) -> UserAgent:
    template, os_name, browser = rng.choice(MOBILE_BROWSER_AGENTS)
    ios = rng.choice(("17_6_1", "18_3_2", "18_4"))
    raw = template.format(
        ios_=ios, s=ios.replace("_", ".")[:4], android=rng.choice((13, 14, 15)), v=rng.randint(128, 134)
    )
    return UserAgent(raw, os_name, browser)


@dataclass
class Phone:
    """A device enrolled in Okta Verify: what its push target, its app's user agent and ``device`` look like."""

    enrollment: dict
    device: dict
    agent: UserAgent
    category: str
    platform: str


def _make_phone(rng: random.Random) -> Phone:
    model, platform, versions, category = rng.choice(PHONE_MODELS)
    os_version = rng.choice(versions)
    ov = rng.choice(OKTA_VERIFY_VERSIONS)
    if platform == "IOS":
        family = "iPad" if model.startswith("iPad") else "iPhone"
        agent = UserAgent(
            f"OktaVerify/{ov} ({family}; iOS {os_version}; {model}) OktaDeviceSDK/1.{rng.randint(4, 9)}.0",
            "iOS",
            "UNKNOWN",
        )
    else:
        agent = UserAgent(
            f"OktaVerify/{ov} (Linux; Android {os_version}; {model}) OktaDeviceSDK/1.{rng.randint(4, 9)}.0",
            "Android",
            "UNKNOWN",
        )
    device = {
        "id": _okta_id(rng, "guo"),
        "name": model,
        "os_platform": platform,
        "os_version": os_version,
        "managed": rng.random() < 0.3,
        "registered": True,
        "device_integrator": None,
        "disk_encryption_type": "ALL_INTERNAL_VOLUMES" if platform == "IOS" else "FULL",
        "screen_lock_type": rng.choice(("BIOMETRIC", "BIOMETRIC", "PASSCODE")),
        "jailbreak": False,
        "secure_hardware_present": True,
    }
    enrollment = {
        "id": _okta_id(rng, "pfd"),
        "type": "AuthenticatorEnrollment",
        "alternateId": "unknown",
        "displayName": "Okta Verify",
        "detailEntry": {
            "methodTypeUsed": "Get a push notification",
            "methodUsedVerifiedProperties": "[DEVICE_BOUND, HARDWARE_PROTECTED]",
        },
    }
    return Phone(enrollment, device, agent, category, platform)


@dataclass(eq=False)  # identity: users are compared and hashed as objects
class User:
    login: str
    display: str
    actor: dict
    target: dict
    city: City
    home: Client
    office: Client | None
    phones: list[Phone]
    password_target: dict


@dataclass
class Population:
    users: list[User]
    by_device_count: dict[int, list[User]]  # users by number of Okta Verify devices (1-3)
    admins: list[User]
    offices: dict[str, Client]
    service_actors: list[dict]
    service_client: Client
    policy_targets: list[dict]
    app_targets: list[tuple[App, dict]]


def _person(rng: random.Random, taken: set[str]) -> tuple[str, str]:
    if rng.random() < 0.03:
        display, login = rng.choice(NON_LATIN_NAMES)
        return display, _ascii_login(*login.split("."), taken)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return f"{first} {last}", _ascii_login(first, last, taken)


def _make_user(rng: random.Random, taken: set[str], offices: dict[str, Client]) -> User:
    display, login = _person(rng, taken)
    user_id = _okta_id(rng, "00u")
    actor = {"id": user_id, "type": "User", "alternateId": login, "displayName": display, "detailEntry": None}
    city = rng.choices(HOME_CITIES, weights=HOME_CITY_WEIGHTS)[0]
    isp = rng.choice(RESIDENTIAL_ISPS[city.cc])
    home = _make_client(rng, ip=_ip(rng, isp), city=city, isp=isp, agent=_desktop_agent(rng), kind="Computer")
    office = None
    if rng.random() < 0.6:
        shared = offices[city.name]
        office = shared._replace(
            client={**shared.client, "userAgent": home.client["userAgent"]}, dt_hash=home.dt_hash
        )
    device_count = rng.choices((1, 2, 3), weights=(70, 22, 8))[0]
    password = {
        "id": _okta_id(rng, "lae"),
        "type": "AuthenticatorEnrollment",
        "alternateId": "unknown",
        "displayName": "Password",
        "detailEntry": None,
    }
    return User(
        login,
        display,
        actor,
        dict(actor),
        city,
        home,
        office,
        [_make_phone(rng) for _ in range(device_count)],
        password,
    )


def _make_population(seed: int, size: int = 1200) -> Population:
    rng = random.Random(f"{seed}:population")
    offices = {}
    for city in HOME_CITIES:
        isp = rng.choice(OFFICE_ISPS)
        offices[city.name] = _make_client(
            rng,
            ip=_ip(rng, isp),
            city=city,
            isp=isp,
            agent=UserAgent("", "", ""),
            kind="Computer",
            zone="Corporate Offices",
        )
    taken: set[str] = set()
    users = [_make_user(rng, taken, offices) for _ in range(size)]
    by_devices: dict[int, list[User]] = {1: [], 2: [], 3: []}
    for user in users:
        by_devices[len(user.phones)].append(user)
    service_actors = [
        {
            "id": client_id,
            "type": "PublicClientApp",
            "alternateId": client_id,
            "displayName": name,
            "detailEntry": None,
        }
        for name in ("Workday Provisioning", "SCIM Connector", "HR Sync Job", "Terraform Okta Provider")
        for client_id in (_okta_id(rng, "0oa"),)
    ]
    service_isp = Isp(16509, "amazon.com, inc.", "amazon technologies inc.", "amazon.com", ("52.23", "54.80"))
    service_client = _make_client(
        rng,
        ip=_ip(rng, service_isp),
        city=HOME_CITIES[0],
        isp=service_isp,
        agent=UserAgent("okta-sdk-java/8.2.5 java/17.0.9 Linux/5.10.215", "Linux", "UNKNOWN"),
        kind="Unknown",
    )
    policy = {
        "id": _okta_id(rng, "00p"),
        "type": "PolicyEntity",
        "alternateId": "unknown",
        "displayName": "Default Global Session Policy",
        "detailEntry": {"policyType": "OktaSignOn"},
    }
    rule = {
        "id": _okta_id(rng, "0pr"),
        "type": "PolicyRule",
        "alternateId": policy["id"],
        "displayName": "Require MFA outside corporate network",
        "detailEntry": None,
    }
    app_targets = [
        (
            app,
            {
                "id": _okta_id(rng, "0oa"),
                "type": "AppInstance",
                "alternateId": app.label,
                "displayName": app.label,
                "detailEntry": {"signOnModeType": app.sign_on},
            },
        )
        for app in APPS
    ]
    return Population(
        users, by_devices, users[:12], offices, service_actors, service_client, [policy, rule], app_targets
    )


# ---------------------------------------------------------------------------------------------------------
# Event kinds and steps
# ---------------------------------------------------------------------------------------------------------


class EventKind(NamedTuple):
    event_type: str
    display: str
    legacy: str | None
    severity: str = "INFO"


PUSH_SENT = EventKind(PUSH_EVENT_TYPE, "Push notification sent for verification", None)
MFA_SUCCESS = EventKind(
    RESPONSE_EVENT_TYPE, "Authentication of user via MFA", "core.user.factor.attempt_success"
)
MFA_FAILURE = EventKind(
    RESPONSE_EVENT_TYPE, "Authentication of user via MFA", "core.user.factor.attempt_fail"
)
POLICY_EVALUATION = EventKind("policy.evaluate_sign_on", "Evaluation of sign-on policy", None)
SESSION_START = EventKind("user.session.start", "User login to Okta", "core.user_auth.login_success")
SESSION_START_FAILED = EventKind(
    "user.session.start", "User login to Okta", "core.user_auth.login_failed", "WARN"
)
VERIFY = EventKind("user.authentication.verify", "Verify user identity", None)
SSO = EventKind("user.authentication.sso", "User single sign on to app", "app.auth.sso")
OAUTH_CODE = EventKind("app.oauth2.as.authorize.code", "OAuth2 authorization code request", None)
OAUTH_TOKEN = EventKind("app.oauth2.as.token.grant.access_token", "OAuth2 access token is granted", None)
ADMIN_APP = EventKind("user.session.access_admin_app", "User accessing Okta admin app", None)
SESSION_END = EventKind("user.session.end", "User logout from Okta", "core.user_auth.logout_success")
SMS_SENT = EventKind("system.sms.send_factor_verify_message", "Send SMS for verification", None)
RATE_LIMIT = EventKind(
    "system.org.rate_limit.warning", "Rate limit warning", "core.framework.ratelimit.warning", "WARN"
)
THREAT = EventKind(
    "security.threat.detected", "Request from suspicious actor", "security.threat.detected", "WARN"
)
ACCOUNT_LOCK = EventKind(
    "user.account.lock", "Max sign in attempts exceeded", "core.user_auth.account_locked", "WARN"
)
GROUP_ADD = EventKind(
    "group.user_membership.add", "Add user to group membership", "core.user_group_member.user_add"
)
APP_ASSIGN = EventKind(
    "application.user_membership.add",
    "Add user to application membership",
    "app.generic.provision.assign_user_to_app",
)
FACTOR_ACTIVATE = EventKind(
    "user.mfa.factor.activate", "Activate factor or authenticator", "core.user.factor.activate"
)

OUTCOME_SUCCESS = {"result": "SUCCESS", "reason": None}
OUTCOME_ALLOW = {"result": "ALLOW", "reason": "Sign-on policy evaluation resulted in ALLOW"}
OUTCOME_CHALLENGE = {"result": "CHALLENGE", "reason": "Sign-on policy evaluation resulted in CHALLENGE"}
OUTCOME_INVALID_CREDENTIALS = {"result": "FAILURE", "reason": "INVALID_CREDENTIALS"}
OUTCOME_VERIFICATION_ERROR = {"result": "FAILURE", "reason": "VERIFICATION_ERROR"}
OUTCOME_DENY = {"result": "DENY", "reason": "Login Failures"}


class _Step(NamedTuple):
    """One future event: everything but its time, uuid and request id."""

    offset_ms: int
    kind: EventKind
    actor: dict
    client: Client
    auth: dict
    outcome: dict
    debug: dict  # static debugData fields (requestId is added per event)
    target: list | None
    hex_ids: bool  # OIE request ids are 32 hex digits, Classic ones 27 base64-like characters

    @property
    def is_rule_event(self) -> bool:
        """Push sent, or auth_via_mfa with factor OKTA_VERIFY_PUSH (case-insensitive): the rule's input."""
        if self.kind.event_type == PUSH_EVENT_TYPE:
            return True
        factor = self.debug.get("factor")
        return (
            self.kind.event_type == RESPONSE_EVENT_TYPE
            and isinstance(factor, str)
            and factor.upper() == RESPONSE_FACTOR
        )


_SIGN_ON_MODES = {
    "SAML_2_0": "SAML 2.0",
    "WS_FEDERATION": "WS-Federation",
    "OPENID_CONNECT": "OpenID Connect",
}
_RULE_EVENT_TYPES = frozenset((PUSH_EVENT_TYPE, RESPONSE_EVENT_TYPE))


def _auth_contexts(session_id: str | None) -> dict[str, dict]:
    """The three authenticationContext shapes of one session: plain, password, and factor (MFA)."""
    common = {
        "issuer": None,
        "interface": None,
        "authenticationStep": 0,
        "externalSessionId": session_id,
        "rootSessionId": session_id,
    }
    return {
        "plain": {
            "authenticationProvider": None,
            "credentialProvider": None,
            "credentialType": None,
            **common,
        },
        "password": {
            "authenticationProvider": "OKTA_AUTHENTICATION_PROVIDER",
            "credentialProvider": "OKTA_CREDENTIAL_PROVIDER",
            "credentialType": "PASSWORD",
            **common,
        },
        "factor": {
            "authenticationProvider": "FACTOR_PROVIDER",
            "credentialProvider": "OKTA_CREDENTIAL_PROVIDER",
            "credentialType": None,
            **common,
        },
    }


@dataclass(frozen=True)
class Signal:
    """What Okta's behavior detection and risk engine say about one client in one session."""

    behaviors: str
    risk: str
    risk_level: str
    threat_suspected: bool


KNOWN_SIGNAL = Signal(behaviors_text(), "{level=LOW}", "LOW", False)
NEW_NETWORK_SIGNAL = Signal(behaviors_text(New_IP=True), "{level=LOW}", "LOW", False)


class _Session:
    """Builds the steps of one session: who, which session id, and helpers for each kind of event."""

    def __init__(self, ctx: _ScenarioContext, user: User, session_id: str | None, classic: bool) -> None:
        self.rng = ctx.rng
        self.population = ctx.population
        self.user = user
        self.session_id = session_id
        self.classic = classic
        self.auth = _auth_contexts(session_id)
        self.steps: list[_Step] = []

    def add(
        self,
        offset_ms: int,
        kind: EventKind,
        client: Client,
        outcome: dict,
        debug: dict,
        target: list | None,
        auth: str = "plain",
        actor: dict | None = None,
    ) -> None:
        self.steps.append(
            _Step(
                offset_ms,
                kind,
                actor or self.user.actor,
                client,
                self.auth[auth],
                outcome,
                debug,
                target,
                not self.classic,
            )
        )

    def signal_debug(
        self,
        client: Client,
        signal: Signal,
        request_uri: str,
        url: str | None = None,
        security_data: bool = False,
        behaviors: bool = True,
        **extra: Any,
    ) -> dict:
        """debugData of a user-facing request: behaviors (unless app access), risk, and for sign-in decisions
        (`security_data`) logOnlySecurityData."""
        debug = {
            "requestUri": request_uri,
            "url": url if url is not None else request_uri + "?",
            "dtHash": client.dt_hash,
        }
        if behaviors:
            debug["behaviors"] = signal.behaviors
        debug["risk"] = signal.risk
        debug["threatSuspected"] = "true" if signal.threat_suspected else "false"
        debug.update(extra)
        if security_data:
            debug["logOnlySecurityData"] = _log_only_security_data(signal.behaviors, signal.risk_level)
        return debug

    # -- sign-in -------------------------------------------------------------------------------------------

    def policy_evaluation(self, t: int, client: Client, signal: Signal, challenge: bool = True) -> None:
        uri = "/api/v1/authn" if self.classic else "/idp/idx/identify"
        debug = self.signal_debug(
            client, signal, uri, security_data=True, deviceFingerprint=client.dt_hash[:32]
        )
        self.add(
            t,
            POLICY_EVALUATION,
            client,
            OUTCOME_CHALLENGE if challenge else OUTCOME_ALLOW,
            debug,
            self.population.policy_targets,
        )

    def password(self, t: int, client: Client, signal: Signal) -> None:
        """Primary authentication: OIE logs it as auth_via_mfa with PASSWORD_AS_FACTOR, Classic as verify."""
        if self.classic:
            debug = self.signal_debug(client, signal, "/api/v1/authn")
            self.add(t, VERIFY, client, OUTCOME_SUCCESS, debug, [self.user.target], auth="password")
            return
        debug = self.signal_debug(
            client,
            signal,
            "/idp/idx/challenge/answer",
            factor="PASSWORD_AS_FACTOR",
            factorIntent="AUTHENTICATION",
        )
        self.add(
            t,
            MFA_SUCCESS,
            client,
            OUTCOME_SUCCESS,
            debug,
            [self.user.target, self.user.password_target],
            auth="password",
        )

    def session_start(self, t: int, client: Client, signal: Signal, success: bool = True) -> None:
        uri = "/api/v1/authn" if self.classic else "/idp/idx/authenticators/poll"
        debug = self.signal_debug(client, signal, uri)
        kind, outcome = (
            (SESSION_START, OUTCOME_SUCCESS)
            if success
            else (SESSION_START_FAILED, OUTCOME_VERIFICATION_ERROR)
        )
        self.add(t, kind, client, outcome, debug, [self.user.target] if not success else None)

    # -- Okta Verify push ---------------------------------------------------------------------------------

    def push(self, t: int, client: Client, signal: Signal, phone: Phone) -> None:
        uri = "/api/v1/authn/factors/push/verify" if self.classic else "/idp/idx/challenge"
        debug = self.signal_debug(
            client,
            signal,
            uri,
            security_data=True,
            deviceCategory=phone.category,
            devicePlatform=phone.platform,
        )
        self.add(t, PUSH_SENT, client, OUTCOME_SUCCESS, debug, [self.user.target, phone.enrollment])

    def push_answer(self, t: int, phone_client: Client, signal: Signal, phone: Phone, approve: bool) -> None:
        enrollment = phone.enrollment["id"]
        transaction = "ftq" + "".join(self.rng.choices(_ALNUM, k=30))
        uri = (
            f"/api/v1/authn/factors/{enrollment}/transactions/{transaction}/verify"
            if self.classic
            else f"/idp/authenticators/{enrollment}/transactions/{transaction}/verify"
        )
        debug = self.signal_debug(
            phone_client,
            signal,
            uri,
            security_data=True,
            factor=RESPONSE_FACTOR,
            factorIntent="AUTHENTICATION",
            pushOnlyResponseType="OV_RESPONSE_APPROVE" if approve else "OV_RESPONSE_DENY",
            pushWithNumberChallengeResponseType="OV_WITH_CHALLENGE_RESPONSE_NOT_APPLICABLE",
            keyTypeUsedForAuthentication="PROOF_OF_POSSESSION",
        )
        kind, outcome = (
            (MFA_SUCCESS, OUTCOME_SUCCESS) if approve else (MFA_FAILURE, OUTCOME_INVALID_CREDENTIALS)
        )
        self.add(t, kind, phone_client, outcome, debug, [self.user.target, phone.enrollment], auth="factor")

    # -- other factors and activity ------------------------------------------------------------------------

    def other_factor(self, t: int, client: Client, signal: Signal, factor: str, success: bool) -> None:
        debug = self.signal_debug(
            client, signal, "/idp/idx/challenge/answer", factor=factor, factorIntent="AUTHENTICATION"
        )
        kind, outcome = (
            (MFA_SUCCESS, OUTCOME_SUCCESS) if success else (MFA_FAILURE, OUTCOME_INVALID_CREDENTIALS)
        )
        enrollment = {
            "id": f"pfd{self.user.target['id'][3:]}",
            "type": "AuthenticatorEnrollment",
            "alternateId": "unknown",
            "displayName": _FACTOR_NAMES.get(factor.upper(), factor),
            "detailEntry": None,
        }
        self.add(t, kind, client, outcome, debug, [self.user.target, enrollment], auth="factor")

    def sms_sent(self, t: int, client: Client, signal: Signal) -> None:
        debug = self.signal_debug(client, signal, "/idp/idx/challenge", smsProvider="TWILIO")
        self.add(t, SMS_SENT, client, OUTCOME_SUCCESS, debug, [self.user.target])

    def app_access(self, t: int, client: Client, signal: Signal, apps: Sequence[tuple[App, dict]]) -> None:
        rng = self.rng
        app, app_target = rng.choice(apps)
        app_user = {
            "id": "0ua" + self.user.target["id"][3:],
            "type": "AppUser",
            "alternateId": self.user.login,
            "displayName": self.user.display,
            "detailEntry": None,
        }
        if app.sign_on == "OPENID_CONNECT":
            query = f"client_id={app_target['id']}&response_type=code&scope=openid%20profile%20email&state={rng.getrandbits(64):x}"
            kind = OAUTH_CODE if rng.random() < 0.6 else OAUTH_TOKEN
            uri = app.path if kind is OAUTH_CODE else app.path.replace("authorize", "token")
            debug = self.signal_debug(
                client,
                signal,
                uri,
                uri + "?" + query if kind is OAUTH_CODE else uri + "?",
                behaviors=False,
                grantType="authorization_code",
                grantedScopes="openid, profile, email",
            )
            self.add(t, kind, client, OUTCOME_SUCCESS, debug, [app_target, app_user])
            return
        path = app.path.format(id=app_target["id"])
        relay = f"RelayState=%2Fhome%3Fsrc%3Dokta&SAMLRequest={base64.b64encode(rng.randbytes(24)).decode()}"
        debug = self.signal_debug(
            client,
            signal,
            path,
            path + "?" + relay,
            behaviors=False,
            initiationType="SP_INITIATED",
            signOnMode=_SIGN_ON_MODES[app.sign_on],
        )
        self.add(t, SSO, client, OUTCOME_SUCCESS, debug, [app_target, app_user])

    def admin_console(self, t: int, client: Client, signal: Signal) -> None:
        debug = self.signal_debug(
            client, signal, "/admin/sso/request", "/admin/sso/request?fromURI=%2Fadmin%2Fdashboard"
        )
        self.add(t, ADMIN_APP, client, OUTCOME_SUCCESS, debug, None)

    def session_end(self, t: int, client: Client, signal: Signal) -> None:
        debug = self.signal_debug(
            client, signal, "/login/signout", "/login/signout?fromURI=%2Fapp%2FUserHome"
        )
        self.add(t, SESSION_END, client, OUTCOME_SUCCESS, debug, None)


_FACTOR_NAMES = {
    "OKTA_VERIFY": "Okta Verify",
    "SMS": "Phone",
    "SIGNED_NONCE": "Okta Verify",
    "FIDO_WEBAUTHN": "Security Key or Biometric",
    "EMAIL": "Email",
    "GOOGLE_OTP": "Google Authenticator",
}


# ---------------------------------------------------------------------------------------------------------
# Scenarios: labelled sessions whose expected outcome is known by design
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversation:
    """A push conversation: who asks (source), how many devices a push fans out to, how the user answers."""

    source: str  # "attacker" | "known_laptop" | "new_laptop"
    devices: tuple[int, int]
    pushes: tuple[int, int]
    answers: Callable[[random.Random, int], list[str | None]]  # per push: "approve", "deny" or None (ignored)
    gap_seconds: tuple[int, int] = (8, 60)  # between pushes (each push starts a new 2 s bucket)
    same_network: bool = False  # the phone answers from the sign-in client's IP


@dataclass(frozen=True)
class Scenario:
    label: str
    expected_alert: bool
    summary: str
    conversation: Conversation | None = None
    build: Callable[[_ScenarioContext, Scenario], _Design] | None = None


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


@dataclass
class _Facts:
    """What a scenario was built with; the rule's metrics for its group follow from it."""

    pushes: int = 0  # push instants (collapsed rows), each fanned out to `fanout` devices
    fanout: int = 0
    approvals: int = 0
    denials: int = 0
    source_ips: set[str] = field(default_factory=set)
    response_ips: set[str] = field(default_factory=set)
    new_device: bool = False
    new_ip: bool = False

    def merge(self, other: _Facts) -> _Facts:
        return _Facts(
            self.pushes + other.pushes,
            max(self.fanout, other.fanout),
            self.approvals + other.approvals,
            self.denials + other.denials,
            self.source_ips | other.source_ips,
            self.response_ips | other.response_ips,
            self.new_device or other.new_device,
            self.new_ip or other.new_ip,
        )

    def metrics(self) -> dict[str, Any]:
        ratio = None if self.pushes == 0 else _round_half_away(self.approvals / self.pushes, 2)
        return {
            "dc_ip": len(self.source_ips | self.response_ips),
            "total_pushes": self.pushes,
            "total_successes": self.approvals,
            "total_rejected": self.denials,
            "suspect_device_from_source": self.pushes if self.new_device else 0,
            "suspect_ip_from_source": self.pushes if self.new_ip else 0,
            "ratio": ratio,
        }

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["source_ips"] = sorted(self.source_ips)
        values["response_ips"] = sorted(self.response_ips)
        return values


def alert_condition(metrics: dict[str, Any]) -> bool:
    """The ESCU condition on a group's metrics (null ratio compares as false)."""
    ratio = metrics["ratio"]
    spam = ratio is not None and ratio < 0.5 and metrics["total_pushes"] > 1
    return (
        (spam or metrics["total_rejected"] > 0)
        and metrics["dc_ip"] > 1
        and metrics["suspect_device_from_source"] > 0
        and metrics["suspect_ip_from_source"] > 0
    )


@dataclass
class _Design:
    """A scenario session before placement: steps relative to its start, plus what it was built with."""

    label: str
    session_id: str | None
    users: list[str]
    steps: list[_Step]
    facts: _Facts
    case_twin_of: str | None = None


class _ScenarioContext:
    """What scenario builders draw from: randomness, people, unique session ids."""

    def __init__(self, rng: random.Random, population: Population, used_ids: set[str]) -> None:
        self.rng = rng
        self.population = population
        self.used_ids = used_ids

    def new_session_id(self, classic: bool) -> str:
        while True:
            session_id = _session_id(self.rng, classic)
            twin = _case_twin(session_id)
            if session_id not in self.used_ids and twin != session_id and twin not in self.used_ids:
                self.used_ids.add(session_id)
                return session_id

    def claim_session_id(self, session_id: str) -> str:
        if session_id in self.used_ids:
            raise ValueError(f"session id {session_id} already used")
        self.used_ids.add(session_id)
        return session_id

    def user(self, devices: int | None = None) -> User:
        """Any user, or one with exactly `devices` Okta Verify devices (a push goes to each of them)."""
        if devices is None:
            return self.rng.choice(self.population.users)
        return self.rng.choice(self.population.by_device_count[devices])

    def attacker_client(self) -> tuple[Client, Signal]:
        rng = self.rng
        city, isp = rng.choice(ATTACKER_NETWORKS)
        client = _make_client(
            rng,
            ip=_ip(rng, isp),
            city=city,
            isp=isp,
            agent=_desktop_agent(rng),
            kind="Computer",
            is_proxy=rng.random() < 0.4,
        )
        far = rng.random() < 0.8
        behaviors = behaviors_text(
            New_Geo__Location=far,
            New_Device=True,
            New_IP=True,
            New_State=True,
            New_Country=far,
            Velocity=far and rng.random() < 0.7,
            New_City=True,
        )
        level = rng.choice(("MEDIUM", "HIGH"))
        reasons = "Anomalous Device, Anomalous Location" if far else "Anomalous Device"
        return client, Signal(behaviors, f"{{reasons={reasons}, level={level}}}", level, rng.random() < 0.5)

    def new_laptop_client(self, user: User) -> tuple[Client, Signal]:
        """A brand-new laptop on a network the user never used (hotel, co-working space, a friend's home)."""
        rng = self.rng
        isp = rng.choice(RESIDENTIAL_ISPS[user.city.cc])
        client = _make_client(
            rng, ip=_ip(rng, isp), city=user.city, isp=isp, agent=_desktop_agent(rng), kind="Computer"
        )
        behaviors = behaviors_text(New_Device=True, New_IP=True, New_City=rng.random() < 0.2)
        return client, Signal(behaviors, "{reasons=Anomalous Device, level=MEDIUM}", "MEDIUM", False)

    def known_laptop_client(self, user: User) -> tuple[Client, Signal]:
        client = user.office if user.office is not None and self.rng.random() < 0.5 else user.home
        if self.rng.random() < 0.25:  # a known laptop on a new network: New IP only
            return client, NEW_NETWORK_SIGNAL
        return client, KNOWN_SIGNAL

    def phone_client(self, user: User, phone: Phone, same_as: Client | None = None) -> Client:
        """The Okta Verify app: on the sign-in client's network when `same_as`, else on the cellular network."""
        rng = self.rng
        if same_as is not None:
            geo = same_as.client["geographicalContext"]
            city = City(
                geo["city"],
                geo["state"],
                geo["country"],
                geo["postalCode"],
                geo["geolocation"]["lat"],
                geo["geolocation"]["lon"],
                user.city.cc,
            )
            security = same_as.security
            isp = Isp(security["asNumber"], security["asOrg"], security["isp"], security["domain"], ())
            return _make_client(
                rng, ip=same_as.ip, city=city, isp=isp, agent=phone.agent, kind="Mobile", device=phone.device
            )
        isp = rng.choice(MOBILE_ISPS[user.city.cc])
        return _make_client(
            rng,
            ip=_ip(rng, isp),
            city=user.city,
            isp=isp,
            agent=phone.agent,
            kind="Mobile",
            device=phone.device,
        )

    def source(self, kind: str, user: User) -> tuple[Client, Signal]:
        if kind == "attacker":
            return self.attacker_client()
        if kind == "new_laptop":
            return self.new_laptop_client(user)
        return self.known_laptop_client(user)


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
SCENARIOS_BY_LABEL = {s.label: s for s in SCENARIOS}
LABELS = tuple(s.label for s in SCENARIOS)
ATTACK_LABELS = tuple(s.label for s in SCENARIOS if s.expected_alert)
BENIGN_LABELS = tuple(s.label for s in SCENARIOS if not s.expected_alert)
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
    if design.steps[-1].offset_ms >= WINDOW_MS - BUCKET_MS:
        raise AssertionError(f"scenario {scenario.label} does not fit in one window")


# ---------------------------------------------------------------------------------------------------------
# Background: everything else an Okta org logs
# ---------------------------------------------------------------------------------------------------------


def _background_sign_in(ctx: _ScenarioContext, user: User, n: int) -> list[_Step]:
    """Password, a non-push factor, session start, then app access; n >= 4 events."""
    rng = ctx.rng
    mobile = rng.random() < 0.12
    classic = rng.random() < 0.2
    session = _Session(ctx, user, _session_id(rng, classic), classic)
    client = _background_client(ctx, user, mobile)
    signal = KNOWN_SIGNAL if rng.random() < 0.85 else NEW_NETWORK_SIGNAL
    t = 0
    session.policy_evaluation(t, client, signal, challenge=rng.random() < 0.7)
    t += rng.randint(700, 4000)
    session.password(t, client, signal)
    t += rng.randint(2000, 15000)
    session.other_factor(t, client, signal, rng.choice(NON_PUSH_FACTORS), success=True)
    t += rng.randint(300, 1500)
    session.session_start(t, client, signal)
    activity = n - 4
    ends = activity > 0 and rng.random() < 0.4
    is_admin = any(user is admin for admin in ctx.population.admins)
    for _ in range(activity - ends):
        t += rng.randint(3_000, 240_000)
        if is_admin and rng.random() < 0.2:
            session.admin_console(t, client, signal)
        else:
            session.app_access(t, client, signal, ctx.population.app_targets)
    if ends:
        session.session_end(t + rng.randint(60_000, 600_000), client, signal)
    return session.steps


def _background_client(ctx: _ScenarioContext, user: User, mobile: bool) -> Client:
    rng = ctx.rng
    if mobile:
        isp = rng.choice(MOBILE_ISPS[user.city.cc])
        return _make_client(
            rng, ip=_ip(rng, isp), city=user.city, isp=isp, agent=_mobile_browser_agent(rng), kind="Mobile"
        )
    if user.office is not None and rng.random() < 0.5:
        return user.office
    return user.home


def _background_app_activity(ctx: _ScenarioContext, user: User, n: int) -> list[_Step]:
    """App access in a session that started earlier (its start is outside this data set)."""
    rng = ctx.rng
    classic = rng.random() < 0.2
    session = _Session(ctx, user, _session_id(rng, classic), classic)
    client = _background_client(ctx, user, mobile=False)
    t = 0
    for _ in range(n):
        session.app_access(t, client, KNOWN_SIGNAL, ctx.population.app_targets)
        t += rng.randint(2_000, 300_000)
    return session.steps


def _background_failed_sign_in(ctx: _ScenarioContext, user: User, n: int) -> list[_Step]:
    """Wrong passwords (no session yet: externalSessionId null), maybe ending in a lockout or a threat."""
    rng = ctx.rng
    session = _Session(ctx, user, None, classic=True)
    client = _background_client(ctx, user, mobile=False)
    t = 0
    for index in range(n):
        debug = session.signal_debug(client, KNOWN_SIGNAL, "/api/v1/authn")
        if index == n - 1 and n > 1:
            session.add(t, ACCOUNT_LOCK, client, OUTCOME_SUCCESS, debug, [user.target])
        else:
            session.add(t, SESSION_START_FAILED, client, OUTCOME_INVALID_CREDENTIALS, debug, [user.target])
        t += rng.randint(3_000, 30_000)
    return session.steps


def _background_system(ctx: _ScenarioContext, user: User, n: int) -> list[_Step]:
    """One org-level event: rate limit warning, threat detection, admin change, factor enrolment."""
    rng = ctx.rng
    population = ctx.population
    pick = rng.random()
    if pick < 0.35:
        session = _Session(ctx, user, None, classic=True)
        endpoint = rng.choice(("/api/v1/users", "/api/v1/groups", "/api/v1/logs", "/api/v1/apps"))
        debug = {
            "requestUri": endpoint,
            "url": f"{endpoint}?limit=200&after={_okta_id(rng, '00u')}",
            "operationRateLimitScopeType": "Org",
            "operationRateLimitSubtype": "Org-wide",
            "operationRateLimitThreshold": "600",
            "operationRateLimitType": "API",
            "operationRateLimitPercentThreshold": "60",
            "operationRateLimitSecondsToReset": str(rng.randint(1, 59)),
            "threatSuspected": "false",
        }
        target = [
            {
                "id": endpoint,
                "type": "URL Pattern",
                "alternateId": "unknown",
                "displayName": endpoint,
                "detailEntry": None,
            }
        ]
        session.add(
            0,
            RATE_LIMIT,
            population.service_client,
            OUTCOME_SUCCESS,
            debug,
            target,
            actor=rng.choice(population.service_actors),
        )
    elif pick < 0.55:
        session = _Session(ctx, user, None, classic=True)
        client, signal = ctx.attacker_client()
        debug = session.signal_debug(
            client, signal, "/api/v1/authn", threatDetections='{"Password Spray":"HIGH"}'
        )
        actor = {
            "id": client.ip,
            "type": "IP address",
            "alternateId": "unknown",
            "displayName": client.ip,
            "detailEntry": None,
        }
        session.add(0, THREAT, client, OUTCOME_DENY, debug, None, actor=actor)
    elif pick < 0.85:
        admin = rng.choice(population.admins)
        session = _Session(ctx, admin, _session_id(rng, False), classic=False)
        kind = rng.choice((GROUP_ADD, APP_ASSIGN))
        debug = session.signal_debug(
            admin.home, KNOWN_SIGNAL, "/api/v1/groups/00g/users", "/api/v1/groups/00g/users?expand=user"
        )
        target = [
            user.target,
            {
                "id": _okta_id(rng, "00g"),
                "type": "UserGroup",
                "alternateId": "unknown",
                "displayName": rng.choice(("Engineering", "Finance – EMEA", "Dispatch Leads", "Contractors")),
                "detailEntry": None,
            },
        ]
        session.add(0, kind, admin.home, OUTCOME_SUCCESS, debug, target)
    else:
        session = _Session(ctx, user, _session_id(rng, False), classic=False)
        phone = rng.choice(user.phones)
        debug = session.signal_debug(
            user.home,
            KNOWN_SIGNAL,
            "/idp/idx/enroll/new",
            factor="OKTA_VERIFY",
            factorIntent="CREDENTIAL_ENROLLMENT",
        )
        session.add(0, FACTOR_ACTIVATE, user.home, OUTCOME_SUCCESS, debug, [user.target, phone.enrollment])
    return session.steps


class BackgroundFlow(NamedTuple):
    name: str
    weight: float
    events: tuple[int, int]
    build: Callable[[_ScenarioContext, User, int], list[_Step]]


BACKGROUND_FLOWS = (
    BackgroundFlow("sign_in", 0.55, (4, 14), _background_sign_in),
    BackgroundFlow("app_activity", 0.22, (1, 6), _background_app_activity),
    BackgroundFlow("failed_sign_in", 0.08, (1, 4), _background_failed_sign_in),
    BackgroundFlow("system", 0.15, (1, 1), _background_system),
)
_BACKGROUND_WEIGHTS = [flow.weight for flow in BACKGROUND_FLOWS]


# ---------------------------------------------------------------------------------------------------------
# Planning: which sessions start in which hour
# ---------------------------------------------------------------------------------------------------------


class _Pending(NamedTuple):
    """A session that has not started yet; `design` is a scenario design or a background flow to expand."""

    design: _Design | None
    flow: BackgroundFlow | None
    events: int
    user: User | None
    start_ms: int


class _Active:
    """A started session: its steps, absolute start, and the next step to emit."""

    __slots__ = ("index", "start_ms", "steps")

    def __init__(self, steps: list[_Step], start_ms: int) -> None:
        self.steps = steps
        self.index = 0
        self.start_ms = start_ms


@dataclass
class _Calibration:
    """Averages measured on a sample built with a separate random stream (deterministic per seed)."""

    rule_events_per_session: float
    kept_events_per_session: float
    bytes_per_scenario_event: float
    bytes_per_background_event: float


class _Planner:
    """Decides, hour by hour, which scenario sessions start and how many background events accompany them.

    Unsized runs spread ``sessions_per_label`` sessions of each label and the background over the hours by
    ``HOUR_WEIGHTS``. Sized runs aim at an event total derived from the calibrated bytes per event and keep
    adding scenario sessions while the share of rule events is below ``push_share``; hours continue past
    ``duration`` until the stream stops them.
    """

    def __init__(self, config: GeneratorConfig, population: Population, used_ids: set[str]) -> None:
        self.config = config
        self.rng = random.Random(f"{config.seed}:plan")
        self.ctx = _ScenarioContext(random.Random(f"{config.seed}:scenarios"), population, used_ids)
        self.population = population
        self.start_hour = config.start_ms // WINDOW_MS
        self.hour = 0
        self.units = self._label_units()
        self.sessions_planned = 0
        self.rule_events = 0
        self.events = 0
        self.background_planned = 0
        calibration = _calibrate(config, population)
        # a session is added while the quota is short by more than half a typical session (unbiased rounding)
        self.half_session_rule_events = calibration.rule_events_per_session / 2
        self.half_session_events = calibration.kept_events_per_session / 2
        self.total_sessions = config.sessions_per_label * len(LABELS)
        self.total_events = self._total_events(calibration)
        self.weight_total = sum(self._weight(h) for h in range(config.hours))

    # -- totals --------------------------------------------------------------------------------------------

    def _total_events(self, cal: _Calibration) -> float:
        config = self.config
        if config.target_bytes is not None:
            if config.only_push:
                return config.target_bytes / cal.bytes_per_scenario_event
            scenario_fraction = min(
                1.0, config.push_share * cal.kept_events_per_session / cal.rule_events_per_session
            )
            per_event = (
                scenario_fraction * cal.bytes_per_scenario_event
                + (1 - scenario_fraction) * cal.bytes_per_background_event
            )
            return config.target_bytes / per_event
        if config.only_push:
            return self.total_sessions * cal.kept_events_per_session
        if config.background_events is not None:
            return self.total_sessions * cal.kept_events_per_session + config.background_events
        return self.total_sessions * cal.rule_events_per_session / config.push_share

    def _weight(self, hour: int) -> float:
        return HOUR_WEIGHTS[(self.start_hour + hour) % 24]

    def _cumulative_share(self, hour: int) -> float:
        """Share of the planned total due by the end of `hour` (> 1 past `duration` in sized runs)."""
        full, rest = divmod(hour + 1, self.config.hours)
        return full + sum(self._weight(h) for h in range(rest)) / self.weight_total

    @property
    def finished(self) -> bool:
        return self.config.target_bytes is None and self.hour >= self.config.hours

    # -- labels --------------------------------------------------------------------------------------------

    def _label_units(self) -> Iterator[tuple[str, ...]]:
        """Labels in shuffled cycles (equal proportions); a twin pair stays together so it shares an hour."""
        cycle = 0
        while self.config.target_bytes is not None or cycle < self.config.sessions_per_label:
            labels = [label for label in LABELS if label != _TWIN_PAIR[1]]
            units: list[tuple[str, ...]] = [(label,) for label in labels]
            index = labels.index(_TWIN_PAIR[0])
            if self.rng.random() < 0.5:
                units[index] = _TWIN_PAIR
            else:
                units.append((_TWIN_PAIR[1],))
            self.rng.shuffle(units)
            yield from units
            cycle += 1

    # -- one hour ------------------------------------------------------------------------------------------

    def plan_next_hour(self) -> list[_Pending]:
        hour_ms = (self.start_hour + self.hour) * WINDOW_MS
        due = self.total_events * self._cumulative_share(self.hour)
        pending = [self._place(design, hour_ms) for design in self._scenario_designs(due)]
        pending.extend(self._background(hour_ms, due))
        self.hour += 1
        return pending

    def _scenario_designs(self, due_events: float) -> Iterator[_Design]:
        config = self.config
        while True:
            if config.target_bytes is None:
                wanted = self.sessions_planned < round(
                    self.total_sessions * min(1.0, self._cumulative_share(self.hour))
                )
            elif config.only_push:
                wanted = self.events + self.half_session_events < due_events
            else:
                wanted = self.rule_events + self.half_session_rule_events < config.push_share * due_events
            unit = next(self.units, None) if wanted else None
            if unit is None:
                return
            twin_of = None
            for label in unit:
                design = _build_design(self.ctx, label, twin_of=twin_of)
                twin_of = design.session_id if label == _TWIN_PAIR[0] else None
                if config.only_push:
                    design.steps = [s for s in design.steps if s.kind.event_type in _RULE_EVENT_TYPES]
                self.sessions_planned += 1
                self.rule_events += sum(s.is_rule_event for s in design.steps)
                self.events += len(design.steps)
                yield design

    def _place(self, design: _Design, hour_ms: int) -> _Pending:
        """Start on an even second, so the design's 2 s buckets are the data's, and end inside the hour."""
        span = design.steps[-1].offset_ms
        slots = (WINDOW_MS - span - BUCKET_MS) // BUCKET_MS
        start = hour_ms + BUCKET_MS * self.rng.randrange(max(1, slots))
        return _Pending(design, None, len(design.steps), None, start)

    def _background(self, hour_ms: int, due_events: float) -> Iterator[_Pending]:
        config = self.config
        if config.only_push:
            return
        if config.target_bytes is None and config.background_events is not None:
            budget = (
                round(config.background_events * min(1.0, self._cumulative_share(self.hour)))
                - self.background_planned
            )
        else:
            budget = round(due_events) - self.events
        users = self.population.users
        while budget > 0:
            flow = self.rng.choices(BACKGROUND_FLOWS, weights=_BACKGROUND_WEIGHTS)[0]
            n = self.rng.randint(*flow.events)
            if n > budget:
                flow, n = BACKGROUND_FLOWS[-1], 1
            budget -= n
            self.events += n
            self.background_planned += n
            yield _Pending(None, flow, n, self.rng.choice(users), hour_ms + self.rng.randrange(WINDOW_MS))


def _calibrate(
    config: GeneratorConfig, population: Population, per_label: int = 12, background: int = 120
) -> _Calibration:
    """Measure events and bytes per scenario session and per background event on a throw-away sample."""
    ctx = _ScenarioContext(random.Random(f"{config.seed}:calibration"), population, set())
    rule_events = kept = 0
    scenario_lines: list[bytes] = []
    for label in LABELS * per_label:
        design = _build_design(ctx, label)
        steps = [s for s in design.steps if not config.only_push or s.kind.event_type in _RULE_EVENT_TYPES]
        rule_events += sum(s.is_rule_event for s in steps)
        kept += len(steps)
        scenario_lines.extend(_sample_lines(steps, config.escape_share, ctx.rng))
    background_lines: list[bytes] = []
    for _ in range(background):
        flow = ctx.rng.choices(BACKGROUND_FLOWS, weights=_BACKGROUND_WEIGHTS)[0]
        steps = flow.build(ctx, ctx.rng.choice(population.users), ctx.rng.randint(*flow.events))
        background_lines.extend(_sample_lines(steps, config.escape_share, ctx.rng))
    sessions = per_label * len(LABELS)

    def mean_size(lines: list[bytes]) -> float:
        return sum(map(len, lines)) / max(1, len(lines))

    return _Calibration(
        rule_events / sessions, kept / sessions, mean_size(scenario_lines), mean_size(background_lines)
    )


def _sample_lines(steps: list[_Step], escape_share: float, rng: random.Random) -> Iterator[bytes]:
    clock = _Clock()
    base = 1_773_100_800_000
    for index, step in enumerate(steps):
        event = _materialise(
            step,
            clock.iso(base + step.offset_ms),
            _uuid(base + step.offset_ms, index, 0, 0x8000),
            rng.randbytes(16).hex(),
        )
        yield _escaped_line(event) if rng.random() < escape_share else _plain_line(event)


# ---------------------------------------------------------------------------------------------------------
# Events and lines
# ---------------------------------------------------------------------------------------------------------

_UUID_EPOCH = 0x01B21DD213814000  # 100 ns intervals between 1582-10-15 and 1970-01-01


def _uuid(ms: int, counter: int, node_high: int, clock_seq: int) -> str:
    """A version-1-looking UUID (like Okta's); unique per counter value, deterministic per seed."""
    ticks = ms * 10_000 + _UUID_EPOCH + counter % 10_000
    node = node_high | ((counter * 0x9E3779B1) & 0xFFFFFFFF)
    return (
        f"{ticks & 0xFFFFFFFF:08x}-{(ticks >> 32) & 0xFFFF:04x}-{0x1000 | ((ticks >> 48) & 0x0FFF):04x}-"
        f"{clock_seq:04x}-{node:012x}"
    )


def _classic_request_id(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()[:27].replace("_", "@")


def _materialise(step: _Step, published: str, uuid: str, request_id: str) -> dict:
    client = step.client
    kind = step.kind
    debug_data = {"requestId": request_id}
    debug_data.update(step.debug)
    return {
        "actor": step.actor,
        "client": client.client,
        "device": client.device,
        "authenticationContext": step.auth,
        "displayMessage": kind.display,
        "eventType": kind.event_type,
        "outcome": step.outcome,
        "published": published,
        "securityContext": client.security,
        "severity": kind.severity,
        "debugContext": {"debugData": debug_data},
        "legacyEventType": kind.legacy,
        "transaction": {"type": "WEB", "id": request_id, "detail": {}},
        "uuid": uuid,
        "version": "0",
        "request": client.request,
        "target": step.target,
    }


def _plain_line(event: dict) -> bytes:
    return orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE)


def _escaped_line(event: dict) -> bytes:
    """What exporters built on Gson emit: ASCII only, and ``= < > & '`` as ``\\u003d`` etc."""
    text = json.dumps(event, ensure_ascii=True, separators=(",", ":"))
    text = text.replace("=", "\\u003d").replace("<", "\\u003c").replace(">", "\\u003e")
    text = text.replace("&", "\\u0026").replace("'", "\\u0027")
    return (text + "\n").encode("ascii")


# ---------------------------------------------------------------------------------------------------------
# The stream
# ---------------------------------------------------------------------------------------------------------


class EventStream:
    """One pass over a generated data set: iterate it for event dicts, or call :meth:`lines` for NDJSON.

    After the pass, :meth:`ground_truth` describes the scenario sessions that were emitted and
    the counters (``events``, ``bytes``, ``rule_events``, ``escaped_events``) are final.
    """

    SHUFFLE_BUFFER = 50_000

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.population = _make_population(config.seed)
        self._rng = random.Random(f"{config.seed}:events")
        self._escape_rng = random.Random(f"{config.seed}:escape")
        self._planner = _Planner(config, self.population, set())
        self._clock = _Clock()
        node_rng = random.Random(f"{config.seed}:uuid")
        self._uuid_node = node_rng.getrandbits(16) << 32
        self._uuid_clock_seq = 0x8000 | node_rng.getrandbits(14)
        self._started = False
        self._done = False
        self._truth: list[SessionTruth] = []
        self._facts: list[tuple[str, str, _Facts]] = []
        self.events = 0
        self.bytes = 0
        self.rule_events = 0
        self.escaped_events = 0
        self.first_published: str | None = None
        self.last_published: str | None = None

    # -- public ----------------------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[dict]:
        serialize = self.config.target_bytes is not None
        for event, _line in self._emit(serialize):
            yield event

    def lines(self) -> Iterator[bytes]:
        """Serialised NDJSON lines (newline included)."""
        for _event, line in self._emit(serialize=True):
            yield line

    def records(self) -> Iterator[tuple[dict, bytes]]:
        """Pairs of (event, its serialised line)."""
        return self._emit(serialize=True)

    def ground_truth(self) -> GroundTruth:
        if not self._done:
            raise RuntimeError("the ground truth is known once the stream has been consumed")
        return GroundTruth(self.config.as_dict(), self._truth, self._groups())

    # -- generation --------------------------------------------------------------------------------------

    def _emit(self, serialize: bool) -> Iterator[tuple[dict, bytes | None]]:
        if self._started:
            raise RuntimeError("an EventStream can be consumed once; create a new one")
        self._started = True
        records = self._ordered(serialize)
        if self.config.shuffle:
            records = self._shuffled(records)
        yield from records
        self._done = True

    def _ordered(self, serialize: bool) -> Iterator[tuple[dict, bytes | None]]:
        heap: list[tuple[int, int, _Pending | _Active]] = []
        planner = self._planner
        target = self.config.target_bytes
        escape_share = self.config.escape_share
        escape_random = self._escape_rng.random
        seq = 0
        stopping = False
        while True:
            while not stopping and not planner.finished and (not heap or heap[0][0] >= self._next_hour_ms()):
                for pending in planner.plan_next_hour():
                    heapq.heappush(heap, (pending.start_ms + self._first_offset(pending), seq, pending))
                    seq += 1
            if not heap:
                return
            when, order, item = heapq.heappop(heap)
            if type(item) is _Pending:
                if stopping:
                    continue
                item = self._start(item)
            step = item.steps[item.index]
            item.index += 1
            if item.index < len(item.steps):
                heapq.heappush(heap, (item.start_ms + item.steps[item.index].offset_ms, order, item))
            event = self._event(step, when)
            escaped = escape_share > 0 and escape_random() < escape_share
            line = None
            if serialize:
                line = _escaped_line(event) if escaped else _plain_line(event)
                self.bytes += len(line)
            self._count(step, event, escaped)
            yield event, line
            if target is not None and self.bytes >= target:
                stopping = True

    def _next_hour_ms(self) -> int:
        return (self._planner.start_hour + self._planner.hour) * WINDOW_MS

    @staticmethod
    def _first_offset(pending: _Pending) -> int:
        return pending.design.steps[0].offset_ms if pending.design is not None else 0

    def _start(self, pending: _Pending) -> _Active:
        if pending.design is None:
            steps = pending.flow.build(self._planner.ctx, pending.user, pending.events)
            steps.sort(key=lambda s: s.offset_ms)
            return _Active(steps, pending.start_ms)
        self._record_truth(pending.design, pending.start_ms)
        return _Active(pending.design.steps, pending.start_ms)

    def _event(self, step: _Step, when: int) -> dict:
        raw = self._rng.randbytes(16 if step.hex_ids else 20)
        request_id = raw.hex() if step.hex_ids else _classic_request_id(raw)
        published = self._clock.iso(when)
        uuid = _uuid(when, self.events, self._uuid_node, self._uuid_clock_seq)
        return _materialise(step, published, uuid, request_id)

    def _count(self, step: _Step, event: dict, escaped: bool) -> None:
        self.events += 1
        self.rule_events += step.is_rule_event
        self.escaped_events += escaped
        if self.first_published is None:
            self.first_published = event["published"]
        self.last_published = event["published"]

    def _shuffled(self, records: Iterator[tuple[dict, bytes | None]]) -> Iterator[tuple[dict, bytes | None]]:
        rng = random.Random(f"{self.config.seed}:shuffle")
        buffer: list[tuple[dict, bytes | None]] = []
        for record in records:
            if len(buffer) < self.SHUFFLE_BUFFER:
                buffer.append(record)
                continue
            index = rng.randrange(len(buffer))
            yield buffer[index]
            buffer[index] = record
        rng.shuffle(buffer)
        yield from buffer

    # -- ground truth ------------------------------------------------------------------------------------

    def _record_truth(self, design: _Design, start_ms: int) -> None:
        window_ms = start_ms // WINDOW_MS * WINDOW_MS
        window = _iso_seconds(window_ms)
        scenario = SCENARIOS_BY_LABEL[design.label]
        group = NULL_GROUP if design.session_id is None else design.session_id
        self._truth.append(
            SessionTruth(
                label=design.label,
                expected_alert=scenario.expected_alert,
                session_id=design.session_id,
                group=group,
                user=design.users[0],
                users=design.users,
                window_start=window,
                first_published=_iso_millis(start_ms + design.steps[0].offset_ms),
                last_published=_iso_millis(start_ms + design.steps[-1].offset_ms),
                design=design.facts.as_dict(),
                case_twin_of=design.case_twin_of,
            )
        )
        if any(step.is_rule_event for step in design.steps):
            self._facts.append((window, group, design.facts))

    def _groups(self) -> list[dict[str, Any]]:
        merged: dict[tuple[str, str], _Facts] = {}
        for window, group, facts in self._facts:
            key = (window, group)
            merged[key] = merged[key].merge(facts) if key in merged else facts
        groups = []
        for (window, group), facts in sorted(merged.items()):
            metrics = facts.metrics()
            groups.append(
                {"window_start": window, "group": group, **metrics, "alert": alert_condition(metrics)}
            )
        by_label = {(s.window_start, s.group) for s in self._truth if s.expected_alert}
        if by_label != {(g["window_start"], g["group"]) for g in groups if g["alert"]}:
            raise AssertionError("scenario labels and group metrics disagree about the alerts")
        return groups


def iter_events(config: GeneratorConfig) -> Iterator[dict]:
    """Generated events in ``published`` order (or shuffled), deterministic for ``config.seed``."""
    return iter(EventStream(config))


# ---------------------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------------------


def _open_output(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "wb", compresslevel=1)
    return open(path, "wb")


def write_dataset(
    config: GeneratorConfig, events_path: str | Path, truth_path: str | Path | None = None
) -> DatasetSummary:
    """Write the events as NDJSON (gzip when the name ends in ``.gz``) and, if asked, the ground truth JSON."""
    began = time.perf_counter()
    events_path = Path(events_path)
    events_path.parent.mkdir(parents=True, exist_ok=True)
    stream = EventStream(config)
    with _open_output(events_path) as out:
        chunk: list[bytes] = []
        for line in stream.lines():
            chunk.append(line)
            if len(chunk) == 2048:
                out.write(b"".join(chunk))
                chunk.clear()
        out.write(b"".join(chunk))
    truth = stream.ground_truth()
    if truth_path is not None:
        truth_path = Path(truth_path)
        truth_path.parent.mkdir(parents=True, exist_ok=True)
        truth_path.write_bytes(
            orjson.dumps(truth.as_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
        )
    seconds = time.perf_counter() - began
    return DatasetSummary(
        events_path=str(events_path),
        truth_path=None if truth_path is None else str(truth_path),
        events=stream.events,
        bytes=stream.bytes,
        rule_events=stream.rule_events,
        push_share=stream.rule_events / stream.events if stream.events else 0.0,
        escaped_events=stream.escaped_events,
        sessions=dict(sorted(Counter(s.label for s in truth.sessions).items())),
        expected_alerts=len(truth.expected_alerts),
        first_published=stream.first_published,
        last_published=stream.last_published,
        seconds=round(seconds, 3),
        mb_per_s=round(stream.bytes / 1e6 / seconds, 1) if seconds else 0.0,
    )
