"""Where ``../shared`` (third-party reference data, optional) is: beside the checkout, resolved, so that
paths compare equal however it is reached (a symbolic link to it, as sigma-cli reports resolved paths)."""

from __future__ import annotations

from pathlib import Path

SHARED = (Path(__file__).resolve().parents[1].parent / "shared").resolve()
CORPUS = SHARED / "corpus"
SIGMAHQ_OKTA_RULES = CORPUS / "sigmahq-okta-rules"
OKTA_SAMPLES = CORPUS / "okta-samples"
