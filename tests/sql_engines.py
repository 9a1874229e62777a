"""The SQL engines the differential tests run generated SQL on: DuckDB always, Spark where Java is."""

from __future__ import annotations

import shutil

import pytest

SQL_ENGINES = [
    "duckdb",
    pytest.param(
        "spark", marks=pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs a Java runtime")
    ),
]
