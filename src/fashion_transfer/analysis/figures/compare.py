"""Figures 7-9: paired differences (forest plot), reliability diagrams, accuracy on the line.

They read what `comparisons` computes and the runs' per-image `predictions.npz`; like the other
figures they raise `Skip` with the reason when the runs hold no data for them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from scipy import stats as sps

from fashion_transfer.analysis import stats
from fashion_transfer.analysis.comparisons import METRIC_LABELS, Comparisons
from fashion_transfer.analysis.figures.common import (
    STYLE,
    FigureOutput,
    Skip,
    domain_label,
    new_figure,
    save,
)

ECE_BINS = 15  # as training's calibration error (training/metrics.py)


def _forest_panel(ax, part: pd.DataFrame, palette) -> None:
    """One metric's rows: the t interval above, the bootstrap interval below, the mean a dot."""
    y = np.arange(len(part))[::-1]
    ax.axvline(0, color="0.3", lw=1)
    for yi, (_, r) in zip(y, part.iterrows(), strict=True):
        if pd.notna(r["ci_low"]):
            ax.plot(
                [100 * r["ci_low"], 100 * r["ci_high"]], [yi + 0.12] * 2, color=palette[0], lw=2.2
            )
        if pd.notna(r["bootstrap_low"]):
            ax.plot(
                [100 * r["bootstrap_low"], 100 * r["bootstrap_high"]],
                [yi - 0.12] * 2,
                color=palette[1],
                lw=2.2,
            )
        ax.plot(100 * r["mean_diff"], yi, "o", color="black", ms=4, zorder=3)
    labels = [
        f"{r['strategy_a']} − {r['strategy_b']} (n={r['n_pairs']})" for _, r in part.iterrows()
    ]
    ax.set_yticks(y, labels, fontsize=7)


def forest_plot(frame: pd.DataFrame, comparisons: Comparisons) -> tuple[Figure, str]:
    """Figure 7: A − B per strategy pair and metric, with the t and bootstrap intervals."""
    table = comparisons.table[comparisons.table["n_pairs"] > 0]
    if table.empty:
        raise Skip("no two strategies share a seed and a metric")
    metrics = list(dict.fromkeys(table["metric"]))
    heights = [max(1.5, 0.32 * (table["metric"] == m).sum() + 0.8) for m in metrics]
    fig = new_figure(8.5, sum(heights) + 0.6)
    axes = fig.subplots(len(metrics), 1, squeeze=False, height_ratios=heights)[:, 0]
    palette = sns.color_palette("deep")
    for ax, metric in zip(axes, metrics, strict=True):
        _forest_panel(ax, table[table["metric"] == metric].reset_index(drop=True), palette)
        ax.set_title(
            f"{METRIC_LABELS.get(metric, metric)}: difference in percentage points", fontsize=9
        )
    axes[-1].set_xlabel("A − B (percentage points)")
    handles = [
        matplotlib.lines.Line2D([], [], color=palette[0], lw=2.2, label="paired t 95% (seeds)"),
        matplotlib.lines.Line2D(
            [], [], color=palette[1], lw=2.2, label="bootstrap 95% (seeds × images)"
        ),
        matplotlib.lines.Line2D(
            [], [], color="black", marker="o", ls="", ms=4, label="mean difference"
        ),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8)
    n_max = int(table["n_pairs"].max())
    resolved = len(comparisons.resolved())
    caption = (
        "Mean difference A − B over seed pairs with the paired Student-t and the paired bootstrap "
        "95% intervals; a comparison is resolved when its intervals exclude zero. "
        + (
            f"{resolved} of {len(table)} comparisons are resolved."
            if n_max >= 2
            else "One seed per strategy: no intervals, so no comparison is resolved."
        )
    )
    return fig, caption


def _pooled_confidence(runs: pd.DataFrame, image_set: str) -> tuple[np.ndarray, np.ndarray] | None:
    conf, correct = [], []
    for path in runs["predictions"].dropna():
        with np.load(path) as f:
            if f"{image_set}_confidence" in f.files:
                conf.append(f[f"{image_set}_confidence"].astype(float))
                correct.append(f[f"{image_set}_correct"].astype(float))
    if not conf:
        return None
    return np.concatenate(conf), np.concatenate(correct)


def reliability_bins(confidence: np.ndarray, correct: np.ndarray) -> pd.DataFrame:
    """Per equal-width bin (left-closed, as torchmetrics bins): count, mean confidence, accuracy."""
    edges = np.linspace(0, 1, ECE_BINS + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, ECE_BINS - 1)
    rows = []
    for b in range(ECE_BINS):
        inside = which == b
        rows.append(
            {
                "low": edges[b],
                "high": edges[b + 1],
                "count": int(inside.sum()),
                "confidence": confidence[inside].mean() if inside.any() else np.nan,
                "accuracy": correct[inside].mean() if inside.any() else np.nan,
            }
        )
    return pd.DataFrame(rows)


