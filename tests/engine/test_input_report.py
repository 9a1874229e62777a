"""InputReport: counting, the earliest offence, exact merging, line numbers, the summary, pickling."""

from __future__ import annotations

import gzip
import pickle
import random

import pytest

from sigma.backends.okta.engine.input_report import EXCERPT_CHARS, InputReport, Offence, Reason, make_excerpt
from sigma.backends.okta.engine.sources import Chunk, Source


def test_every_reason_is_either_repaired_or_dropped():
    assert set(Reason) == Reason.REPAIRED | Reason.DROPPED
    assert not Reason.REPAIRED & Reason.DROPPED
    assert {
        Reason.BOM,
        Reason.INVALID_UTF8,
        Reason.OBJECT_FOR_STRING,
        Reason.NON_FINITE_NUMBER,
    } == Reason.REPAIRED
    assert Reason.BOM.repaired and not Reason.MALFORMED_JSON.repaired
    assert Reason("malformed_json") is Reason.MALFORMED_JSON


def test_counts_per_reason_and_the_earliest_offence():
    report = InputReport(["a.jsonl", "b.jsonl"])
    assert not report.has_offences
    report.add(Reason.MALFORMED_JSON, "b.jsonl", 5, b"{bad")
    report.add(Reason.MALFORMED_JSON, "a.jsonl", 900, b"{worse")
    report.add(Reason.BOM, "a.jsonl", 1000, b"\xef\xbb\xbf{}")
    report.add(Reason.MALFORMED_JSON, "a.jsonl", 10, b"{worst")
    assert report.has_offences
    assert report.counts == {Reason.MALFORMED_JSON: 3, Reason.BOM: 1}
    assert report.total_offences == 4 and report.dropped == 3
    assert (report.first.source, report.first.offset, report.first.excerpt) == ("a.jsonl", 10, "{worst")
    assert report.first_by_reason[Reason.BOM].offset == 1000


def test_a_source_first_met_in_add_ranks_after_the_known_ones():
    report = InputReport(["known"])
    report.add(Reason.MALFORMED_JSON, "later", 0, b"x")
    report.add(Reason.MALFORMED_JSON, "known", 10**9, b"y")
    assert report.first.source == "known"


def test_sources_can_be_given_as_source_objects(tmp_path):
    first, second = Source("one", tmp_path / "one", False), Source("two", tmp_path / "two", False)
    report = InputReport([first, second])
    report.add(Reason.NOT_AN_OBJECT, second, 0, b"[]")
    report.add(Reason.NOT_AN_OBJECT, first, 50, b"[1]")
    assert report.first.source == "one"


def _random_offences(seed: int) -> list[tuple[Reason, str, int]]:
    chooser = random.Random(seed)
    return [
        (chooser.choice(list(Reason)), chooser.choice(["s0", "s1", "s2"]), chooser.randrange(10_000))
        for _ in range(60)
    ]


@pytest.mark.parametrize("seed", range(5))
def test_merging_in_any_order_equals_one_sequential_report(seed):
    offences = _random_offences(seed)
    sequential = InputReport(["s0", "s1", "s2"])
    for reason, source, offset in offences:
        sequential.add(reason, source, offset, f"{source}@{offset}".encode())
    sequential.bytes_read, sequential.events_decoded = 300, 30

    parts = [sequential.fork() for _ in range(3)]
    for index, (reason, source, offset) in enumerate(offences):
        parts[index % 3].add(reason, source, offset, f"{source}@{offset}".encode())
    for part in parts:
        part.bytes_read, part.events_decoded = 100, 10
    random.Random(seed).shuffle(parts)
    merged = sequential.fork()
    for part in parts:
        merged.merge(part)

    assert merged.counts == sequential.counts
    assert merged.first == sequential.first
    assert merged.first_by_reason == sequential.first_by_reason
    assert (merged.bytes_read, merged.events_decoded) == (300, 30)


def test_merge_orders_by_source_before_offset():
    parent = InputReport(["first.jsonl", "second.jsonl"])
    early_source, late_source = parent.fork(), parent.fork()
    late_source.add(Reason.MALFORMED_JSON, "second.jsonl", 0, b"x")
    early_source.add(Reason.MALFORMED_JSON, "first.jsonl", 5000, b"y")
    parent.merge(late_source)
    parent.merge(early_source)
    assert parent.first.source == "first.jsonl"


