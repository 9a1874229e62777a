"""Sources: path expansion, format sniffing, chunking (ranges, limits, gzip, stdin) and JSON documents."""

from __future__ import annotations

import gzip
import io
import itertools
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shared_corpus import OKTA_SAMPLES

from sigma.backends.okta.engine import sources
from sigma.backends.okta.engine.decoding import BOM, decode_line
from sigma.backends.okta.engine.documents import iter_document_events
from sigma.backends.okta.engine.input_report import InputReport, Reason
from sigma.backends.okta.engine.sources import (
    STDIN_NAME,
    Chunk,
    Format,
    Source,
    SourceError,
    expand_sources,
    is_document,
    iter_chunks,
    sniff_format,
    split_ranges,
)
from sigma.backends.okta.engine.timestamps import BAD_TIME, MISSING_TIME, compile_time_getter

SAMPLES = OKTA_SAMPLES


def event(number: int, **extra) -> bytes:
    return orjson.dumps({"uuid": f"e{number}", "published": "2024-03-01T12:34:56.789Z", **extra})


def write(path: Path, data: bytes) -> Source:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    (source,) = expand_sources([str(path)])
    return source


def lines_of(chunks: list[Chunk]) -> list[tuple[int, bytes]]:
    """(offset, line without its newline) of every line of the chunks, checking the chunk contract."""
    found = []
    for index, chunk in enumerate(chunks):
        assert chunk.data, "chunks are never empty"
        if index < len(chunks) - 1:
            assert chunk.data.endswith(b"\n"), "only the last chunk may end without a newline"
        start = 0
        while start < len(chunk.data):
            end = chunk.data.find(b"\n", start)
            end = len(chunk.data) if end < 0 else end
            found.append((chunk.offset + start, chunk.data[start:end]))
            start = end + 1
    return found


def expected_lines(
    data: bytes, max_line_bytes: int | None = None
) -> tuple[list[tuple[int, bytes]], list[int]]:
    """The model: (offset, line) of the lines kept, and the offsets of the overlong ones."""
    kept, overlong, start = [], [], 0
    while start < len(data):
        end = data.find(b"\n", start)
        length = (len(data) - start) if end < 0 else (end + 1 - start)
        end = len(data) if end < 0 else end
        if max_line_bytes is not None and length > max_line_bytes:
            overlong.append(start)
        else:
            kept.append((start, data[start:end]))
        start = end + 1
    return kept, overlong


def scan(source: Source, report: InputReport, **options) -> list[dict]:
    """What the engine's hot loop does with a source: decode every line, count every offence."""
    found = []
    time_of = compile_time_getter()
    if sniff_format(source) is Format.DOCUMENT:
        pairs = list(iter_document_events(source, report))
    else:
        pairs = []
        for chunk in iter_chunks(source, report, **options):
            for offset, line in lines_of([chunk]):
                decoded, reason = decode_line(line)
                if reason is not None:
                    report.add_in_chunk(
                        reason, source, chunk, offset - chunk.offset, offset - chunk.offset + len(line)
                    )
                if decoded is not None:
                    pairs.append((offset, decoded))
    for offset, decoded in pairs:
        time = time_of(decoded)
        if time is MISSING_TIME or time is BAD_TIME:
            reason = Reason.MISSING_TIMESTAMP if time is MISSING_TIME else Reason.BAD_TIMESTAMP
            report.add(reason, source, offset, orjson.dumps(decoded))
        found.append(decoded)
    return found


@pytest.fixture
def stdin_bytes(monkeypatch):
    """Replace stdin's bytes for the code under test."""

    def replace(data: bytes) -> None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(data))))

    return replace


# -- expanding paths -------------------------------------------------------------------------------


