"""Write the README's demo (or tuning) section from a sweep's analysis outputs.

    python -m fashion_transfer.analysis.readme_demo SWEEP_DIR [--section demo|tune]
        [--readme README.md] [--img docs/img]

`--section demo` reads `SWEEP_DIR/analysis/{summary.csv,comparisons.csv}` (and
`SWEEP_DIR/demo_wall_s`, which `make demo` writes), copies the forest plot next to the README, and
replaces the text between `<!-- demo:begin -->` and `<!-- demo:end -->`: the per-strategy table,
the figure, the differences whose intervals exclude zero, and the list of those that do not.
`--section tune` does the same for `make tune-demo` between `<!-- tune:begin -->` and
`<!-- tune:end -->` from `tuning.csv`: the selected trial per strategy, whether the selected
learning rates differ, and the learned adapter against timm's gray stem. Nothing else in the
README changes, so a claim there can only come from the statistics.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from fashion_transfer import atomic
from fashion_transfer.analysis import stats
from fashion_transfer.analysis.comparisons import METRIC_LABELS
from fashion_transfer.analysis.figures import gap
from fashion_transfer.analysis.figures.common import Skip
from fashion_transfer.errors import UserError

SECTIONS = ("demo", "tune")


def markers(section: str) -> tuple[str, str]:
    return f"<!-- {section}:begin -->", f"<!-- {section}:end -->"


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
GAP_FIGURE = "gap_decomposition.png"


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


def decomposition(results: pd.DataFrame) -> str:
    """The gap decomposition as one sentence: each level, and each step with its t-interval
    over seeds (a step whose interval includes zero is marked unresolved)."""
    try:
        levels = gap.levels(results)
    except Skip as skip:
        return f"No gap decomposition: {skip}."
    table = gap.steps(levels)
    parts = [f"{levels[0].label.replace(chr(10), ' ')} {levels[0].per_seed.mean():.1f}%"]
    for level, (_, step) in zip(levels[1:], table.iterrows(), strict=True):
        half = step["ci95"]
        interval = "" if half is None or pd.isna(half) else f" ± {half:.1f}"
        unresolved = ", unresolved" if interval and abs(step["diff"]) <= half else ""
        parts.append(
            f"{level.label.replace(chr(10), ' ')} {level.per_seed.mean():.1f}% "
            f"({step['step']}: {step['diff']:+.1f}{interval} pp, {int(step['seeds'])} seeds"
            f"{unresolved})"
        )
    head = (
        "Gap decomposition (shared 6-class accuracy; each step's mean and 95% t-interval of its "
        "per-seed differences; each level names the view that produced it): "
    )
    return head + " → ".join(parts) + "."


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
    wall_text = _wall_text(sweep, "make demo")
    resolved, unresolved = claims(comparisons)
    rel = (img_dir / f"demo_{FIGURE}").resolve().relative_to(readme.resolve().parent)
    waterfall = analysis / GAP_FIGURE
    if waterfall.is_file():
        shutil.copy(waterfall, img_dir / f"demo_{GAP_FIGURE}")
    gap_rel = rel.with_name(f"demo_{GAP_FIGURE}")
    begin, end = markers("demo")
    parts = [
        begin,
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
        "",
        decomposition(_read(analysis / "results.csv")),
        *(
            ["", f"![Gap decomposition on FashionSynth (synthetic)]({gap_rel.as_posix()})"]
            if waterfall.is_file()
            else []
        ),
        end,
    ]
    return "\n".join(parts)


def _wall_text(sweep: Path, target: str) -> str:
    wall = sweep / "demo_wall_s"
    if not wall.is_file():
        return ""
    seconds = int(float(wall.read_text()))
    return f" The whole `{target}` took {seconds // 60} min {seconds % 60} s wall."


def _selected_lrs(tuned: pd.DataFrame) -> dict[str, float]:
    """Unit -> its selected learning rate (units whose trials draw one)."""
    lrs = {}
    for _, r in tuned.iterrows():
        hparams = json.loads(r["hparams"]) if isinstance(r["hparams"], str) else {}
        if "lr" in hparams:
            lrs[r["unit"]] = float(hparams["lr"])
    return lrs


def lr_sentence(tuned: pd.DataFrame) -> str:
    """Whether the selected learning rates differ by strategy, in one sentence."""
    lrs = _selected_lrs(tuned)
    if not lrs:
        return "No selected trial draws a learning rate."
    values = sorted(set(lrs.values()))
    if len(values) == 1:
        return (
            f"The selected learning rates do **not** differ by strategy: every strategy selected "
            f"lr={values[0]:.3g}."
        )
    groups = {v: sorted(u for u, x in lrs.items() if x == v) for v in values}
    listed = "; ".join(f"lr={v:.3g}: {', '.join(units)}" for v, units in groups.items())
    return f"The selected learning rates **differ** by strategy ({listed})."


def tuning_table(tuned: pd.DataFrame) -> str:
    """tuning.csv as a Markdown table: the selected trial per unit, its figures and values."""
    lines = [
        "| strategy | selected trial | of | mean val | test | shared 6-class "
        "| selected hyperparameters | on the edge |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for _, r in tuned.iterrows():
        hparams = json.loads(r["hparams"]) if isinstance(r["hparams"], str) else {}
        shown = ", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in hparams.items()
        )
        cells = [
            stats.format_cell(
                r[f"{m}_mean"],
                None if pd.isna(r[f"{m}_ci_low"]) else (r[f"{m}_ci_high"] - r[f"{m}_ci_low"]) / 2,
                int(r[f"{m}_n"]),
                percent=True,
            )
            for m in ("test_acc", "shared_acc")
        ]
        edge = r["edge"] if isinstance(r["edge"], str) and r["edge"] else "no"
        lines.append(
            f"| {r['unit']} | {int(r['trial'])} | {int(r['trials'])} | {100 * r['val_mean']:.1f}% "
            f"| {cells[0]} | {cells[1]} | {shown} | {edge} |"
        )
    return "\n".join(lines)


def stem_rows(comparisons: pd.DataFrame) -> pd.DataFrame:
    """Comparisons of a strategy's learned adapter against its timm_stem variant."""
    base_a = comparisons["strategy_a"].str.split(" ").str[0]
    base_b = comparisons["strategy_b"].str.split(" ").str[0]
    stem = comparisons["strategy_a"].str.contains("timm_stem") ^ comparisons[
        "strategy_b"
    ].str.contains("timm_stem")
    return comparisons[(base_a == base_b) & stem & (comparisons["n_pairs"] > 0)]


