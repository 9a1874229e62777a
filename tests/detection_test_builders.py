"""Rule folders with a tests file, for the tests of `sigma-okta test`."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from okta_builders import PUSH_RULE_FILES

TEMPLATES = """\
rules: okta_verify_push_source_response_mismatch
templates:
  push:
    eventType: system.push.send_factor_verify_push
    client: {ipAddress: 203.0.113.7}
    debugContext: {debugData: {behaviors: '{New Device=POSITIVE, New IP=POSITIVE}'}}
  deny:
    eventType: user.authentication.auth_via_mfa
    outcome: {result: FAILURE}
    client: {ipAddress: 198.51.100.20}
    debugContext: {debugData: {factor: OKTA_VERIFY_PUSH}}
"""

DENIED = """\
    events:
      - {like: push, at: 10s, authenticationContext: {externalSessionId: idxA}}
      - {like: deny, at: 20s, authenticationContext: {externalSessionId: idxA}}
"""


def pack_folder(tmp_path: Path, tests: str, *, extra_rules: str = "") -> Path:
    folder = tmp_path / "rules"
    folder.mkdir(parents=True)
    for path in PUSH_RULE_FILES:  # the seed rule, without its own tests
        shutil.copy(path, folder / path.name)
    if extra_rules:
        (folder / "extra.yml").write_text(extra_rules)
    (folder / "pack.tests.yaml").write_text(textwrap.dedent(tests))
    return folder