def test_expand_files_folders_and_stdin(tmp_path):
    for name in [
        "b/2.jsonl",
        "b/1.json.gz",
        "a.ndjson",
        "c/deep/x.log",
        "c/deep/y.TXT",
        "skip.csv",
        ".hidden.jsonl",
        ".git/z.json",
        "c/notes.md",
    ]:
        write(tmp_path / name, b"{}\n") if not name.endswith(".gz") else None
    (tmp_path / "b/1.json.gz").write_bytes(gzip.compress(b"{}\n"))
    found = expand_sources([str(tmp_path), "-"])
    names = [Path(source.name).relative_to(tmp_path).as_posix() for source in found[:-1]]
    assert names == ["a.ndjson", "b/1.json.gz", "b/2.jsonl", "c/deep/x.log", "c/deep/y.TXT"]
    assert [source.compressed for source in found[:-1]] == [False, True, False, False, False]
    assert found[-1] == Source(STDIN_NAME, None, False) and found[-1].is_stdin


def test_a_named_file_is_taken_whatever_its_name_and_only_once(tmp_path):
    source = write(tmp_path / "export.csv", b"{}\n")
    assert expand_sources([source.name, str(tmp_path), source.name, "-", "-"]) == [
        source,
        Source(STDIN_NAME, None, False),
    ]


def test_gzip_is_recognised_by_its_magic_bytes_too(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(gzip.compress(event(1) + b"\n"))
    (source,) = expand_sources([str(path)])
    assert source.compressed
    assert [line for _, line in lines_of(list(iter_chunks(source, InputReport())))] == [event(1)]


def test_a_missing_path_is_an_error_naming_it(tmp_path):
    missing = str(tmp_path / "nope.jsonl")
    with pytest.raises(SourceError, match=r"nope\.jsonl"):
        expand_sources([str(tmp_path), missing])


# -- sniffing --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (event(1) + b"\n" + event(2) + b"\n", Format.NDJSON),
        (b"\n\n  " + event(1), Format.NDJSON),
        (b"", Format.NDJSON),
        (b"garbage\n" + event(1), Format.NDJSON),
        (b"[" + event(1) + b"," + event(2) + b"]", Format.DOCUMENT),
        (BOM + b"\n [\n" + event(1) + b"\n]", Format.DOCUMENT),
        (orjson.dumps({"a": {"b": 1}}, option=orjson.OPT_INDENT_2), Format.DOCUMENT),
        (event(1) + event(2) + b"\n", Format.DOCUMENT),  # concatenated on one line
        (BOM + event(1) + b"\n" + event(2), Format.NDJSON),
        (event(1)[:-5] + b"\n" + event(2) + b"\n", Format.NDJSON),  # a broken first line
        (event(1)[:-5] + b"\n", Format.DOCUMENT),  # nothing to tell: both readers give the same
    ],
)
def test_sniffing(tmp_path, data, expected):
    source = write(tmp_path / "events.json", data)
    assert sniff_format(source) is expected
    assert is_document(source, InputReport()) is (expected is Format.DOCUMENT)


def test_sniffing_a_gzip_document(tmp_path):
    path = tmp_path / "page.json.gz"
    path.write_bytes(gzip.compress(b"[" + event(1) + b"]"))
    (source,) = expand_sources([str(path)])
    assert sniff_format(source) is Format.DOCUMENT
    assert [found["uuid"] for _, found in iter_document_events(source, InputReport())] == ["e1"]


def test_sniffing_an_unreadable_source_counts_nothing(tmp_path):
    source = Source(str(tmp_path), tmp_path, False)  # a folder cannot be read as a file
    report = InputReport()
    assert sniff_format(source) is Format.NDJSON
    assert not report.has_offences
    list(iter_chunks(source, report))
    assert report.counts == {Reason.UNREADABLE_SOURCE: 1}


# -- chunks ----------------------------------------------------------------------------------------


