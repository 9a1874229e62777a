"""`watch --state FILE`: the checkpoint, one SQLite database (standard library) written atomically.

What it holds (format version :data:`STATE_VERSION`, documented in docs/engine.md):

- ``meta``: the format version, the source's name and position (JSON, as the source made it), the
  scan's newest event time, watermark and newest *real* event time (the idle timeout may have moved the
  first two), and cumulative counters for the status line;
- ``windows``: per correlation (keyed by rule id, else title), a fingerprint of its definition and the
  pickled state of its open windows (``Scan.stores[i]``: window -> group -> GroupState). Pickle because
  the states hold the engine's own accumulator classes (sets, sorted samples, first/last times), which
  the parallel workers already ship the same way and which round-trip exactly; the version and the
  fingerprint say when a state no longer fits the code or the rule, and a state that cannot be read is
  discarded with a warning. A state file is as trusted as the rules (it is written 0600 by watch);
- ``sinks``: each sink's ledger at the checkpoint (the output file's size once synced);
- ``delivered``: ids of alerts a sink holds that a replay from the checkpoint may give again, with the
  end of a correlation alert's window (NULL for a match alert): those confirmed after the checkpoint
  by a sink that cannot be its own ledger (the webhook; committed one by one as confirmed), and those
  a process delivered *ahead* of this checkpoint before it crashed and that the replay has not
  reached yet.

:meth:`StateFile.save` writes all of it in one transaction. What this process delivered before a
checkpoint comes from input before its position (match alerts) or from windows that ended at or
before its watermark (correlation alerts: their later events are late), so a replay from it never
gives them again and their ids are pruned. Ids delivered ahead of the checkpoint are kept until the
replay gives them again, and a correlation alert's id once the watermark passes its window's end.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import orjson
from sigma.rule import SigmaRule

from .source import Position

STATE_VERSION = 1
PICKLE_PROTOCOL = 5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS windows (
    rule TEXT PRIMARY KEY, title TEXT NOT NULL, fingerprint TEXT NOT NULL, store BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sinks (sink TEXT PRIMARY KEY, ledger TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS delivered (sink TEXT NOT NULL, alert_id TEXT NOT NULL, window_end_us INTEGER,
    PRIMARY KEY (sink, alert_id));
"""


class StateError(Exception):
    """A state file that this watch cannot resume from; the message says why and what to do."""


@dataclass
class WindowState:
    """One correlation's open windows as stored: its title, fingerprint and pickled store."""

    title: str
    fingerprint: str
    store: bytes


@dataclass
class Checkpoint:
    """Everything a restart resumes from (see the module docstring)."""

    source_name: str
    position: Position | None
    max_time_us: int | None = None
    watermark_us: int | None = None
    newest_event_us: int | None = None
    windows: dict[str, WindowState] = field(default_factory=dict)
    ledgers: dict[str, dict] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    #: sink name -> alert id -> window end (None: a match alert): ids a replay from here may give again
    delivered: dict[str, dict[str, int | None]] = field(default_factory=dict)


