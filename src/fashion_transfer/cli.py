"""What the argparse entrypoints (analyze, bench, data.check, synth) share: usage errors as
one `error: ...` line with exit 2, like every other bad input (docs/CONTRACTS.md, Errors), and
argument types that reject nonsense values with the option's name in the message.

argparse's own `error` prints the usage block and `prog: error: ...`; here a mistyped option is
reported like a missing file, and `--help` still prints the usage.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import NoReturn

from fashion_transfer.errors import UserError


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors; `json_errors` also prints `{"error": ...}` on stdout."""

    def __init__(self, *args, json_errors: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.json_errors = json_errors

    def error(self, message: str) -> NoReturn:
        fail(f"{message} (see {self.prog} --help)", json_errors=self.json_errors)


def print_error(message: str, exit_code: int = 2, *, json_errors: bool = False) -> int:
    """Print one `error:` line (and, for --json callers, the same as JSON on stdout).

    Returns `exit_code`, for `return print_error(...)` in a `main` that returns its status.
    """
    message = " ".join(str(message).split())  # one line, whatever the message held
    if json_errors:
        print(json.dumps({"error": message, "exit_code": exit_code}))
    print(f"error: {message}", file=sys.stderr)
    return exit_code


def fail(message: str, exit_code: int = 2, *, json_errors: bool = False) -> NoReturn:
    """`print_error`, then exit with `exit_code`."""
    sys.exit(print_error(message, exit_code, json_errors=json_errors))


def positive_int(text: str) -> int:
    """A whole number >= 1 (threads, workers, counts of images)."""
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """A whole number >= 0 (seeds; 0 where it means "the default")."""
    return _int_at_least(text, 0)


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {low}, got {value}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0 (seconds)."""
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def fraction(text: str) -> float:
    """A finite number in [0, 1] (a share of images, not a percentage)."""
    value = _finite(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(
            f"expected a fraction between 0 and 1 (0.01 is 1%), got {text}"
        )
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    return value


def path_arg(text: str) -> Path:
    """A path that is not empty (`Path("")` would silently mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    return Path(text)


def check_output_folder(path: Path, option: str = "--out") -> Path:
    """Fail before any work where `path` cannot become the folder a command writes into.

    It must be a folder or not exist yet; its nearest existing parent must be a writable folder
    (not a file, not read-only). Nothing is created here: a command that then fails leaves no
    empty folder behind.
    """
    if path.exists() and not path.is_dir():
        raise UserError(f"{option} {path} is a file, not a folder; give a folder path")
    existing = path.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{option} {path}: {existing} is a file, so no folder can be made under it")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{option} {path}: {existing} is not writable; give another folder")
    return path


def why(exc: OSError) -> str:
    """The operating system's reason and the file it concerns, without the errno prefix."""
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"