def test_chunks_hold_whole_lines_at_their_offsets(tmp_path):
    data = b"".join(event(number) + b"\n" for number in range(1000))
    source = write(tmp_path / "events.jsonl", data)
    report = InputReport([source])
    chunks = list(iter_chunks(source, report, chunk_size=4096))
    assert len(chunks) > 10
    assert all(data[chunk.offset : chunk.offset + len(chunk.data)] == chunk.data for chunk in chunks)
    assert lines_of(chunks) == expected_lines(data)[0]
    assert all(chunk.first_line is None for chunk in chunks)  # regular files: resolved later
    assert report.bytes_read == len(data) and not report.has_offences


def test_every_input_reason_from_real_bytes(tmp_path):
    lines = [
        BOM + event(1),  # BOM at the file start: repaired
        event(2) + b"\r",  # CRLF
        b"",
        b"  \r",
        event(3)[:30],  # truncated
        b'{"uuid":"e4","published":"2024-03-01T12:34:56Z","name":"\xff\xfe bad"}',  # not UTF-8
        b"[1,2,3]",
        b"42",
        b'{"uuid":"e5","published":"2024-03-01T12:34:56Z",}',  # malformed
        b'{"uuid":"e6","text":"' + b"x" * 5000 + b'"}',  # over the limit below
        BOM + event(7),  # a BOM mid-file (concatenated exports)
        b'{"uuid":"e8"}',  # no time
        b'{"uuid":"e9","published":"yesterday"}',
        event(10),  # no final newline
    ]
    source = write(tmp_path / "events.jsonl", b"\n".join(lines))
    report = InputReport([source])
    found = scan(source, report, max_line_bytes=1024, chunk_size=700)
    assert [decoded["uuid"] for decoded in found] == ["e1", "e2", "e4", "e7", "e8", "e9", "e10"]
    assert found[2]["name"] == "\ufffd\ufffd bad"
    assert report.counts == {
        Reason.BOM: 2,
        Reason.MALFORMED_JSON: 2,
        Reason.INVALID_UTF8: 1,
        Reason.NOT_AN_OBJECT: 2,
        Reason.LINE_TOO_LONG: 1,
        Reason.MISSING_TIMESTAMP: 1,
        Reason.BAD_TIMESTAMP: 1,
    }
    report.resolve_line_numbers()
    assert str(report.first).startswith(f"{source.name}:1: bom: ")
    by_reason = {reason: offence.line for reason, offence in report.first_by_reason.items()}
    assert by_reason == {
        Reason.BOM: 1,
        Reason.MALFORMED_JSON: 5,
        Reason.INVALID_UTF8: 6,
        Reason.NOT_AN_OBJECT: 7,
        Reason.LINE_TOO_LONG: 10,
        Reason.MISSING_TIMESTAMP: 12,
        Reason.BAD_TIMESTAMP: 13,
    }


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 4096])
def test_an_overlong_line_is_skipped_and_its_neighbours_kept(tmp_path, chunk_size):
    data = event(1) + b"\n" + b"y" * 300 + b"\n" + event(2) + b"\n" + b"z" * 101
    source = write(tmp_path / "events.jsonl", data)
    report = InputReport([source])
    chunks = list(iter_chunks(source, report, chunk_size=chunk_size, max_line_bytes=100))
    assert [line for _, line in lines_of(chunks)] == [event(1), event(2)]
    assert report.counts == {Reason.LINE_TOO_LONG: 2}
    assert report.first.offset == len(event(1)) + 1 and report.first.excerpt.startswith("yyyy")


def test_a_line_exactly_at_the_limit_is_kept(tmp_path):
    line = b"a" * 99  # 100 bytes with its newline
    source = write(tmp_path / "events.jsonl", line + b"\n" + b"b" * 100)
    report = InputReport()
    found = lines_of(list(iter_chunks(source, report, max_line_bytes=100)))
    assert [text for _, text in found] == [line, b"b" * 100]
    assert not report.has_offences


def test_reading_ranges_of_a_sequential_source_is_refused(tmp_path):
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress(b"{}\n"))
    (source,) = expand_sources([str(path)])
    assert split_ranges(source, 4) == [(0, None)]
    with pytest.raises(ValueError):
        list(iter_chunks(source, InputReport(), start=10))