class StateFile:
    """The SQLite checkpoint of one watch (one process at a time)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                # the state holds event values (users, addresses): readable by its owner only
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            self.db = sqlite3.connect(self.path, isolation_level=None)
            # WAL: a commit is one append and fsync; FULL: a committed checkpoint survives power loss too
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as error:
            raise StateError(f"--state {self.path}: not a watch state file ({error})") from error
        except OSError as error:
            raise StateError(f"--state {self.path}: {error.strerror}") from error
        version = self._meta().get("format_version")
        if version is not None and int(version) != STATE_VERSION:
            raise StateError(
                f"--state {self.path} is in state format {version}; this sigma-okta reads format "
                f"{STATE_VERSION}: give a new --state (the watch then starts afresh)"
            )

    def _meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta"))

    def load(self) -> Checkpoint | None:
        """The last checkpoint, or None for a new state file."""
        meta = self._meta()
        if "source" not in meta:
            return None
        checkpoint = Checkpoint(
            source_name=meta["source"],
            position=orjson.loads(meta["position"]),
            max_time_us=orjson.loads(meta["max_time_us"]),
            watermark_us=orjson.loads(meta["watermark_us"]),
            newest_event_us=orjson.loads(meta["newest_event_us"]),
            counters=orjson.loads(meta.get("counters", "{}")),
        )
        for rule, title, fingerprint, store in self.db.execute(
            "SELECT rule, title, fingerprint, store FROM windows"
        ):
            checkpoint.windows[rule] = WindowState(title, fingerprint, store)
        for sink, ledger in self.db.execute("SELECT sink, ledger FROM sinks"):
            checkpoint.ledgers[sink] = orjson.loads(ledger)
        checkpoint.delivered = self.delivered()
        return checkpoint

    def delivered(self) -> dict[str, dict[str, int | None]]:
        """The ids a replay may give again, per sink (also before a first checkpoint)."""
        found: dict[str, dict[str, int | None]] = {}
        for sink, alert_id, window_end in self.db.execute(
            "SELECT sink, alert_id, window_end_us FROM delivered"
        ):
            found.setdefault(sink, {})[alert_id] = window_end
        return found

    def record_delivered(self, sink: str, alert_id: str, window_end_us: int | None) -> None:
        """A sink confirmed an alert: committed at once, so a crash before the next checkpoint does
        not deliver it again."""
        self.db.execute("INSERT OR IGNORE INTO delivered VALUES (?, ?, ?)", (sink, alert_id, window_end_us))

    def save(self, checkpoint: Checkpoint) -> None:
        """Replace the checkpoint with ``checkpoint`` in one transaction (its ``delivered`` replaces the
        delivered ids: the caller has pruned them)."""
        meta = {
            "format_version": str(STATE_VERSION),
            "source": checkpoint.source_name,
            "position": orjson.dumps(checkpoint.position).decode(),
            "max_time_us": orjson.dumps(checkpoint.max_time_us).decode(),
            "watermark_us": orjson.dumps(checkpoint.watermark_us).decode(),
            "newest_event_us": orjson.dumps(checkpoint.newest_event_us).decode(),
            "counters": orjson.dumps(checkpoint.counters).decode(),
        }
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
            db.execute("DELETE FROM windows")
            db.executemany(
                "INSERT INTO windows VALUES (?, ?, ?, ?)",
                [(rule, w.title, w.fingerprint, w.store) for rule, w in checkpoint.windows.items()],
            )
            db.execute("DELETE FROM sinks")
            db.executemany(
                "INSERT INTO sinks VALUES (?, ?)",
                [(sink, orjson.dumps(ledger).decode()) for sink, ledger in checkpoint.ledgers.items()],
            )
            db.execute("DELETE FROM delivered")  # only those a replay may give again (module docstring)
            db.executemany(
                "INSERT INTO delivered VALUES (?, ?, ?)",
                [
                    (sink, alert_id, window_end)
                    for sink, ids in checkpoint.delivered.items()
                    for alert_id, window_end in ids.items()
                ],
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()


# -- what a correlation's state is valid for -------------------------------------------------------


def rule_key(rule: Any) -> str:
    """How the state of a correlation is found again: its id, else its title."""
    return str(rule.id) if getattr(rule, "id", None) else f"title:{rule.title}"


def fingerprint(rule: Any, extra: tuple = ()) -> str:
    """A digest of a correlation's definition and the base rules it reads (their detections), so that
    changing either discards its saved windows; where the rules live on disk does not count. ``extra``
    adds engine options that change what a state means (the time and event id fields)."""
    text = orjson.dumps([_canonical(rule, set()), list(extra)], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(text).hexdigest()[:32]


# where a rule lives and how it is documented do not change what its windows hold
_SKIPPED_FIELDS = {
    "source",
    "custom_attributes_source",
    "description",
    "references",
    "author",
    "date",
    "modified",
    "falsepositives",
    "license",
    "status",
    "related",
}


def _canonical(value: Any, seen: set[int]) -> Any:
    """A JSON-able rendering of a rule's definition, without object addresses or file locations."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, type):
        return f"class:{value.__qualname__}"
    if isinstance(value, dict):
        return {str(_canonical(key, seen)): _canonical(item, seen) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_canonical(item, seen) for item in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if id(value) in seen:
        return "<cycle>"
    seen = seen | {id(value)}
    if isinstance(value, SigmaRule):
        data = {key: item for key, item in value.to_dict().items() if key not in _SKIPPED_FIELDS}
        if isinstance(data.get("logsource"), dict):  # pySigma puts the file and line there
            data["logsource"] = {key: item for key, item in data["logsource"].items() if key != "source"}
        return _canonical(data, seen)
    if is_dataclass(value):
        return {
            "class": type(value).__name__,
            **{
                item.name: _canonical(getattr(value, item.name, None), seen)
                for item in fields(value)
                if not item.name.startswith("_") and item.name not in _SKIPPED_FIELDS
            },
        }
    if hasattr(value, "__dict__"):
        return {
            "class": type(value).__name__,
            **{
                name: _canonical(item, seen)
                for name, item in vars(value).items()
                if not name.startswith("_") and name not in _SKIPPED_FIELDS
            },
        }
    return f"{type(value).__name__}:{value}"
