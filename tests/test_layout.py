"""The layout that docs/architecture.md describes: every module it names exists, modules stay short,
and `sigma-okta run` does not import the conversion backends (it must start fast)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 800


def _documented_modules() -> list[Path]:
    """`module.py` names from the tables of docs/architecture.md, each under its section's folder."""
    folder: Path | None = None
    found = []
    for line in (ROOT / "docs" / "architecture.md").read_text().splitlines():
        heading = re.match(r"#+ `([\w/]+)/`", line)
        if heading:
            folder = ROOT / heading.group(1)
            continue
        cell = re.match(r"\| `([\w.-]+\.(?:py|json))` \|", line)
        if cell and folder is not None:
            found.append(folder / cell.group(1))
    return found


def test_every_module_named_in_the_architecture_exists():
    modules = _documented_modules()
    assert len(modules) > 40
    assert [path for path in modules if not path.is_file()] == []


def test_every_package_module_is_in_the_architecture():
    documented = set(_documented_modules())
    present = {
        path
        for folder in (
            "plugin",
            "backends/targets",
            "backends/engine",
            "backends/generator",
            "backends/live",
            "backends/cli",
            "backends/detection_tests",
        )
        for path in (ROOT / folder).glob("*.py")
        if path.name not in ("__main__.py", "__init__.py")
    }
    present |= {ROOT / "plugin" / "aggregate-correlation.schema.json"}
    assert sorted(map(str, present - documented)) == []


@pytest.mark.parametrize("folder", ["plugin", "backends"])
def test_no_module_is_longer_than_a_sitting(folder):
    long = {
        str(path.relative_to(ROOT)): count
        for path in (ROOT / folder).rglob("*.py")
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_run_does_not_import_the_conversion_backends(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text('{"eventType": "user.session.start", "published": "2026-03-10T14:00:00Z"}\n')
    probe = (
        "import sys\n"
        "from sigma.backends.okta.cli import main\n"
        f"code = main(['run', '--events', {str(events)!r}])\n"
        "loaded = [m for m in sys.modules if m.startswith(('sigma.backends.okta.targets', "
        "'sigma.backends.splunk', 'sigma.backends.elasticsearch', 'sigma.backends.kusto', "
        "'sigma.backends.okta_targets', 'sigma.backends.okta.generator', 'duckdb', 'pyspark'))]\n"
        "print(code, sorted(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "0 []"