def test_split_ranges_cover_the_file(tmp_path):
    source = write(tmp_path / "events.jsonl", b"x" * 1000)
    assert split_ranges(source, 3, min_bytes=1) == [(0, 333), (333, 666), (666, 1000)]
    assert split_ranges(source, 3, min_bytes=400) == [(0, 500), (500, 1000)]
    assert split_ranges(source, 3, min_bytes=2000) == [(0, 1000)]
    assert split_ranges(Source(STDIN_NAME, None, False), 3) == [(0, None)]


_line_bytes = st.binary(max_size=40).map(lambda text: text.replace(b"\n", b"."))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(_line_bytes | st.sampled_from([b"", b"\r", b"x" * 120]), max_size=40),
    final_newline=st.booleans(),
    parts=st.integers(1, 9),
    chunk_size=st.integers(1, 200),
    max_line_bytes=st.integers(1, 150),
)
def test_ranges_read_every_line_exactly_once(lines, final_newline, parts, chunk_size, max_line_bytes):
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    kept, overlong = expected_lines(data, max_line_bytes)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.jsonl"
        path.write_bytes(data)
        source = Source(str(path), path, compressed=False)  # even if the random bytes look like gzip
        ranges = split_ranges(source, parts, min_bytes=1)
        assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
        assert all(end == next_start for (_, end), (next_start, _) in itertools.pairwise(ranges))
        merged = InputReport([source])
        found = []
        for start, end in ranges:
            report = merged.fork()
            options = {"chunk_size": chunk_size, "max_line_bytes": max_line_bytes}
            found += lines_of(list(iter_chunks(source, report, start=start, end=end, **options)))
            merged.merge(report)
        assert found == kept
        assert merged.counts.get(Reason.LINE_TOO_LONG, 0) == len(overlong)
        if overlong:
            assert merged.first.offset == overlong[0]
        else:
            assert merged.first is None
        assert merged.bytes_read == len(data)


@settings(max_examples=150)
@given(
    lines=st.lists(_line_bytes | st.just(b"y" * 90), max_size=30),
    chunk_size=st.integers(1, 120),
    max_line_bytes=st.integers(1, 100),
)
def test_gzip_reading_agrees_with_the_model(lines, chunk_size, max_line_bytes):
    data = b"\n".join(lines)
    kept, overlong = expected_lines(data, max_line_bytes)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.jsonl.gz"
        path.write_bytes(gzip.compress(data))
        (source,) = expand_sources([str(path)])
        report = InputReport([source])
        chunks = list(iter_chunks(source, report, chunk_size=chunk_size, max_line_bytes=max_line_bytes))
    assert lines_of(chunks) == kept
    assert report.counts.get(Reason.LINE_TOO_LONG, 0) == len(overlong)
    for chunk in chunks:  # sequential sources number their lines while reading
        assert chunk.first_line == data.count(b"\n", 0, chunk.offset) + 1
    if overlong:
        assert report.first.offset == overlong[0]
        assert report.first.line == data.count(b"\n", 0, overlong[0]) + 1


def test_gzip_with_several_members_reads_them_all(tmp_path):
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress(event(1) + b"\n") + gzip.compress(event(2) + b"\n") + b"\0" * 8)
    (source,) = expand_sources([str(path)])
    report = InputReport()
    assert [line for _, line in lines_of(list(iter_chunks(source, report)))] == [event(1), event(2)]
    assert not report.has_offences


def test_a_truncated_gzip_keeps_what_came_before_and_is_counted(tmp_path):
    data = b"".join(event(number) + b"\n" for number in range(20000))
    compressed = gzip.compress(data)
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    (source,) = expand_sources([str(path)])
    report = InputReport([source])
    found = scan(source, report, chunk_size=64 << 10)
    assert 5000 < len(found) < 20000
    assert [decoded["uuid"] for decoded in found] == [f"e{number}" for number in range(len(found))]
    assert report.counts[Reason.UNREADABLE_SOURCE] == 1
    assert set(report.counts) <= {Reason.UNREADABLE_SOURCE, Reason.MALFORMED_JSON}  # the cut line


