"""What every command shares: exit codes, the error that carries one, and where output goes.

Exit codes (also in the README):
  0  the command completed (``run``: whether or not it raised alerts)
  1  an unexpected internal error (report it; ``--debug`` shows the traceback)
  2  bad usage or invalid rules (each problem is printed with file, line and rule)
  3  ``--strict``: the input had bad lines (the first one is named)
  4  an input could not be found or read
  5  ``--truth``: the alerts differ from the generator's ground truth
  6  ``test``: a detection test failed
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_BAD_INPUT, EXIT_NO_INPUT, EXIT_TRUTH = 0, 1, 2, 3, 4, 5
EXIT_TESTS_FAILED = 6


class CliError(Exception):
    """A failure the user can act on: printed as one line, and the command exits with ``code``."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


def note(message: str) -> None:
    """A line for the user on stderr (stdout carries the command's data)."""
    print(message, file=sys.stderr)


def warn(message: str) -> None:
    """Something the user probably did not mean, said on stderr; the command goes on."""
    print(f"warning: {message}", file=sys.stderr)


class open_output:
    """stdout's binary buffer, or a file; closes only what it opened."""

    def __init__(self, path: str | None):
        self.path = path
        self.stream: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes]:
        if self.path is None or self.path == "-":
            self.stream = sys.stdout.buffer
        else:
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)  # as `generate -o` does
                self.stream = open(self.path, "wb")
            except OSError as error:
                raise CliError(f"cannot write {self.path}: {error.strerror}", EXIT_USAGE) from error
        return self.stream

    def __exit__(self, *exc: object) -> None:
        if self.stream is not None and self.stream is not sys.stdout.buffer:
            self.stream.close()
