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


def instant(text: str) -> int:
    """An ISO 8601 time (``2026-03-10``, ``2026-03-10T14:00:00Z``; UTC unless it says otherwise), in
    epoch microseconds."""
    from ..engine.timestamps import MISSING_TIME, parse_time

    micros = parse_time(text if "T" in text else text + "T00:00:00Z")
    if micros <= MISSING_TIME:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time like 2026-03-10 or 2026-03-10T14:00:00Z")
    return micros


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


SKIPPED_SHOWN = 10  # a whole SigmaHQ checkout skips thousands of rules: name a few, count the rest


def add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    from sigma.pipelines.okta.selection import LEVELS

    group = parser.add_argument_group("rule selection")
    group.add_argument(
        "--rule",
        action="append",
        default=[],
        metavar="NAME",
        help="only this rule (name, id or title; repeatable), with the rules it correlates",
    )
    group.add_argument(
        "--tag", action="append", default=[], metavar="TAG", help="only rules with this tag (repeatable)"
    )
    group.add_argument(
        "--min-level",
        choices=list(LEVELS),
        help="only rules of this level or higher (rules without one: not)",
    )
    group.add_argument(
        "--skip-unsupported",
        action="store_true",
        help="leave out, with a message each, the rules the target (or engine) cannot express, instead "
        "of failing after naming them all",
    )
    group.add_argument(
        "--all-logsources",
        action="store_true",
        help="also rules whose logsource is not Okta's System Log (skipped by default, with a message)",
    )


def note_skipped(skipped) -> None:
    """Say on stderr which rules were left out and why (the first few, and how many more)."""
    from .output import note

    for each in skipped[:SKIPPED_SHOWN]:
        note(str(each))
    if len(skipped) > SKIPPED_SHOWN:
        note(f"... and {len(skipped) - SKIPPED_SHOWN} more rules skipped")


def without_refused(pack, refused):
    """``pack`` without the rules of ``refused`` (pairs of a rule and its error) and the correlations
    over them, each said on stderr (``--skip-unsupported``)."""
    from sigma.pipelines.okta.selection import Selection, select_rules

    reasons = {id(rule): getattr(error, "message", None) or str(error) for rule, error in refused}
    selected = select_rules(pack, Selection(all_logsources=True, refused=reasons))
    note_skipped(selected.skipped)
    return selected.pack


def load_selected_pack(arguments: argparse.Namespace):
    """The rules of ``arguments.rules`` that the selection options keep; says on stderr which rules were
    skipped and why, and warns when nothing is left."""
    from sigma.pipelines.okta.selection import LEVELS, Selection, select_rules

    from .output import CliError, warn

    pack = load_pack(arguments.rules)
    selection = Selection(
        names=arguments.rule,
        tags=arguments.tag,
        min_level=LEVELS[arguments.min_level] if arguments.min_level else None,
        all_logsources=arguments.all_logsources,
    )
    selected = select_rules(pack, selection)
    if selected.unknown_names:
        from sigma.pipelines.okta.errors import suggestion

        name = selected.unknown_names[0]
        raise CliError(f"--rule: no rule is named '{name}'{suggestion(name, selected.known_names)}")
    note_skipped(selected.skipped)
    if not len(selected.pack):
        where = ", ".join(arguments.rules) or "the bundled pack"
        if not len(pack):
            warn(f"no rules found in {where}: nothing to do")
        else:
            warn(f"none of the {len(pack)} rules in {where} is selected: nothing to do")
    return selected.pack


def add_line_arguments(parser) -> None:
    """How lines are read, the same for `run` and `watch`: the prefilter, and the longest line kept."""
    parser.add_argument(
        "--no-prefilter",
        action="store_true",
        help="decode every line instead of only those that can match (slower, same alerts)",
    )
    parser.add_argument(
        "--max-line-bytes",
        type=size,
        default=16 << 20,
        metavar="SIZE",
        help="skip (and count) longer lines (default: 16MiB)",
    )


def add_geoip_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--geoip",
        metavar="MMDB",
        help="a MaxMind City database (GeoLite2-City.mmdb, GeoIP2-City.mmdb) that locates events lacking "
        "client.geographicalContext from client.ipAddress, for the rules that read it; never overwrites "
        "Okta's own location (needs the geoip extra: pip install 'sigma-okta[geoip]')",
    )


def open_geoip(arguments: argparse.Namespace):
    """The ``--geoip`` database, opened, so that a missing or damaged file stops the command before it
    reads any event; None without ``--geoip`` (then maxminddb is not imported)."""
    if getattr(arguments, "geoip", None) is None:
        return None
    from .output import EXIT_NO_INPUT, EXIT_USAGE, CliError

    if getattr(arguments, "pipeline", None):
        raise CliError(
            "--geoip locates raw System Log events (client.ipAddress); it cannot be used with --pipeline",
            EXIT_USAGE,
        )
    from ..engine.geoip import GeoIpError, open_database

    try:
        return open_database(arguments.geoip)
    except GeoIpError as error:
        raise CliError(str(error), EXIT_NO_INPUT) from error
