"""Argument types and options that several commands share."""

from __future__ import annotations

import argparse
import re

from sigma.correlations import SigmaCorrelationTimespan
from sigma.exceptions import SigmaTimespanError


def timespan(text: str) -> float:
    """A Sigma time span (``30s``, ``10m``, ``1h``) in seconds."""
    try:
        return float(SigmaCorrelationTimespan(text).seconds)
    except SigmaTimespanError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time span like 30s, 10m or 1h") from error


_SIZE = re.compile(r"(?i)\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*")
_UNITS = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def size(text: str) -> int:
    """A size in bytes, binary units (``500MB``, ``2GB``, ``16MiB``)."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 500MB or 2GB")
    unit = (match.group(2) or "b")[0].lower()
    return int(float(match.group(1)) * _UNITS[unit])


def add_rules_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "rules", nargs="*", metavar="RULES", help="rule files or folders (default: the bundled rule pack)"
    )


def load_pack(paths: list[str]):
    """The rules under ``paths``, or the bundled pack when none are given."""
    from sigma.pipelines.okta.loader import load_bundled, load_rules

    return load_rules(paths) if paths else load_bundled()