def tune_section(sweep: Path, img_dir: Path, readme: Path, command: str) -> str:
    """The Markdown between the README's tune markers."""
    analysis = sweep / "analysis"
    tuned = _read(analysis / "tuning.csv")
    comparisons = _read(analysis / "comparisons.csv")
    figure = analysis / "tuning_trials.png"
    if tuned.empty or not figure.is_file():
        raise UserError(f"{sweep} holds no tuning trials: run make tune-demo, or pass its folder")
    img_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(figure, img_dir / "tune_demo_trials.png")
    rel = (img_dir / "tune_demo_trials.png").resolve().relative_to(readme.resolve().parent)
    resolved, unresolved = claims(stem_rows(comparisons))
    seeds = int(tuned["seeds"].max())
    begin, end = markers("tune")
    parts = [
        begin,
        f"`{command}`, generated {datetime.now(UTC):%Y-%m-%d} by "
        "`python -m fashion_transfer.analysis.readme_demo --section tune` from the sweep's "
        f"`tuning.csv` ({int(tuned['trials'].max())} trials x {seeds} seed(s) per strategy; "
        "test figures of the selected trial, mean ± 95% Student-t interval over seeds where "
        f"there are two or more).{_wall_text(sweep, 'make tune-demo')} SYNTHETIC data "
        "(FashionSynth), not DeepFashion results.",
        "",
        tuning_table(tuned),
        "",
        lr_sentence(tuned),
        "",
        f"![Validation accuracy of every trial, per strategy (synthetic)]({rel.as_posix()})",
        "",
        "Learned 1->3 adapter against timm's gray stem at the selected trials (paired over seeds): "
        + ("; ".join(resolved) if resolved else "no difference is resolved")
        + (". Unresolved: " + "; ".join(unresolved) if unresolved else "")
        + ".",
        end,
    ]
    return "\n".join(parts)


def check_markers(text: str, readme: Path, section: str = "demo") -> None:
    begin, end = markers(section)
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        raise UserError(f"{readme}: needs exactly one {begin} ... {end} block to replace")


def replace_section(text: str, new: str, readme: Path, section: str = "demo") -> str:
    check_markers(text, readme, section)
    begin, end = markers(section)
    return text[: text.index(begin)] + new + text[text.index(end) + len(end) :]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="readme_demo", description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path, metavar="SWEEP_DIR", help="the sweep's folder")
    parser.add_argument("--section", choices=SECTIONS, default="demo", help="which README block")
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    parser.add_argument("--img", type=Path, default=Path("docs/img"), help="where the figure goes")
    parser.add_argument(
        "--command", default="make demo", help="the command that produced the sweep, as printed"
    )
    args = parser.parse_args(argv)
    build = {"demo": demo_section, "tune": tune_section}[args.section]
    try:
        if not args.readme.is_file():
            raise UserError(f"{args.readme} not found; pass --readme PATH")
        text = args.readme.read_text(encoding="utf-8")
        check_markers(text, args.readme, args.section)  # before anything is written
        new = build(args.sweep, args.img, args.readme, args.command)
        atomic.write_text(args.readme, replace_section(text, new, args.readme, args.section))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"wrote the {args.section} section of {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
