"""Where `watch` delivers alerts, and what each place confirms.

An alert counts as delivered once its sink confirms it: written (and flushed) to stdout or the output
file, a 2xx from the webhook, or written to the dead-letter file once the webhook's retries are
exhausted. The watch loop remembers the ids confirmed since its last checkpoint and never hands a sink
an id it has confirmed; what a sink can remember across a crash decides its guarantee:

- :class:`FileSink` (``--output``): its own ledger. On start it drops a torn last line (an alert whose
  write a kill cut short: never confirmed) and reads the ids written since the checkpoint's ledger
  offset: exactly once across ``kill -9``.
- :class:`StdoutSink`: nothing to read back; alerts written after the last checkpoint are written again
  after a crash: at least once.
- :class:`WebhookSink` (``--webhook``): each confirmed id is committed to the state file as it is
  confirmed; a crash between the receiver's 2xx and that commit posts it again, with the same
  ``Idempotency-Key`` header (the alert id): at least once, exactly once for a receiver that dedupes.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol

import orjson

LEDGER_BLOCK = 1 << 20


class SinkError(Exception):
    """A sink that cannot start or write (the message names it and the reason)."""


class Sink(Protocol):
    #: what the ledger and the messages call it: ``stdout``, ``file:PATH``, ``webhook:URL``
    name: str
    #: "exactly once" or "at least once" (docs/engine.md)
    guarantee: str
    #: whether each confirmed id must be committed to the state at once (the sink keeps no ledger)
    records_each: bool

    def open(self, ledger: dict | None) -> dict[str, int | None]:
        """Start; ``ledger`` is what :meth:`sync` returned at the last checkpoint (None: no checkpoint).
        Returns the ids this sink already holds beyond that checkpoint, each with its window's end
        (None for a match alert)."""

    def deliver(self, alert_id: str, payload: bytes) -> None:
        """Deliver one alert (``payload``: its JSON, no newline), returning once it is confirmed."""

    def sync(self) -> dict:
        """Make what was delivered durable; the ledger to store with the checkpoint."""

    def close(self) -> None: ...


class StdoutSink:
    """One JSON object per line on stdout, flushed per alert (at least once after a crash)."""

    name = "stdout"
    guarantee = "at least once"
    records_each = False

    def __init__(self, stream: IO[bytes] | None = None):
        self.stream = stream if stream is not None else sys.stdout.buffer

    def open(self, ledger: dict | None) -> dict[str, int | None]:
        return {}

    def deliver(self, alert_id: str, payload: bytes) -> None:
        self.stream.write(payload + b"\n")
        self.stream.flush()

    def sync(self) -> dict:
        return {}

    def close(self) -> None:
        self.stream.flush()


class FileSink:
    """NDJSON appended to a file: one ``write`` per alert (flushed to the OS, so a killed process loses
    nothing written), fsync at every checkpoint; the file is its own ledger (exactly once)."""

    guarantee = "exactly once"
    records_each = False

    def __init__(self, path: str | Path, warn: Callable[[str], None] = lambda message: None):
        self.path = Path(path)
        self.name = f"file:{self.path}"
        self.warn = warn
        self.fd: int | None = None

    def open(self, ledger: dict | None) -> dict[str, int | None]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            size = self._drop_torn_line()
        except OSError as error:
            raise SinkError(f"--output {self.path}: {error.strerror}") from error
        start = int((ledger or {}).get("offset", 0))
        if start > size:
            self.warn(
                f"--output {self.path} is shorter than at the last checkpoint ({size:,} < {start:,} bytes): "
                "reading every alert id in it"
            )
            start = 0
        return _ids_in(self.path, start)

    def _drop_torn_line(self) -> int:
        """Cut a last line without its newline (a write a kill cut short); returns the size after."""
        size = os.fstat(self.fd).st_size
        if size == 0:
            return 0
        tail_start = max(0, size - LEDGER_BLOCK)
        tail = os.pread(self.fd, size - tail_start, tail_start)
        if tail.endswith(b"\n"):
            return size
        cut = tail.rfind(b"\n")
        while cut < 0 and tail_start > 0:  # a line longer than a block: look further back
            tail_start = max(0, tail_start - LEDGER_BLOCK)
            tail = os.pread(self.fd, size - tail_start, tail_start)
            cut = tail.rfind(b"\n")
        keep = tail_start + cut + 1 if cut >= 0 else 0
        self.warn(f"--output {self.path}: dropped a torn last line ({size - keep:,} bytes) left by a crash")
        os.ftruncate(self.fd, keep)
        return keep

    def deliver(self, alert_id: str, payload: bytes) -> None:
        line = payload + b"\n"
        written = os.write(self.fd, line)
        while written < len(line):  # a regular file takes it whole; be exact anyway
            written += os.write(self.fd, line[written:])

    def sync(self) -> dict:
        os.fsync(self.fd)
        return {"offset": os.fstat(self.fd).st_size}

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _ids_in(path: Path, start: int) -> dict[str, int | None]:
    """The ``alert_id`` of every line of ``path`` from byte ``start``, with its window's end."""
    from ..engine.timestamps import parse_time

    found: dict[str, int | None] = {}
    with open(path, "rb") as stream:
        stream.seek(start)
        for line in stream:
            try:
                alert = orjson.loads(line)
                alert_id = alert.get("alert_id")
            except (orjson.JSONDecodeError, AttributeError):
                continue  # not ours (someone else wrote to the file): it names no alert of ours
            if isinstance(alert_id, str):
                window = alert.get("window")
                found[alert_id] = parse_time(window["end"]) if isinstance(window, dict) else None
    return found


