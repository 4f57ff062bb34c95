"""Write the README's demo section from a demo sweep's analysis outputs.

    python -m fashion_transfer.analysis.readme_demo SWEEP_DIR [--readme README.md] [--img docs/img]

It reads `SWEEP_DIR/analysis/{summary.csv,comparisons.csv}` (and `SWEEP_DIR/demo_wall_s`, which
`make demo` writes), copies the forest plot next to the README, and replaces the text between
`<!-- demo:begin -->` and `<!-- demo:end -->`: the per-strategy table, the figure, the
differences whose intervals exclude zero, and the list of those that do not. Nothing else in
the README changes, so a claim there can only come from the statistics.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from fashion_transfer import atomic
from fashion_transfer.analysis import stats
from fashion_transfer.analysis.comparisons import METRIC_LABELS
from fashion_transfer.errors import UserError

BEGIN, END = "<!-- demo:begin -->", "<!-- demo:end -->"
TABLE = [  # (metric, header) of the README's table, a subset of the report's
    ("source_test_acc", "source test"),
    ("target_top1", "target top-1"),
    ("target_macro_acc", "target macro"),
    ("shared_acc", "shared 6-class"),
    ("reverse_acc", "reverse"),
    ("shared_ece", "shared ECE"),
    ("wall_time_s", "wall time (s)"),
]
FIGURE = "paired_differences.png"


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise UserError(
            f"{path} not found; run python -m fashion_transfer.analyze on the sweep first"
        )
    return pd.read_csv(path)


def strategy_table(summary: pd.DataFrame) -> str:
    """Mean ± 95% interval per strategy (summary.csv, long form) as a Markdown table."""
    lines = [
        "| strategy | seeds | " + " | ".join(h for _, h in TABLE) + " |",
        "|---|---:|" + "---:|" * len(TABLE),
    ]
    for label, part in summary.groupby("label", sort=False):
        cells = part.set_index("metric")
        seeds = int(cells["n"].max())
        values = [
            stats.format_cell(
                cells.loc[m, "mean"],
                None if pd.isna(cells.loc[m, "ci95"]) else cells.loc[m, "ci95"],
                int(cells.loc[m, "n"]),
                percent=m != "wall_time_s",
            )
            if m in cells.index  # an analysis from an older version may lack a column
            else "—"
            for m, _ in TABLE
        ]
        lines.append(f"| {label} | {seeds} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def _interval(low: float, high: float) -> str:
    return f"[{100 * low:+.1f}, {100 * high:+.1f}]"


def claims(comparisons: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(resolved sentences, unresolved pairs): resolved = the t-interval and the bootstrap
    interval (where there is one) both exclude zero on the same side."""
    shown = comparisons[comparisons["n_pairs"] > 0]
    resolved, unresolved = [], []
    for _, r in shown.iterrows():
        metric = METRIC_LABELS.get(r["metric"], r["metric"])
        boot = pd.notna(r["bootstrap_low"])
        above = r["ci_low"] > 0 and (not boot or r["bootstrap_low"] > 0)
        below = r["ci_high"] < 0 and (not boot or r["bootstrap_high"] < 0)
        if above or below:
            win, lose = (
                (r["strategy_a"], r["strategy_b"]) if above else (r["strategy_b"], r["strategy_a"])
            )
            sign = 1 if above else -1
            text = (
                f"**{win}** beats {lose} on {metric} by {100 * sign * r['mean_diff']:.1f} pp "
                f"({r['n_pairs']} seed pairs; paired t 95% "
                f"{_interval(*sorted((sign * r['ci_low'], sign * r['ci_high'])))}"
            )
            if boot:
                text += f", bootstrap {_interval(*sorted((sign * r['bootstrap_low'], sign * r['bootstrap_high'])))}"
            resolved.append(text + ")")
        else:
            unresolved.append(
                f"{r['strategy_a']} vs {r['strategy_b']} on {metric} "
                f"({100 * r['mean_diff']:+.1f} pp)"
            )
    return resolved, unresolved


def demo_section(sweep: Path, img_dir: Path, readme: Path, command: str) -> str:
    """The Markdown between the README's demo markers."""
    analysis = sweep / "analysis"
    summary = _read(analysis / "summary.csv")
    comparisons = _read(analysis / "comparisons.csv")
    figure = analysis / FIGURE
    if not figure.is_file():
        raise UserError(f"{figure} not found: the analysis drew no paired comparisons (one seed?)")
    img_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(figure, img_dir / f"demo_{FIGURE}")
    seeds = int(summary["n"].max())
    wall = sweep / "demo_wall_s"
    wall_text = (
        f" The whole `make demo` took {int(float(wall.read_text())) // 60} min "
        f"{int(float(wall.read_text())) % 60} s wall."
        if wall.is_file()
        else ""
    )
    resolved, unresolved = claims(comparisons)
    rel = (img_dir / f"demo_{FIGURE}").resolve().relative_to(readme.resolve().parent)
    parts = [
        BEGIN,
        f"`{command}`, generated {datetime.now(UTC):%Y-%m-%d} by "
        "`python -m fashion_transfer.analysis.readme_demo` from the sweep's analysis "
        f"({seeds} seeds; mean ± 95% Student-t interval over seeds).{wall_text} "
        "SYNTHETIC data (FashionSynth), not DeepFashion results.",
        "",
        strategy_table(summary),
        "",
        f"![Paired differences between strategies on FashionSynth (synthetic)]({rel.as_posix()})",
        "",
        "Differences whose paired intervals exclude zero (paired Student-t over seeds and the "
        "paired bootstrap over seeds × test images):",
        "",
        *([f"- {c}." for c in resolved] or ["- none."]),
        "",
        "Unresolved (an interval includes zero), so not claimed: "
        + ("; ".join(unresolved) if unresolved else "none")
        + ".",
        END,
    ]
    return "\n".join(parts)


def check_markers(text: str, readme: Path) -> None:
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise UserError(f"{readme}: needs exactly one {BEGIN} ... {END} block to replace")


def replace_section(text: str, section: str, readme: Path) -> str:
    check_markers(text, readme)
    return text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="readme_demo", description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path, metavar="SWEEP_DIR", help="the demo's multirun folder")
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    parser.add_argument("--img", type=Path, default=Path("docs/img"), help="where the figure goes")
    parser.add_argument(
        "--command", default="make demo", help="the command that produced the sweep, as printed"
    )
    args = parser.parse_args(argv)
    try:
        if not args.readme.is_file():
            raise UserError(f"{args.readme} not found; pass --readme PATH")
        text = args.readme.read_text(encoding="utf-8")
        check_markers(text, args.readme)  # before anything is written
        section = demo_section(args.sweep, args.img, args.readme, args.command)
        atomic.write_text(args.readme, replace_section(text, section, args.readme))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"wrote the demo section of {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
