"""The followed-file source on real files: appends, partial lines, rotation by rename and truncation,
resuming from a position (also after a rotation while stopped). Sleep is a fake clock's."""

from __future__ import annotations

import os

import orjson
import pytest

from sigma.backends.okta.live.follow import FollowedFile
from sigma.backends.okta.live.source import LiveSourceError


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _lines(first: int, count: int) -> list[bytes]:
    return [orjson.dumps({"uuid": f"e{index}", "n": index}) for index in range(first, first + count)]


def _append(path, data: bytes) -> None:
    with open(path, "ab") as stream:
        stream.write(data)


def _joined(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def _follow(path, clock: FakeClock | None = None, **options) -> FollowedFile:
    clock = clock or FakeClock()
    return FollowedFile(path, poll_interval=0.5, clock=clock, sleep=clock.sleep, **options)


def _drain(source: FollowedFile) -> tuple[list[bytes], list[str], dict]:
    """Lines and notes of polls until one is empty; the last position."""
    lines: list[bytes] = []
    notes: list[str] = []
    for _ in range(100):
        batch = source.poll(1.0)
        lines += batch.lines
        notes += batch.notes
        if not batch.lines:
            return lines, notes, batch.position
    raise AssertionError("the file never ran dry")


def test_appended_lines_come_as_they_are_written(tmp_path):
    path = tmp_path / "okta.jsonl"
    path.write_bytes(_joined(_lines(0, 2)))
    clock = FakeClock()
    source = _follow(path, clock)
    source.open(None)
    first = source.poll(1.0)
    assert first.lines == _lines(0, 2) and first.size == path.stat().st_size
    idle = source.poll(1.0)
    assert idle.lines == [] and clock.sleeps == [0.5, 0.5]  # waited its timeout in poll intervals
    _append(path, _joined(_lines(2, 3)))
    assert source.poll(1.0).lines == _lines(2, 3)
    position = source.poll(0.0).position
    source.close()
    status = path.stat()
    assert position["inode"] == status.st_ino and position["device"] == status.st_dev
    assert position["offset"] == status.st_size and position["path"] == str(path)


def test_a_partial_last_line_is_held_back_until_completed(tmp_path):
    path = tmp_path / "okta.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": ')
    source = _follow(path)
    source.open(None)
    batch = source.poll(1.0)
    assert batch.lines == [b'{"a": 1}']
    assert batch.position["offset"] == len(b'{"a": 1}\n')  # the partial line is not consumed
    assert source.poll(1.0).lines == []
    _append(path, b'2}\n{"c": 3}\n')
    assert source.poll(1.0).lines == [b'{"b": 2}', b'{"c": 3}']
    source.close()


def test_rotation_by_rename_finishes_the_old_file_then_reads_the_new_one(tmp_path):
    path = tmp_path / "okta.jsonl"
    path.write_bytes(_joined(_lines(0, 2)))
    source = _follow(path)
    source.open(None)
    assert source.poll(1.0).lines == _lines(0, 2)
    _append(path, _joined(_lines(2, 2)) + b'{"unfinished"')  # written before the writer moved on
    os.rename(path, tmp_path / "okta.jsonl.1")
    path.write_bytes(_joined(_lines(4, 2)))
    lines, notes, position = _drain(source)
    source.close()
    assert lines == [*_lines(2, 2), b'{"unfinished"', *_lines(4, 2)]
    assert any("was rotated: finished the old file" in note for note in notes)
    assert any("ended inside a line (13 bytes without a newline)" in note for note in notes)
    assert position["inode"] == path.stat().st_ino and position["offset"] == path.stat().st_size


def test_a_renamed_away_file_is_followed_until_a_new_one_appears(tmp_path):
    path = tmp_path / "okta.jsonl"
    path.write_bytes(_joined(_lines(0, 1)))
    source = _follow(path)
    source.open(None)
    source.poll(1.0)
    os.rename(path, tmp_path / "okta.jsonl.1")
    _append(tmp_path / "okta.jsonl.1", _joined(_lines(1, 1)))  # the writer has not reopened yet
    assert source.poll(1.0).lines == _lines(1, 1)
    path.write_bytes(_joined(_lines(2, 1)))
    assert _drain(source)[0] == _lines(2, 1)
    source.close()


def test_truncation_starts_again_at_zero_with_a_note(tmp_path):
    path = tmp_path / "okta.jsonl"
    path.write_bytes(_joined(_lines(0, 3)))
    source = _follow(path)
    source.open(None)
    assert source.poll(1.0).lines == _lines(0, 3)
    with open(path, "r+b") as stream:
        stream.truncate(0)
    _append(path, _joined(_lines(3, 1)))  # shorter than what was read
    batch = source.poll(1.0)
    source.close()
    assert batch.lines == _lines(3, 1)
    assert any("was truncated (now" in note and "again from its start" in note for note in batch.notes)
    assert batch.position["offset"] == path.stat().st_size


def test_resuming_from_a_position_reads_on_after_it(tmp_path):
    path = tmp_path / "okta.jsonl"
    path.write_bytes(_joined(_lines(0, 3)) + b'{"half": ')
    first = _follow(path)
    first.open(None)
    batch = first.poll(1.0)
    first.close()
    _append(path, b"1}\n" + _joined(_lines(3, 2)))  # while watch is stopped
    second = _follow(path)
    second.open(orjson.loads(orjson.dumps(batch.position)))
    lines, notes, _ = _drain(second)
    second.close()
    assert batch.lines + lines == [*_lines(0, 3), b'{"half": 1}', *_lines(3, 2)]
    assert notes == []


def test_resuming_after_a_rotation_while_stopped_finishes_the_rotated_file(tmp_path):
    path = tmp_path / "okta.jsonl"
    path.write_bytes(_joined(_lines(0, 2)))
    first = _follow(path)
    first.open(None)
    batch = first.poll(1.0)
    first.close()
    _append(path, _joined(_lines(2, 2)))  # written after the last checkpoint, then rotated
    os.rename(path, tmp_path / "okta.jsonl.1")
    path.write_bytes(_joined(_lines(4, 2)))
    second = _follow(path)
    second.open(batch.position)
    lines, notes, _ = _drain(second)
    second.close()
    assert batch.lines + lines == _lines(0, 6)
    assert "rotated while watch was stopped: finishing okta.jsonl.1 from byte" in notes[0]


def test_resuming_when_the_rotated_file_is_gone_reads_the_new_file_from_zero(tmp_path):
    path = tmp_path / "okta.jsonl"
    path.write_bytes(_joined(_lines(0, 2)))
    first = _follow(path)
    first.open(None)
    batch = first.poll(1.0)
    first.close()
    os.rename(path, tmp_path / "gone.jsonl")
    path.write_bytes(_joined(_lines(2, 2)))
    (tmp_path / "gone.jsonl").unlink()
    second = _follow(path)
    second.open(batch.position)
    lines, notes, _ = _drain(second)
    second.close()
    assert lines == _lines(2, 2)
    assert "is neither at" in notes[0] and "are not read" in notes[0]


@pytest.mark.parametrize("rewrite", ["shorter", "rewritten"])
def test_resuming_on_a_file_truncated_while_stopped_starts_at_zero(tmp_path, rewrite):
    path = tmp_path / "okta.jsonl"
    path.write_bytes(_joined(_lines(0, 3)))
    first = _follow(path)
    first.open(None)
    batch = first.poll(1.0)
    first.close()
    replacement = _lines(10, 1) if rewrite == "shorter" else _lines(10, 6)  # longer than the offset
    with open(path, "r+b") as stream:  # the same inode, new content
        stream.truncate(0)
        stream.write(_joined(replacement))
    second = _follow(path)
    second.open(batch.position)
    lines, notes, _ = _drain(second)
    second.close()
    assert lines == replacement
    expected = "truncated while watch was stopped" if rewrite == "shorter" else "the same one rewritten"
    assert expected in notes[0]


def test_a_missing_file_is_waited_for(tmp_path):
    path = tmp_path / "later.jsonl"
    clock = FakeClock()
    source = _follow(path, clock)
    source.open(None)
    waiting = source.poll(1.0)
    assert waiting.lines == [] and waiting.notes == [f"waiting for {path} to appear"]
    assert waiting.position["inode"] is None and clock.sleeps == [0.5, 0.5]
    assert source.poll(1.0).notes == []  # said once
    path.write_bytes(_joined(_lines(0, 1)))
    assert source.poll(1.0).lines == _lines(0, 1)
    source.close()


def test_a_line_over_the_limit_is_skipped_with_a_note(tmp_path):
    path = tmp_path / "okta.jsonl"
    long_line = b'{"x": "' + b"a" * 300 + b'"}'
    path.write_bytes(_joined([*_lines(0, 1), long_line, *_lines(1, 1)]))
    source = _follow(path, max_line_bytes=100, read_bytes=64)  # the long line spans several reads
    source.open(None)
    too_long = []
    poll = source.poll
    source.poll = lambda timeout: (batch := poll(timeout)) and (too_long.extend(batch.too_long) or batch)
    lines, notes, position = _drain(source)
    source.close()
    assert lines == _lines(0, 2)
    at = len(_lines(0, 1)[0]) + 1
    assert notes == [f"a line at byte {at} is longer than 100 bytes: skipped"]
    # handed on to be counted as bad input, with its first bytes
    assert [offset for offset, _ in too_long] == [at] and long_line.startswith(too_long[0][1])
    assert position["offset"] == path.stat().st_size


def test_positions_of_another_file_or_source_are_refused(tmp_path):
    source = _follow(tmp_path / "a.jsonl")
    other = {"source": "file", "path": str(tmp_path / "b.jsonl"), "device": 1, "inode": 2, "offset": 0}
    with pytest.raises(LiveSourceError, match=r"position is for .*b\.jsonl"):
        source.open(other)
    with pytest.raises(LiveSourceError, match="not one of a followed file"):
        source.open({"source": "okta", "next": "https://x.okta.com/api/v1/logs"})


def test_a_folder_cannot_be_followed(tmp_path):
    with pytest.raises(LiveSourceError, match="not a regular file"):
        _follow(tmp_path).open(None)
