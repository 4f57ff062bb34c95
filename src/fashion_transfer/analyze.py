"""Analysis entrypoint: sweeps (or W&B runs of a group) -> results.csv, summary.md, figures, report.html.

    python -m fashion_transfer.analyze SWEEP_DIR... [--out DIR] [--wandb ENTITY/PROJECT --group G]

argparse is used here because these options describe which runs to read, not how to train:
they duplicate nothing in the Hydra config.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import pandas as pd

from fashion_transfer.cli import ArgumentParser, check_output_folder, path_arg, why
from fashion_transfer.errors import UserError


def analyze(
    paths: Sequence[str],
    out: Path,
    wandb_path: str | None = None,
    group: str | None = None,
    api: Any = None,
) -> Path:
    """Collect runs, write every output into `out`, and return the path of report.html."""
    matplotlib.use("Agg")  # before anything imports pyplot: never needs a display
    from fashion_transfer.analysis import (
        collect,
        comparisons,
        report,
        report_compare,
        selection,
        stats,
        tuning,
        wandb_source,
    )
    from fashion_transfer.analysis.figures import compare, make

    frames = [collect.collect_runs(paths)] if paths else []
    if wandb_path:
        frames.append(wandb_source.collect_api(wandb_path, group, api))
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    try:
        out.mkdir(parents=True, exist_ok=True)
        collect.write_csv(frame, out / "results.csv")
        # A tuning study: every later output sees only the selected trials (analysis/tuning.py).
        all_runs, tuned = frame, tuning.select(frame)
        if not tuned.empty:
            tuning.write_csv(tuned, out / "tuning.csv")
            frame = tuning.selected_runs(all_runs, tuned)
        table = stats.summarise(frame)
        stats.long_form(table).to_csv(out / "summary.csv", index=False)
        compared = comparisons.compare(frame)
        comparisons.write_csv(compared, out / "comparisons.csv")
        selected = selection.selection_table(frame)
        selected.to_csv(out / "selection.csv", index=False)
        drawn = make.make_figures(frame, out)
        drawn += compare.make_compare_figures(frame, compared, out)
        sections = []
        if not tuned.empty:
            drawn.append(tuning.trial_spread_figure(all_runs, tuned, out))
            sections.append(tuning.tuning_section(tuned))
        sections += [
            report_compare.comparison_section(compared),
            report_compare.selection_section(selected),
        ]
        report.write_summary_md(frame, table, drawn, out / "summary.md", sections)
        inputs = [*paths, *([f"wandb:{wandb_path} group={group}"] if wandb_path else [])]
        report.write_report_html(frame, table, drawn, inputs, out / "report.html", sections)
    except OSError as exc:  # read-only or full disk, a file where a folder goes
        raise UserError(
            f"cannot write the analysis into {out} ({why(exc)}); pass --out DIR with a "
            "writable folder"
        ) from None
    return out / "report.html"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command line: run folders, output folder, optional W&B group."""
    parser = ArgumentParser(prog="fashion-transfer-analyze", description=__doc__.splitlines()[0])
    parser.add_argument(
        "sweep_dirs",
        nargs="*",
        metavar="SWEEP_DIR",
        help="Hydra multirun folder, single run folder, or folder of W&B offline runs",
    )
    parser.add_argument(
        "--out", type=path_arg, help="output folder (default: <first SWEEP_DIR>/analysis)"
    )
    parser.add_argument(
        "--wandb", metavar="ENTITY/PROJECT", help="also read runs through the W&B API"
    )
    parser.add_argument("--group", help="W&B group (the sweep name) to read with --wandb")
    args = parser.parse_args(argv)
    if not args.sweep_dirs and not args.wandb:
        parser.error("give at least one SWEEP_DIR, or --wandb ENTITY/PROJECT --group G")
    if bool(args.wandb) != bool(args.group):
        parser.error("--wandb and --group go together")
    for path in args.sweep_dirs:
        if Path(path).exists() and not Path(path).is_dir():
            parser.error(
                f"SWEEP_DIR {path} is a file; pass a Hydra multirun folder or a run folder"
            )
    if args.out is None:
        args.out = (
            Path(args.sweep_dirs[0]) / "analysis"
            if args.sweep_dirs
            else Path(f"analysis-{args.group}")
        )
    return args


OUTPUTS = ("results.csv", "summary.csv", "summary.md", "report.html")
REPORT_MARK = "<title>fashion-transfer analysis"  # what report.py's page starts with


def check_not_foreign(out: Path) -> None:
    """Refuse to overwrite files of these names that an earlier analysis did not write.

    An earlier analysis folder (its report.html is this suite's) is rewritten, as intended.
    """
    clashes = [name for name in OUTPUTS if (out / name).exists()]
    if not clashes:
        return
    report = out / "report.html"
    try:
        ours = report.is_file() and REPORT_MARK in report.read_text(encoding="utf-8")[:2000]
    except (OSError, UnicodeDecodeError):
        ours = False
    if not ours:
        raise UserError(
            f"--out {out} holds {clashes[0]}, which no earlier analysis wrote there; the analysis "
            "would overwrite it: pass --out with a new folder or an earlier analysis folder"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the analysis; user errors print one line and exit 2."""
    args = parse_args(argv)
    try:
        check_output_folder(args.out)  # before reading runs or drawing: a bad --out fails at once
        check_not_foreign(args.out)
        path = analyze(args.sweep_dirs, args.out, args.wandb, args.group)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"report: {path.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
