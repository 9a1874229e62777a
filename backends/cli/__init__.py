"""``sigma-okta``: run Okta detections locally, convert them to SIEM queries, generate test data, check rules.

One module per command, each with ``register(commands)`` that adds its sub-parser and handler:
``run``, ``watch``, ``convert``, ``listing`` (``list``), ``generate``, ``validate``, ``test``, ``explain``. ``output`` holds the exit codes
(documented there and in the README) and the error type every command raises; ``arguments`` the
argument types they share. Command modules import their machinery inside the handler, so that
``sigma-okta run`` never imports the conversion backends.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from sigma.exceptions import SigmaError

from . import convert, explain, generate, listing, run, test, validate, watch
from .output import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, CliError

COMMANDS = (run, watch, test, explain, convert, listing, generate, validate)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        return arguments.handler(arguments)
    except CliError as error:
        print(f"sigma-okta: {error}", file=sys.stderr)
        return error.code
    except SigmaError as error:
        if arguments.debug:
            raise
        print(f"sigma-okta: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # `sigma-okta run ... | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # an internal error: one line, unless --debug asks for the traceback
        if arguments.debug:
            raise
        print(
            f"sigma-okta: internal error: {type(error).__name__}: {error} (run with --debug for details)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sigma-okta",
        description="Splunk ESCU's Okta detections as Sigma rules: convert them for Splunk, Elastic, "
        "Sentinel, DuckDB and Spark, run them on Okta System Log exports or live streams, test them "
        "against fixtures, generate realistic test data.",
        epilog="Exit codes: 0 done, 1 internal error, 2 usage or rule errors, 3 bad input with --strict, "
        "4 input not found, 5 alerts differ from --truth, 6 a detection test failed.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    parser.add_argument("--version", action=_VersionAction)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    return parser


class _VersionAction(argparse.Action):
    """``--version``, looked up only when asked (package metadata costs every other run ~13 ms)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"sigma-okta {_version()}")  # on stdout, as argparse's own version action
        parser.exit()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sigma-okta")
    except PackageNotFoundError:  # running from a checkout that is not installed
        return "(not installed)"


__all__ = ["CliError", "build_parser", "main"]
