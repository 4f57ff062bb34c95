"""Figure 6: the gap decomposition as a waterfall, each step with a t-interval over seeds.

Source in-domain -> zero-shot on the target with the photo's own background (`keep`) ->
zero-shot with the faithful view (what format and background cost) -> in-domain on the target
in Fashion-MNIST format (what is left is the domain) -> the best RGB strategy (what colour and
resolution add). A step's interval comes from its per-seed differences: the two levels of a seed
are paired (the same run for the two zero-shot levels, runs of the same seed otherwise), so the
interval is that of the step, not of either level. Each bar names the view that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from textwrap import fill

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from fashion_transfer.analysis import stats
from fashion_transfer.analysis.figures.common import Skip, domain_label, new_figure

UP, DOWN, LEVEL = "#2f7ed8", "#cf222e", "#8c8c8c"


@dataclass
class Level:
    """One level of the waterfall: its label and its value (%) per seed."""

    label: str
    per_seed: pd.Series  # index: seed


def _per_seed(runs: pd.DataFrame, column: str) -> pd.Series:
    values = runs[["seed", column]].dropna()
    return values.groupby("seed")[column].mean() * 100


def _view_name(values: pd.Series) -> str:
    names = sorted({str(v) for v in values.dropna()})
    return "/".join(names) if names else "default"


def levels(frame: pd.DataFrame) -> list[Level]:
    """The decomposition's levels that the runs hold, in order."""
    done = stats.at_largest_fraction(stats.completed(frame))
    base = done[stats.is_zero_shot_baseline(done)]
    view = done[stats.is_fmnist_view(done)]
    if view.empty:
        raise Skip(
            "no in-domain Fashion-MNIST-view run (fmnist_baseline with source_view=fmnist; "
            "make demo runs it)"
        )
    if base.empty:
        raise Skip("no zero-shot baseline run (fmnist_baseline on its source)")
    zero_shot_view = _view_name(base["target_fmnist_background"])
    in_domain_view = _view_name(view["source_fmnist_background"])
    src = domain_label(base, "source")
    out = [Level(f"{src} test\n(in-domain)", _per_seed(base, "source_test_acc"))]
    if "zero_shot_keep_acc" in base and base["zero_shot_keep_acc"].notna().any():
        out.append(Level("zero-shot\nview: keep", _per_seed(base, "zero_shot_keep_acc")))
    out.append(Level(f"zero-shot\nview: {zero_shot_view}", _per_seed(base, "shared_acc")))
    view_acc = view.assign(
        acc=view["shared_acc"].where(view["shared_acc"].notna(), view["test_acc"])
    )
    out.append(Level(f"in-domain, target\nview: {in_domain_view}", _per_seed(view_acc, "acc")))
    best = stats.best_strategy(done)
    if best is not None:
        runs = done[done["strategy"] == best]
        out.append(Level(f"best RGB\n({best})", _per_seed(runs, "shared_acc")))
    return out


def step_name(before: str, after: str) -> str:
    """What a step between two levels measures."""
    if before.startswith("zero-shot\nview: keep") and after.startswith("zero-shot"):
        return "format + background"
    if after.startswith("zero-shot"):
        return "total drop to zero-shot"
    if after.startswith("in-domain"):
        return "domain"
    return "RGB + resolution"


def steps(levels_: list[Level]) -> pd.DataFrame:
    """One row per step: name, from/to means, mean difference and its t-interval over seeds."""
    rows = []
    for before, after in zip(levels_, levels_[1:], strict=False):
        paired = pd.concat([before.per_seed, after.per_seed], axis=1, join="inner").dropna()
        n, diff, half = stats.t_interval(paired.iloc[:, 1] - paired.iloc[:, 0])
        if n == 0:  # no seed in common: the difference of the means, without an interval
            diff, half = after.per_seed.mean() - before.per_seed.mean(), None
        rows.append(
            {
                "step": step_name(before.label, after.label),
                "start": before.per_seed.mean(),
                "end": after.per_seed.mean(),
                "diff": diff,
                "ci95": half,
                "seeds": n,
            }
        )
    return pd.DataFrame(rows)


def _wrap(label: str) -> str:
    """Each line of a label wrapped to a bar's width."""
    return "\n".join(fill(line, 13) for line in label.split("\n"))


def _fmt(row: pd.Series) -> str:
    half = "" if row["ci95"] is None or pd.isna(row["ci95"]) else f" ± {row['ci95']:.1f}"
    return f"{row['diff']:+.1f}{half}"


def gap_waterfall(frame: pd.DataFrame) -> tuple[Figure, str]:
    """Figure 6: where the accuracy goes, step by step, with each step's interval over seeds."""
    found = levels(frame)
    table = steps(found)
    tgt = domain_label(stats.completed(frame), "target")
    fig = new_figure(10.5, 5.0)
    ax = fig.add_subplot()
    x = np.arange(2 * len(found) - 1)
    labels = []
    for i, level in enumerate(found):
        mean, (low, high) = level.per_seed.mean(), stats.t_errorbar(level.per_seed)
        ax.bar(2 * i, mean, color=LEVEL, width=0.8)
        if high > low:
            ax.errorbar(2 * i, mean, yerr=[[mean - low], [high - mean]], color="black", capsize=3)
        ax.text(2 * i, mean / 2, f"{mean:.1f}", ha="center", color="white", fontsize=8)
        labels.append(_wrap(level.label))
        if i == len(found) - 1:
            break
        row = table.iloc[i]
        lo, hi = sorted((row["start"], row["end"]))
        ax.bar(2 * i + 1, hi - lo, bottom=lo, color=UP if row["diff"] >= 0 else DOWN, width=0.8)
        half = 0.0 if row["ci95"] is None or pd.isna(row["ci95"]) else row["ci95"]
        if half:
            ax.errorbar(2 * i + 1, row["end"], yerr=half, color="black", capsize=3)
        ax.text(2 * i + 1, max(hi, row["end"] + half) + 3, _fmt(row), ha="center", fontsize=7)
        labels.append(_wrap(row["step"]))
    ax.set_xticks(x, labels, fontsize=7)
    ax.set(ylabel="test accuracy (%)", ylim=(0, 112))
    ax.set_title(f"Gap decomposition on {tgt}: step by step, 95% t-interval over seeds")
    parts = "; ".join(
        f"{r['step']} {_fmt(r)} pp (n={r['seeds']} seeds)" for _, r in table.iterrows()
    )
    caption = (
        "Gray: levels (source: its own test set; the others: shared 6-class accuracy on the "
        "target test set), named with the Fashion-MNIST view (fmnist_background) that produced "
        "them. Colour: the steps between them, each with the t-interval of its per-seed "
        f"differences. {parts}."
    )
    return fig, caption
