"""Small value builders: Okta ids, session ids, IPs, behavior strings, logins, timestamps, rounding."""

from __future__ import annotations

import functools
import random
import time
import unicodedata
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import orjson

from .tables import _ALNUM, _ASCII_FOLD, _CLASSIC_SESSION_CHARS, BEHAVIOR_NAMES, ORG_DOMAIN, Isp


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
