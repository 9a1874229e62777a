"""The native projection kernel, when it is built: a chunk's lines to projected events in one C call.

The C extension (``projection_kernel.c``, built by ``pip install`` where a compiler exists, and
optional like hyperscan) validates each line as strict JSON and builds exactly the dict that
:class:`~.projection.EventProjection`'s msgspec decode gives, or answers ``None`` for a line it is not
sure of; the runner then takes the Python path for that line (see docs/engine.md, "The native
kernel"). So the kernel changes only speed, never an alert or a count.

``SIGMA_OKTA_NATIVE=0`` in the environment turns it off (the differential tests and benchmarks compare
both paths).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .projection import EventProjection, _insert, _spellings

try:
    from . import _projection_kernel as _kernel
except ImportError:  # not built (no compiler at install time): the Python path alone
    _kernel = None

ENVIRONMENT_SWITCH = "SIGMA_OKTA_NATIVE"

Span = tuple[int, int]


def kernel_available() -> bool:
    return _kernel is not None


def native_enabled() -> bool:
    """The kernel is built and not switched off by ``SIGMA_OKTA_NATIVE=0``."""
    return _kernel is not None and os.environ.get(ENVIRONMENT_SWITCH, "1") != "0"


class NativeProjection:
    """The kernel compiled for one projection's shape."""

    def __init__(self, projection: EventProjection):
        if _kernel is None:
            raise RuntimeError("the native projection kernel is not built")
        self.kernel = _kernel.Kernel(kernel_shape(projection.fields))
        self._scan = self.kernel.scan

    def scan(
        self, data: bytes, spans: Iterable[Span] | None = None
    ) -> Iterator[tuple[int, int, dict | None]]:
        """``(start, end, event or None)`` per line (every line when ``spans`` is None); None: unsure.
        Lazily, a line per step: each event is used while its memory is hot."""
        return self._scan(data, spans)

    def stats(self) -> dict[str, int]:
        return self.kernel.stats()


def native_projection(projection: EventProjection | None) -> NativeProjection | None:
    """The kernel for ``projection``, or None: no projection, kernel not built or switched off, or a
    shape the kernel cannot hold (more than 64 keys in one object)."""
    if projection is None or not native_enabled():
        return None
    try:
        return NativeProjection(projection)
    except ValueError:
        return None


def native_time_getter(field: str, python_getter: Callable[[dict], int]) -> Callable[[dict], int]:
    """The event-time getter: Okta's own form (``2024-03-01T12:34:56.789Z``) read in C, every other
    value by ``python_getter`` (:func:`~.timestamps.compile_time_getter`), which keeps every verdict."""
    if not native_enabled() or "." in field:
        return python_getter
    return _kernel.TimeGetter(field, python_getter)


def kernel_shape(fields: Iterable[str]) -> dict[str, tuple[int, Any]]:
    """The kernel's shape: the msgspec shape of :mod:`.projection` (every spelling of every field,
    built by the same ``_insert``), as ``{key: (flags, child)}``. A key holding a dot is one of the
    dotted spellings: the kernel hands such lines back."""
    leaf = object()
    tree: dict[str, Any] = {}
    for name in fields:
        for path in _spellings(name):
            _insert(tree, path, leaf)
    return _flagged(tree)


def _flagged(tree: dict[str, Any]) -> dict[str, tuple[int, Any]]:
    assert _kernel is not None
    shape = {}
    for key, child in tree.items():
        if "." in key:
            shape[key] = (_kernel.DOTTED, None)
        elif isinstance(child, dict):
            shape[key] = (_kernel.WANT_OBJECT, _flagged(child))
        else:
            shape[key] = (_kernel.WANT_VALUE, None)
    return shape