def test_the_report_survives_pickling():
    report = InputReport(["a"])
    report.add(Reason.LINE_TOO_LONG, "a", 3, b"x" * 1000, line=2)
    report.bytes_read = 7
    copy = pickle.loads(pickle.dumps(report))
    assert copy.counts == report.counts and copy.first == report.first and copy.bytes_read == 7
    copy.add(Reason.BOM, "b", 0)  # the source order came along
    assert copy.first.source == "a"


def _numbered_lines(count: int) -> bytes:
    return b"".join(b'{"n":%d}\n' % number for number in range(1, count + 1))


def test_resolve_line_numbers_counts_newlines_in_the_file(tmp_path):
    data = _numbered_lines(2000)
    path = tmp_path / "events.jsonl"
    path.write_bytes(data)
    report = InputReport([Source(str(path), path, False)])
    report.add(Reason.MALFORMED_JSON, str(path), data.index(b'{"n":1234}'), b"x")
    report.add(Reason.NOT_AN_OBJECT, str(path), data.index(b'{"n":7}'), b"y")
    report.add(Reason.BOM, str(path), 0, b"z")
    assert report.first.line is None
    report.resolve_line_numbers()
    assert report.first_by_reason[Reason.MALFORMED_JSON].line == 1234
    assert report.first_by_reason[Reason.NOT_AN_OBJECT].line == 7
    assert report.first.line == 1


def test_resolve_line_numbers_in_a_gzip_file(tmp_path):
    data = _numbered_lines(500)
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress(data))
    report = InputReport([Source(str(path), path, True)])
    report.add(Reason.MALFORMED_JSON, str(path), data.index(b'{"n":321}'), b"x")
    report.resolve_line_numbers()
    assert report.first.line == 321


def test_line_numbers_of_stdin_and_given_lines_are_left_alone(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(_numbered_lines(10))
    report = InputReport([Source("<stdin>", None, False), Source(str(path), path, False)])
    report.add(Reason.MALFORMED_JSON, "<stdin>", 10, b"x")
    report.add(Reason.BOM, str(path), 0, b"x", line=99)
    report.resolve_line_numbers()
    assert report.first_by_reason[Reason.MALFORMED_JSON].line is None
    assert report.first_by_reason[Reason.BOM].line == 99


def test_add_in_chunk_numbers_lines_of_sequential_chunks_only():
    chunk = Chunk(b'{"a":1}\n{bad\n{"c":3}\n', offset=100, first_line=11)
    report = InputReport(["s"])
    report.add_in_chunk(Reason.MALFORMED_JSON, "s", chunk, 8, 12)
    assert report.first == Offence("s", 108, 12, Reason.MALFORMED_JSON, "{bad")
    unnumbered = InputReport(["s"])
    unnumbered.add_in_chunk(Reason.MALFORMED_JSON, "s", Chunk(chunk.data, 100), 8, 12)
    assert unnumbered.first.line is None and unnumbered.first.offset == 108


def test_excerpts_are_short_and_printable():
    assert make_excerpt(b'{"a":1}\r\n') == '{"a":1}'
    assert make_excerpt(b"a\x1b[31mb\tc") == "a\\x1b[31mb\\tc"
    assert make_excerpt("Zoë".encode() + b"\xff") == "Zoë\\xff"
    long = make_excerpt(b"x" * 500)
    assert long == "x" * EXCERPT_CHARS + "…"
    assert make_excerpt(b"\x00" * 1000) == "\\x00" * EXCERPT_CHARS + "…"


def test_summary_lists_totals_reasons_and_the_first_offence(tmp_path):
    report = InputReport(["events.jsonl"])
    report.bytes_read, report.events_decoded = 2048, 10
    report.add(Reason.MALFORMED_JSON, "events.jsonl", 40, b'{"broken', line=3)
    report.add(Reason.BOM, "events.jsonl", 0, b"\xef\xbb\xbf{}", line=1)
    report.add(Reason.MALFORMED_JSON, "events.jsonl", 80, b"{", line=5)
    text = report.summary()
    assert "2,048 bytes read" in text and "10 events decoded" in text and "3 bad input (2 dropped)" in text
    malformed = next(line for line in text.splitlines() if "malformed_json" in line)
    assert " 2 " in malformed and "dropped" in malformed and "events.jsonl:3" in malformed
    bom = next(line for line in text.splitlines() if line.strip().startswith("bom"))
    assert "repaired" in bom
    assert text.splitlines()[-1] == "first offence: events.jsonl:1: bom: \\ufeff{}"


def test_an_offence_without_a_line_names_its_byte_offset():
    assert (
        str(Offence("<stdin>", 77, None, Reason.MALFORMED_JSON, "{")) == "<stdin>:byte 77: malformed_json: {"
    )
