"""What the targets built on an official pySigma backend share when they write base-rule values."""

from __future__ import annotations

from typing import Any

from sigma.conversion.base import Backend
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.types import SigmaString


def plain_text(value: SigmaString) -> str:
    """The text of a string that has no wildcards and no placeholders. Callers test for wildcards
    first; anything else left in the value is an error naming it, never silently dropped."""
    if any(not isinstance(part, str) for part in value.s):
        raise SigmaFeatureNotSupportedByBackendError(f"unresolved placeholder or wildcard in value '{value}'")
    return "".join(value.s)


def processing_pipeline(backend: Backend, output_format: str | None = None) -> Any:
    """The backend's processing pipeline (its own, the backend's and the user's), built on first use:
    pySigma builds it only when a rule is converted, and the targets read the Okta schema from it."""
    if getattr(backend, "last_processing_pipeline", None) is None:
        backend.init_processing_pipeline(output_format)
    return backend.last_processing_pipeline
