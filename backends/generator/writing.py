"""Files: :func:`write_dataset` writes the NDJSON (gzip by suffix) and the ground-truth JSON, and returns
a :class:`DatasetSummary`."""

from __future__ import annotations

import gzip
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .config import GeneratorConfig
from .stream import EventStream


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
    expected_alerts: int  # of the push-mismatch rule
    pack_alerts: int  # of every rule of the pack
    first_published: str | None
    last_published: str | None
    seconds: float
    mb_per_s: float = field(default=0.0)
    broken_intents: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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
        pack_alerts=truth.pack_alerts,
        first_published=stream.first_published,
        last_published=stream.last_published,
        seconds=round(seconds, 3),
        mb_per_s=round(stream.bytes / 1e6 / seconds, 1) if seconds else 0.0,
        broken_intents=truth.broken_intents,
    )
