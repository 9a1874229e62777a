"""Every generated KQL query, analysed by Microsoft's own Kusto.Language (npm
``@kusto/language-service-next``, installed by ``make tools``) with zero diagnostics.

The analyzer knows the tables from the vendors' published definitions, not from this project's
mapping (``tests/tools/kusto-schemas/``, each file naming its source): Azure-Sentinel's table
definition of ``OktaV2_CL``, and a real workspace export of the legacy ``Okta_CL``, a Data Collector
API table that has a column only once some event carried the field. So a query that names a column
that a real workspace may lack is reported (KS142), as it would fail in Sentinel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from target_queries import generated_queries, sources

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / ".venv" / "node-tools" / "node_modules"
CHECKER = ROOT / "tests" / "tools" / "kusto_check.js"
SCHEMAS = ROOT / "tests" / "tools" / "kusto-schemas"
PIPELINES = ["okta_sentinel", "okta_sentinel_legacy"]


def analyse(queries: list[str]) -> list[list[str]]:
    """Kusto.Language's diagnostics of each query, against the vendors' table schemas."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed: Kusto.Language runs on it")
    if not (NODE_MODULES / "@kusto" / "language-service-next").is_dir():
        pytest.skip("@kusto/language-service-next missing: `make tools` installs it (needs npm)")
    tables = [json.loads(path.read_text()) for path in sorted(SCHEMAS.glob("*.json"))]
    result = subprocess.run(
        ["node", str(CHECKER)],
        input=json.dumps({"tables": tables, "queries": queries}).encode(),
        capture_output=True,
        timeout=300,
        check=True,
        env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
    )
    lines = result.stdout.decode().splitlines()
    assert len(lines) == len(queries), result.stderr.decode()
    return [json.loads(line) for line in lines]


def test_the_analyzer_reports_what_sentinel_rejects():
    clean, unknown_column, unknown_table, syntax = analyse(
        [
            "OktaV2_CL | where EventOriginalType =~ 'user.session.start'",
            "Okta_CL | where debugContext_debugData_behaviors_s has 'New Device=POSITIVE'",
            "Okta | take 1",
            "Okta_CL | where",
        ]
    )
    assert clean == []
    assert [d.split()[0] for d in unknown_column] == ["KS142"]
    assert [d.split()[0] for d in unknown_table] == ["KS204"]
    assert syntax


def test_the_schemas_are_the_vendors_tables():
    tables = {path.stem: json.loads(path.read_text()) for path in SCHEMAS.glob("*.json")}
    assert set(tables) == {"OktaV2_CL", "Okta_CL"}
    for name, table in tables.items():
        assert table["table"] == name and " @ " in table["source"]
        assert ["TimeGenerated", "datetime"] in [[c, t.lower()] for c, t in table["columns"]]


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_every_generated_query_has_no_diagnostics(pipeline):
    queries, _ = generated_queries("kusto", pipeline)
    # every part of the corpus is there (SigmaHQ's rules only with ../shared), none shrank to nothing
    assert {query.source for query in queries} == set(sources()) and len(queries) > 25
    diagnostics = analyse([query.text for query in queries])
    found = {
        f"{query.source}/{query.rule}": found
        for query, found in zip(queries, diagnostics, strict=True)
        if found
    }
    assert found == {}