@pytest.mark.parametrize("content", [b"not gzip at all\n", b"\x1f\x8b\x08\x00garbage" * 10])
def test_a_corrupt_gzip_is_counted_and_the_run_goes_on(tmp_path, content):
    bad = tmp_path / "a.jsonl.gz"
    bad.write_bytes(content)
    good = write(tmp_path / "b.jsonl", event(1) + b"\n")
    found_sources = expand_sources([str(bad), good.name])
    report = InputReport(found_sources)
    found = [decoded for source in found_sources for decoded in scan(source, report)]
    assert [decoded["uuid"] for decoded in found] == ["e1"]
    assert report.counts == {Reason.UNREADABLE_SOURCE: 1}
    assert report.first.source == str(bad)


def test_a_file_that_vanished_is_counted_once_across_ranges(tmp_path):
    source = write(tmp_path / "events.jsonl", b"x\n" * 1000)
    ranges = split_ranges(source, 4, min_bytes=1)
    source.path.unlink()
    report = InputReport([source])
    for start, end in ranges:
        assert list(iter_chunks(source, report, start=start, end=end)) == []
    assert report.counts == {Reason.UNREADABLE_SOURCE: 1}
    assert "FileNotFoundError" in report.first.excerpt


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_a_file_without_read_permission_is_counted(tmp_path):
    source = write(tmp_path / "events.jsonl", event(1) + b"\n")
    source.path.chmod(0)
    report = InputReport([source])
    assert scan(source, report) == []
    assert report.counts == {Reason.UNREADABLE_SOURCE: 1}