def reliability_diagram(
    frame: pd.DataFrame, comparisons: Comparisons | None = None
) -> tuple[Figure, str]:
    """Figure 8: accuracy against confidence on the shared 6-class target set, baseline vs best."""
    done = stats.completed(frame)
    if "predictions" not in done.columns or done["predictions"].isna().all():
        raise Skip("no run has predictions.npz (per-image results)")
    best = stats.best_strategy(frame, "shared_acc")
    panels = [("fmnist_baseline (zero-shot)", done[stats.is_zero_shot_baseline(done)])]
    if best is not None:
        panels.append((best, done[done["strategy"] == best]))
    panels = [(name, runs, _pooled_confidence(runs, "shared")) for name, runs in panels]
    panels = [p for p in panels if p[2] is not None]
    if not panels:
        raise Skip("no baseline or best-strategy run has shared-space per-image results")
    fig = new_figure(4.2 * len(panels), 4.2)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    lines = []
    for ax, (name, runs, (conf, correct)) in zip(axes, panels, strict=True):
        bins = reliability_bins(conf, correct)
        width = 1 / ECE_BINS
        ax.bar(
            bins["low"],
            bins["accuracy"].fillna(0),
            width=width,
            align="edge",
            edgecolor="white",
            label="accuracy",
        )
        ax.plot([0, 1], [0, 1], "--", color="0.4", lw=1, label="perfect calibration")
        ece = runs["shared_ece"].dropna()
        ece_text = f"ECE {100 * ece.mean():.1f}%" + (
            f" (mean of {len(ece)} runs)" if len(ece) > 1 else ""
        )
        ax.set_title(f"{name}\n{ece_text}, {len(conf)} images", fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("top-1 confidence")
        lines.append(f"{name}: {ece_text}")
    axes[0].set_ylabel("accuracy")
    axes[0].legend(loc="upper left", fontsize=7)
    caption = (
        f"Shared 6-class target test set ({domain_label(done, 'target')}), images of all seeds "
        f"pooled, {ECE_BINS} equal-width confidence bins; the dashed diagonal is perfect "
        "calibration. Expected calibration error (torchmetrics, per run): " + "; ".join(lines) + "."
    )
    return fig, caption


def accuracy_on_the_line(
    frame: pd.DataFrame, comparisons: Comparisons | None = None
) -> tuple[Figure, str]:
    """Figure 9: in-domain (source test) against out-of-domain (shared) accuracy, with a linear fit."""
    done = stats.completed(frame)
    done = done[~stats.is_fmnist_view(done)]
    both = done[done["source_test_acc"].notna() & done["shared_acc"].notna()]
    if len(both) < 2:
        raise Skip("fewer than two runs have both a source test and a shared-space accuracy")
    fig = new_figure(6.5, 4.6)
    ax = fig.subplots()
    order = sorted(both["strategy"].unique(), key=stats.strategy_rank)
    x, y = 100 * both["source_test_acc"].to_numpy(), 100 * both["shared_acc"].to_numpy()
    sns.scatterplot(
        x=x, y=y, hue=both["strategy"].to_numpy(), hue_order=order, ax=ax, s=45, palette="deep"
    )
    text = "no fit (all runs have the same source accuracy)"
    if np.ptp(x) > 0:
        fit = sps.linregress(x, y)
        grid = np.linspace(x.min(), x.max(), 50)
        ax.plot(grid, fit.intercept + fit.slope * grid, color="0.3", lw=1.2, label="linear fit")
        text = f"linear fit: shared = {fit.slope:.2f} × source {fit.intercept:+.1f} (r = {fit.rvalue:.2f}, {len(x)} runs)"
    ax.set_xlabel(f"in-domain: {domain_label(both, 'source')} test accuracy (%)")
    ax.set_ylabel("out-of-domain: shared 6-class accuracy (%)")
    ax.set_title(f"target: {domain_label(done, 'target')}", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    caption = (
        "Accuracy on the line (Miller et al. 2021): every run with both figures, one colour per "
        f"strategy; {text}. Strategies trained only on the target have no source test accuracy."
    )
    return fig, caption


def make_compare_figures(
    frame: pd.DataFrame, comparisons: Comparisons, out_dir: Path
) -> list[FigureOutput]:
    """Draw figures 7-9 into `out_dir`; a figure without data is noted as skipped."""
    builders: list[tuple[str, str, Callable[..., tuple[Figure, str]]]] = [
        ("paired_differences", "7. Paired differences between strategies", forest_plot),
        ("reliability", "8. Reliability diagrams (calibration)", reliability_diagram),
        ("accuracy_on_the_line", "9. Accuracy on the line", accuracy_on_the_line),
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = []
    with matplotlib.rc_context(STYLE):
        for key, title, build in builders:
            try:
                fig, caption = build(frame, comparisons)
            except Skip as skip:
                outputs.append(FigureOutput(key, title, skipped=str(skip)))
                continue
            png, svg = save(fig, out_dir, key)
            outputs.append(FigureOutput(key, title, caption, png, svg))
    return outputs
