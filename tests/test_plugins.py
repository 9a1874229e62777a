"""pySigma and sigma-cli find sigma-okta's backends and pipelines the way `make` installs the project."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from shared_corpus import SIGMAHQ_OKTA_RULES
from sigma.plugins import InstalledSigmaPlugins

BACKENDS = {"okta_splunk", "okta_esql", "okta_kusto", "okta_duckdb", "okta_spark"}
PIPELINES = {"okta_splunk_ta", "okta_elastic", "okta_sentinel", "okta_sentinel_legacy", "okta_ocsf"}
SIGMA = str(Path(sys.executable).with_name("sigma"))
SIGMAHQ = SIGMAHQ_OKTA_RULES


def test_autodiscovery_finds_exactly_our_backends_and_pipelines():
    plugins = InstalledSigmaPlugins.autodiscover()
    ours = {
        name
        for name, backend in plugins.backends.items()
        if backend.__module__.startswith("sigma.backends.okta")
    }
    assert ours == BACKENDS
    assert set(plugins.pipelines) >= PIPELINES
    assert "text_query" not in plugins.backends  # importing TextQueryBackend into __init__ would add it


def test_no_top_level_plugin_or_backends_package(tmp_path):
    # in a fresh interpreter outside the checkout (`python -m pytest` puts the checkout on sys.path)
    probe = "import importlib.util as u; print(u.find_spec('plugin'), u.find_spec('backends'))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["None", "None"]


def test_sigma_cli_lists_them():
    targets = subprocess.run([SIGMA, "list", "targets"], capture_output=True, text=True, check=True).stdout
    pipelines = subprocess.run(
        [SIGMA, "list", "pipelines"], capture_output=True, text=True, check=True
    ).stdout
    assert all(name in targets for name in BACKENDS)
    assert all(name in pipelines for name in PIPELINES)


# every SigmaHQ Okta rule converts, except those a schema cannot express (documented in
# docs/field-mappings.md: target.* in OCSF, behaviors other than POSITIVE names on Elastic)
# and the one whose placeholder the user must fill; sigma-okta's ES|QL and KQL backends test
# members of the target list on any element (docs/semantics.md)
CONVERSIONS = [
    ("okta_splunk", ["-p", "okta_splunk_ta"], 23),
    ("okta_esql", ["-p", "okta_elastic"], 21),
    ("okta_esql", ["-p", "okta_ocsf"], 19),
    ("okta_kusto", ["-p", "okta_sentinel"], 23),
    ("okta_kusto", ["-p", "okta_sentinel_legacy"], 23),
    ("okta_duckdb", [], 23),
    ("okta_spark", [], 23),
]


@pytest.mark.shared
@pytest.mark.skipif(not SIGMAHQ.is_dir(), reason="../shared/corpus/sigmahq-okta-rules is absent")
@pytest.mark.parametrize(("target", "pipeline", "converted"), CONVERSIONS)
def test_sigma_cli_converts_sigmahq_okta_rules(target, pipeline, converted, tmp_path):
    output = tmp_path / "queries.txt"
    done = subprocess.run(
        [SIGMA, "convert", "-s", "-t", target, *pipeline, "-o", str(output), str(SIGMAHQ)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    skipped = sum(1 for line in done.stderr.splitlines() if line.startswith(str(SIGMAHQ)))
    rules = len(list(SIGMAHQ.glob("*.yml")))
    assert rules - skipped == converted, done.stderr