def test_an_unreadable_folder_is_a_counted_source(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    write(locked / "events.jsonl", b"{}\n")
    real_walk = os.walk

    def walk_failing_on_locked(top, onerror=None, **options):
        for root, folders, files in real_walk(top, onerror=onerror, **options):
            if Path(root) == locked:
                onerror(PermissionError(13, "Permission denied", str(locked)))
                folders[:] = []
                continue
            yield root, folders, files

    monkeypatch.setattr(sources.os, "walk", walk_failing_on_locked)
    found = expand_sources([str(tmp_path)])
    assert [source.path for source in found] == [locked]
    report = InputReport(found)
    list(iter_chunks(found[0], report))
    assert report.counts == {Reason.UNREADABLE_SOURCE: 1}


# -- stdin -----------------------------------------------------------------------------------------


def test_stdin_is_read_with_line_numbers(stdin_bytes):
    data = b"".join(event(number) + b"\n" for number in range(50)) + b"{oops\n" + event(50)
    stdin_bytes(data)
    (source,) = expand_sources(["-"])
    report = InputReport([source])
    found = scan(source, report, chunk_size=512)
    assert len(found) == 51
    assert report.counts == {Reason.MALFORMED_JSON: 1}
    assert report.first.line == 51 and report.first.offset == data.index(b"{oops")
    assert report.bytes_read == len(data)


def test_sniffing_stdin_loses_no_bytes(stdin_bytes):
    data = b"\n" * 5 + b"".join(event(number) + b"\n" for number in range(3000))
    stdin_bytes(data)
    (source,) = expand_sources(["-"])
    assert sniff_format(source) is Format.NDJSON
    assert is_document(source) is False  # sniffing twice is fine too
    chunks = list(iter_chunks(source, InputReport()))
    assert b"".join(chunk.data for chunk in chunks) == data


def test_a_gzip_document_on_stdin(stdin_bytes):
    stdin_bytes(gzip.compress(b"[" + event(1) + b",\n" + event(2) + b"]"))
    (source,) = expand_sources(["-"])
    assert sniff_format(source) is Format.DOCUMENT
    report = InputReport()
    assert [found["uuid"] for _, found in iter_document_events(source, report)] == ["e1", "e2"]
    assert report.events_decoded == 2


def test_stdin_through_a_real_pipe():
    program = (
        "import sys\n"
        "from sigma.backends.okta.engine.sources import expand_sources, iter_chunks\n"
        "from sigma.backends.okta.engine.input_report import InputReport\n"
        "(source,) = expand_sources(['-'])\n"
        "report = InputReport([source])\n"
        "chunks = list(iter_chunks(source, report, chunk_size=1000, max_line_bytes=500))\n"
        "print(sum(chunk.data.count(b'\\n') for chunk in chunks), report.counts.total(), report.first)\n"
    )
    data = b"".join(event(number) + b"\n" for number in range(200)) + b"q" * 600 + b"\n" + event(200) + b"\n"
    result = subprocess.run([sys.executable, "-c", program], input=data, capture_output=True, check=True)
    assert result.stdout.decode().startswith(f"201 1 {STDIN_NAME}:201: line_too_long: qqq")


@pytest.mark.parametrize("data", [b"\n".join(event(n) for n in range(3000)), b"[" + event(1) + b"]"])
def test_a_named_pipe_is_sniffed_then_read_without_losing_bytes(tmp_path, data):
    path = tmp_path / "events.fifo"
    os.mkfifo(path)
    threading.Thread(target=path.write_bytes, args=(data,), daemon=True).start()
    outcome = {}

    def read() -> None:
        (source,) = expand_sources([str(path)])
        outcome["compressed"], outcome["ranges"] = source.compressed, split_ranges(source, 4)
        report = outcome["report"] = InputReport([source])
        if sniff_format(source) is Format.DOCUMENT:
            outcome["events"] = [decoded["uuid"] for _, decoded in iter_document_events(source, report)]
        else:
            outcome["bytes"] = b"".join(chunk.data for chunk in iter_chunks(source, report))

    reader = threading.Thread(target=read, daemon=True)  # a lost pipe would hang: fail instead
    reader.start()
    reader.join(timeout=30)
    assert not reader.is_alive(), "reading the pipe hung"
    assert outcome["compressed"] is False and outcome["ranges"] == [(0, None)]
    assert outcome.get("events", outcome.get("bytes")) in (["e1"], data)
    assert not outcome["report"].has_offences


# -- JSON documents --------------------------------------------------------------------------------


def document_events(tmp_path: Path, data: bytes) -> tuple[list[tuple[int, dict]], InputReport, bytes]:
    source = write(tmp_path / "page.json", data)
    report = InputReport([source])
    return list(iter_document_events(source, report)), report, data


def test_an_api_page(tmp_path):
    page = orjson.dumps([orjson.loads(event(number)) for number in range(5)])
    found, report, data = document_events(tmp_path, page)
    assert [decoded["uuid"] for _, decoded in found] == [f"e{number}" for number in range(5)]
    assert all(data[offset : offset + 1] == b"{" for offset, _ in found)
    assert not report.has_offences and report.events_decoded == 5 and report.bytes_read == len(page)


def test_a_malformed_element_between_good_ones(tmp_path):
    broken = b'{"uuid":"bad","target":[{"id":"t1"},{"id":"t2"}],"x":tru}'  # brackets still balance
    data = b"[" + event(1) + b",\n" + broken + b",\n" + event(2) + b",\n" + b"[1]" + b",\n" + event(3) + b"]"
    found, report, _ = document_events(tmp_path, data)
    assert [decoded["uuid"] for _, decoded in found] == ["e1", "e2", "e3"]  # no bogus `target` events
    assert report.counts == {Reason.MALFORMED_JSON: 1, Reason.NOT_AN_OBJECT: 1}
    assert report.first_by_reason[Reason.MALFORMED_JSON].offset == data.index(b'{"uuid":"bad"')
    assert report.first_by_reason[Reason.MALFORMED_JSON].line == 2  # documents number lines at once


def test_a_truncated_element_glued_to_the_next_one(tmp_path):
    data = b"[" + event(1) + b"," + event(2)[:25] + event(3) + b"," + event(4) + b"]"
    found, report, _ = document_events(tmp_path, data)
    assert [decoded["uuid"] for _, decoded in found] == ["e1", "e4"]  # e3 went with the broken one
    assert report.counts == {Reason.MALFORMED_JSON: 1}


def test_a_truncated_page_keeps_its_complete_elements(tmp_path):
    data = b"[" + event(1) + b"," + event(2) + b"," + event(3)[:20]
    found, report, _ = document_events(tmp_path, data)
    assert [decoded["uuid"] for _, decoded in found] == ["e1", "e2"]
    assert report.counts == {Reason.MALFORMED_JSON: 1}


@pytest.mark.parametrize(
    ("data", "uuids", "malformed"),
    [
        (b"[" + event(1) + b"," + event(2) + b",]", ["e1", "e2"], 1),  # trailing comma
        (b"[" + event(1) + b" " + event(2) + b"]", ["e1", "e2"], 1),  # missing comma
        (b"[" + event(1) + b"," + event(2), ["e1", "e2"], 1),  # never closed
        (b"[" + event(1) + b", oops, " + event(2) + b", " + event(3) + b"]", ["e1", "e2", "e3"], 1),
        (b"[" + event(1) + b" oops " + event(2) + b"]", ["e1", "e2"], 1),  # stray text
        (b"[" + event(1)[:-1] + b",} \n , " + event(2) + b"]", ["e2"], 1),
        (b"[]", [], 0),
        (b"[" + event(1) + b"][" + event(2) + b"]\n[" + event(3) + b"]", ["e1", "e2", "e3"], 0),  # pages
        (b"[" + event(1) + b", {oops][" + event(2) + b"]", ["e1", "e2"], 1),
    ],
)
def test_array_defects(tmp_path, data, uuids, malformed):
    found, report, _ = document_events(tmp_path, data)
    assert [decoded["uuid"] for _, decoded in found] == uuids
    assert report.counts.get(Reason.MALFORMED_JSON, 0) == malformed


def test_concatenated_pretty_objects_with_a_broken_one(tmp_path):
    pretty = [orjson.dumps(orjson.loads(event(number)), option=orjson.OPT_INDENT_2) for number in range(4)]
    pretty[1] = pretty[1].replace(b'"e1",', b'"e1",,')
    data = b"\n".join(pretty) + b"\n"
    found, report, _ = document_events(tmp_path, data)
    assert [decoded["uuid"] for _, decoded in found] == ["e0", "e2", "e3"]
    assert report.counts == {Reason.MALFORMED_JSON: 1}
    assert all(data[offset : offset + 1] == b"{" for offset, _ in found)


def test_a_broken_pretty_object_whose_brackets_do_not_balance(tmp_path):
    pretty = [orjson.dumps(orjson.loads(event(number)), option=orjson.OPT_INDENT_2) for number in range(3)]
    data = pretty[0] + b"\n" + pretty[1][:-30] + b"\n" + pretty[2] + b"\n"
    found, report, _ = document_events(tmp_path, data)
    assert [decoded["uuid"] for _, decoded in found] == ["e0", "e2"]
    assert report.counts == {Reason.MALFORMED_JSON: 1}


def test_a_broken_object_cannot_swallow_the_next_object_at_a_line_start(tmp_path):
    # The stray quote flips what is inside strings: the `}` in e3's note then seems to close e2.
    broken = b'{\n  "uuid": "e2",\n  "name": "a"b"\n}'
    tricky = b'{\n  "uuid": "e3",\n  "note": "} ["\n}'
    data = event(1) + b"\n" + broken + b"\n" + tricky + b"\n" + event(4) + b"\n"
    found, report, _ = document_events(tmp_path, data)
    assert [decoded["uuid"] for _, decoded in found] == ["e1", "e3", "e4"]
    assert report.counts == {Reason.MALFORMED_JSON: 1}


def test_documents_get_the_repairs_of_lines(tmp_path):
    bad_text = b'{"uuid":"e2","published":"2024-03-01T12:34:56Z","name":"\xe9"}'
    data = BOM + b"[" + event(1) + b",\n" + bad_text + b",\n42]\n" + BOM + event(3)
    found, report, _ = document_events(tmp_path, data)
    assert [decoded["uuid"] for _, decoded in found] == ["e1", "e2", "e3"]
    assert found[1][1]["name"] == "\ufffd"
    assert report.counts == {Reason.BOM: 2, Reason.INVALID_UTF8: 1, Reason.NOT_AN_OBJECT: 1}
    assert report.first.offset == 0 and report.first.reason is Reason.BOM


def test_a_ndjson_file_read_as_a_document_loses_nothing(tmp_path):
    data = event(1) + b"\n{broken\n" + event(2) + b"\n"
    found, report, _ = document_events(tmp_path, data)
    assert [decoded["uuid"] for _, decoded in found] == ["e1", "e2"]
    assert report.counts == {Reason.MALFORMED_JSON: 1}


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(0, 99), min_size=1, max_size=8),
    st.integers(0, 7),
    st.binary(min_size=1, max_size=12).filter(lambda junk: b'"' not in junk and b"," not in junk),
)
def test_one_broken_element_never_costs_another(numbers, broken_at, junk):
    """Without quotes or commas the junk cannot fake an element: each good element must survive."""
    elements = [event(number) for number in numbers]
    broken_at %= len(elements)
    elements[broken_at] = elements[broken_at][:-1] + b"," + junk + b"}"
    data = b"[" + b",".join(elements) + b"]"
    with tempfile.TemporaryDirectory() as folder:
        source = write(Path(folder) / "page.json", data)
        found = [decoded["uuid"] for _, decoded in iter_document_events(source, InputReport())]
    assert found == [f"e{number}" for index, number in enumerate(numbers) if index != broken_at]