class WebhookSink:
    """A JSON POST per alert; retried with capped exponential backoff; after ``retries`` failures the
    alert goes to the dead-letter file (fsynced), which also counts as delivered: nothing is lost.

    A 2xx confirms. 408, 429, 5xx and connection errors are retried; other 4xx answers cannot succeed
    by retrying and go to the dead-letter file at once. ``Idempotency-Key`` is the alert id.
    """

    guarantee = "at least once (exactly once if the receiver dedupes on Idempotency-Key)"
    records_each = True
    RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})

    def __init__(
        self,
        url: str,
        dead_letter: str | Path,
        *,
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        timeout: float = 10.0,
        headers: dict[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        warn: Callable[[str], None] = lambda message: None,
    ):
        if not url.startswith(("http://", "https://")):
            raise SinkError(f"--webhook {url}: not an http:// or https:// URL")
        self.url = url
        self.name = f"webhook:{url}"
        self.dead_letter = Path(dead_letter)
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.headers = headers or {}
        self.sleep = sleep
        self.warn = warn
        self.dead_fd: int | None = None
        self.dead_lettered = 0

    def open(self, ledger: dict | None) -> set[str]:
        try:
            self.dead_letter.parent.mkdir(parents=True, exist_ok=True)
            self.dead_fd = os.open(self.dead_letter, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as error:
            raise SinkError(f"--dead-letter {self.dead_letter}: {error.strerror}") from error
        return {}  # the ids it confirmed are in the state's delivered table

    def deliver(self, alert_id: str, payload: bytes) -> None:
        attempts, error = 0, ""
        while True:
            attempts += 1
            retryable, error = self._post(alert_id, payload)
            if not error:
                return
            if not retryable or attempts > self.retries:
                break
            self.sleep(min(self.max_backoff, self.backoff * 2 ** (attempts - 1)))
        self.warn(
            f"--webhook: alert {alert_id} not accepted after {attempts} attempts ({error}): dead-lettered"
        )
        record = orjson.dumps(
            {"alert_id": alert_id, "error": error, "attempts": attempts, "alert": orjson.Fragment(payload)},
            option=orjson.OPT_APPEND_NEWLINE,
        )
        os.write(self.dead_fd, record)
        os.fsync(self.dead_fd)  # the dead-letter file is what confirms it: make it durable first
        self.dead_lettered += 1

    def _post(self, alert_id: str, payload: bytes) -> tuple[bool, str]:
        """One attempt: ("" when accepted), else whether to retry and why not."""
        request = urllib.request.Request(
            self.url,
            data=payload,
            method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": alert_id, **self.headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
                return False, ""
        except urllib.error.HTTPError as error:
            error.close()
            return error.code in self.RETRYABLE, f"HTTP {error.code}"
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            return True, f"{type(reason).__name__}: {reason}"

    def sync(self) -> dict:
        return {"dead_lettered": self.dead_lettered}

    def close(self) -> None:
        if self.dead_fd is not None:
            os.close(self.dead_fd)
            self.dead_fd = None
