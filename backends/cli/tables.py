"""Rows for people and spreadsheets: aligned tables, CSV and JSON lines, from the same row dicts.

``list`` and ``run --format table|csv`` use them; a table is the default on a terminal where a
command's output is for reading (``list``), JSON lines where it is for programs.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterable, Sequence
from typing import IO

import orjson

ROW_FORMATS = ("table", "csv", "json")
_CELL_LIMIT = 60  # a table cell longer than this is cut (with …); CSV and JSON keep everything


def default_format(stream: IO | None = None) -> str:
    """table on a terminal, json otherwise."""
    stream = stream or sys.stdout
    return "table" if stream.isatty() else "json"


def render_table(columns: Sequence[str], rows: Iterable[dict[str, str]]) -> str:
    """Left-aligned columns under a header, two spaces apart."""
    cells = [[_cell(row.get(column, "")) for column in columns] for row in rows]
    widths = [max([len(column), *(len(line[i]) for line in cells)]) for i, column in enumerate(columns)]
    lines = [columns, ["-" * width for width in widths], *cells]
    return (
        "\n".join(
            "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
            for line in lines
        )
        + "\n"
    )


def render_csv(columns: Sequence[str], rows: Iterable[dict[str, str]]) -> str:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def render_json_lines(rows: Iterable[dict]) -> str:
    return "".join(orjson.dumps(row).decode() + "\n" for row in rows)


def render_rows(format_name: str, columns: Sequence[str], rows: list[dict[str, str]]) -> str:
    if format_name == "table":
        return render_table(columns, rows)
    if format_name == "csv":
        return render_csv(columns, rows)
    return render_json_lines(rows)


class RowSink:
    """Alerts as rows: CSV is written as alerts come, a table once all are in (its widths need them)."""

    def __init__(self, stream: IO[bytes], format_name: str, columns: Sequence[str], to_row):
        self.stream = stream
        self.format_name = format_name
        self.columns = columns
        self.to_row = to_row
        self.rows: list[dict[str, str]] = []
        if format_name == "csv":
            self.stream.write(render_csv(columns, []).encode())

    def write(self, alert) -> None:
        row = self.to_row(alert)
        if self.format_name == "csv":
            self.stream.write(render_csv(self.columns, [row]).split("\n", 1)[1].encode())
        else:
            self.rows.append(row)

    def close(self) -> None:
        if self.format_name == "table":
            self.stream.write(render_table(self.columns, self.rows).encode())
        self.stream.flush()


def _cell(text: str) -> str:
    text = " ".join(str(text).split())  # one line per row
    return text if len(text) <= _CELL_LIMIT else text[: _CELL_LIMIT - 1] + "…"