_page = b"[" + b",\n".join(event(number) for number in range(4)) + b"]"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.binary(max_size=200)
    | st.tuples(st.integers(0, len(_page)), st.integers(0, 40), st.binary(max_size=8)).map(
        lambda cut: _page[: cut[0]] + cut[2] + _page[cut[0] + cut[1] :]
    )
)
def test_no_document_bytes_make_reading_raise(data):
    with tempfile.TemporaryDirectory() as folder:
        source = write(Path(folder) / "page.json", data)
        report = InputReport([source])
        sniff_format(source)
        found = list(iter_document_events(source, report))
    assert all(type(decoded) is dict and 0 <= offset < len(data) for offset, decoded in found)
    assert report.events_decoded == len(found)
    assert all(report.counts[reason] for reason in report.first_by_reason)


def test_crlf_documents(tmp_path):
    data = b"[\r\n" + event(1) + b",\r\n" + event(2) + b"\r\n]\r\n"
    found, report, _ = document_events(tmp_path, data)
    assert [decoded["uuid"] for _, decoded in found] == ["e1", "e2"] and not report.has_offences


@pytest.mark.shared
def test_the_samples_each_give_their_events():
    if not SAMPLES.exists():
        pytest.skip("../shared is absent")
    found_sources = expand_sources([str(SAMPLES)])
    report = InputReport(found_sources)
    counts = {Path(source.name).name: len(scan(source, report)) for source in found_sources}
    assert counts["panther-analysis__okta_rules_tests.jsonl"] == 66
    assert counts["elastic-integrations__okta_system_test-okta-system-events.lines2-3.jsonl"] == 2
    assert all(count == 1 for name, count in counts.items() if name.endswith(".json"))
    # the only bad input is in the times: four Panther events whose `published` is "redacted" and
    # Okta's own example (2017-09-31) are bad; four Panther events and the OCSF rendering have none
    assert report.counts == {Reason.BAD_TIMESTAMP: 5, Reason.MISSING_TIMESTAMP: 5}
