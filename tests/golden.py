"""Golden files: the reviewed full output of a conversion, compared exactly.

``SIGMA_OKTA_UPDATE_GOLDEN=1`` rewrites a file and fails the test anyway, so that a regeneration is
never silent: review the diff, then run again without the variable.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

UPDATE = os.environ.get("SIGMA_OKTA_UPDATE_GOLDEN") == "1"


def assert_golden(path: Path, text: str) -> None:
    text = text if text.endswith("\n") else text + "\n"
    if UPDATE:
        changed = not path.exists() or path.read_text(encoding="utf-8") != text
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        pytest.fail(
            f"{path.name} regenerated ({'changed' if changed else 'unchanged'}): review it, then run again"
        )
    assert path.exists(), f"{path} is missing: run with SIGMA_OKTA_UPDATE_GOLDEN=1 and review the result"
    assert text == path.read_text(encoding="utf-8")
