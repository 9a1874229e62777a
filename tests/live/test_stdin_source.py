"""The stdin source: lines until EOF (the last one without a newline too), then None; waiting on a
quiet pipe returns after the timeout; a saved position is accepted with a note, never replayed."""

from __future__ import annotations

import io
import os
import time

import pytest

from sigma.backends.okta.live.source import LiveSourceError
from sigma.backends.okta.live.stdin_source import StdinSource


def test_lines_until_eof_then_the_end():
    source = StdinSource(io.BytesIO(b'{"a": 1}\n{"b": 2}\n{"c": 3}'), read_bytes=5)
    source.open(None)
    lines = []
    while (batch := source.poll(1.0)) is not None:
        lines += batch.lines
    assert lines == [b'{"a": 1}', b'{"b": 2}', b'{"c": 3}']
    assert source.poll(1.0) is None


def test_a_quiet_pipe_returns_an_empty_batch_after_the_timeout_and_holds_partial_lines():
    read_end, write_end = os.pipe()
    with open(read_end, "rb", buffering=0) as stream:
        source = StdinSource(stream)
        source.open(None)
        os.write(write_end, b'{"a": 1}\n{"b":')
        assert source.poll(1.0).lines == [b'{"a": 1}']
        started = time.monotonic()
        quiet = source.poll(0.05)
        assert quiet.lines == [] and 0.04 < time.monotonic() - started < 1.0
        os.write(write_end, b" 2}\n")
        batch = source.poll(1.0)
        assert batch.lines == [b'{"b": 2}'] and batch.position == {"source": "stdin", "bytes": 18}
        os.close(write_end)
        assert source.poll(1.0).lines == []  # EOF: the last batch
        assert source.poll(1.0) is None


def test_a_line_over_the_limit_is_skipped_with_a_note():
    source = StdinSource(io.BytesIO(b"x" * 50 + b'\n{"a": 1}\n'), read_bytes=8, max_line_bytes=20)
    source.open(None)
    lines, notes, too_long = [], [], []
    while (batch := source.poll(1.0)) is not None:
        lines += batch.lines
        notes += batch.notes
        too_long += batch.too_long
    assert lines == [b'{"a": 1}']
    assert notes == ["a line longer than 20 bytes: skipped"]
    assert [at for at, _ in too_long] == [0]  # handed on to be counted as bad input


def test_resuming_is_accepted_with_a_note_and_a_foreign_position_refused():
    source = StdinSource(io.BytesIO(b'{"a": 1}\n'))
    source.open({"source": "stdin", "bytes": 120})
    batch = source.poll(1.0)
    assert batch.lines == [b'{"a": 1}'] and "cannot be replayed" in batch.notes[0]
    with pytest.raises(LiveSourceError, match="not one of stdin"):
        StdinSource(io.BytesIO()).open({"source": "file", "path": "/x"})
