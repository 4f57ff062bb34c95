"""Where sweeps stand: `python -m fashion_transfer.status SWEEP_OR_RUN_DIR... [--json] [--resume-command]`.

Lists every job of each sweep (including the ones that never started) with its strategy, seed,
the settings that vary, its state (completed / running / interrupted, resumable from where /
failed, and why / never started), wall time and headline figure; then the counts and the
`wandb sync` command for offline W&B runs not yet uploaded. `--resume-command` prints only the
command(s) that launch the unfinished jobs again into the same folders, where they continue from
their checkpoints. argparse: these options choose what to read, they duplicate no config key.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from fashion_transfer.errors import UserError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, as every bad input gets; `--help` shows the usage."""
        self.exit(2, f"error: {message} (python -m fashion_transfer.status --help)\n")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = _Parser(prog="fashion-transfer-status", description=__doc__.splitlines()[0])
    p.add_argument("paths", nargs="+", type=Path, metavar="SWEEP_OR_RUN_DIR")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="everything as one JSON object")
    out.add_argument(
        "--resume-command",
        action="store_true",
        help="print only the command(s) that launch the unfinished jobs again",
    )
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from fashion_transfer.operations import render
    from fashion_transfer.operations.relaunch import resume_commands
    from fashion_transfer.operations.sweep import discover

    try:
        sweeps = [s for path in args.paths for s in discover(path)]
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        print(json.dumps(render.as_json(sweeps), indent=2))
    elif args.resume_command:
        lines = [line for s in sweeps for line in resume_commands(s)]
        if not lines:
            print("nothing to resume: every job is completed or running", file=sys.stderr)
        print("\n".join(lines), end="\n" if lines else "")
    else:
        print(render.text(sweeps))
    return 0


def cli() -> None:
    """Console script `fashion-transfer-status`."""
    sys.exit(main())


if __name__ == "__main__":
    cli()
