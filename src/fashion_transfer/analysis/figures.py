"""The report's figures, each saved as PNG (for the HTML report) and SVG (for papers).

Figures use matplotlib's object API (`Figure`, no pyplot), so drawing never needs a display or
touches global figure state; seaborn supplies the look and the plots. Error bars are the same
Student-t intervals as the summary table (`stats.t_errorbar`), not seaborn's bootstrap.
A figure the runs have no data for raises `Skip` with the reason, which the summary and the
report print instead of an empty chart. SVG text stays text (`svg.fonttype: none`): smaller
files, and the synthetic-data labels remain searchable.

Figures 1 and 5 (bar and line charts of headline numbers) are here; 2, 3 and 4 (per-run
detail: learning curves, confusion matrices, sample images) are in `figures_detail`; 6 (the gap
decomposition's waterfall) is in `figures_gap`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from textwrap import fill
from typing import Any

import matplotlib
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from fashion_transfer.analysis import stats

DOMAIN_LABELS = {
    "fashion_mnist": "Fashion-MNIST",
    "deepfashion": "DeepFashion",
    "synth_studio": "FashionSynth studio (synthetic)",
    "synth_wild": "FashionSynth wild (synthetic)",
}
STYLE = {
    **sns.axes_style("whitegrid"),
    **sns.plotting_context("notebook", font_scale=0.9),
    "svg.fonttype": "none",
    "figure.dpi": 100,
}


class Skip(Exception):
    """The runs hold no data for this figure; the message says what is missing."""


@dataclass
class FigureOutput:
    """One figure of the report: its files, or the reason it was skipped."""

    key: str
    title: str
    caption: str = ""
    png: Path | None = None
    svg: Path | None = None
    skipped: str | None = None


def domain_label(frame: pd.DataFrame, side: str) -> str:
    """Name of the source or target data set as figures must show it.

    FashionSynth results are labelled synthetic wherever they appear, never as DeepFashion.
    """
    names = [n for n in frame[f"{side}_dataset"].dropna().unique() if n]
    if names:
        return " / ".join(DOMAIN_LABELS.get(str(n), str(n)) for n in sorted(names))
    if frame["synthetic"].fillna(False).astype(bool).any():
        return DOMAIN_LABELS["synth_studio" if side == "source" else "synth_wild"]
    return DOMAIN_LABELS["fashion_mnist" if side == "source" else "deepfashion"]


def at_largest_fraction(frame: pd.DataFrame) -> pd.DataFrame:
    """Per strategy, only the runs at its largest train_fraction (headline charts use full data)."""
    if frame.empty or frame["train_fraction"].isna().all():
        return frame
    # The in-domain Fashion-MNIST-view run is a baseline of its own, with its own fraction.
    key = frame["strategy"].astype(str) + stats.is_fmnist_view(frame).map(
        {True: "/view", False: ""}
    )
    top = frame.groupby(key, dropna=False)["train_fraction"].transform("max")
    return frame[(frame["train_fraction"] == top) | top.isna()]


def new_figure(width: float, height: float) -> Figure:
    """A pyplot-free figure: no GUI backend, no global figure list to leak into."""
    return Figure(figsize=(width, height), layout="constrained")


def save(fig: Figure, out_dir: Path, name: str) -> tuple[Path, Path]:
    """Write `name.png` and `name.svg` into `out_dir`."""
    png, svg = out_dir / f"{name}.png", out_dir / f"{name}.svg"
    fig.savefig(png, dpi=130)
    fig.savefig(svg)
    return png, svg


def label_bars(ax: Any) -> None:
    """Mean values inside the bars, where the error-bar caps cannot cover them."""
    for container in ax.containers:
        ax.bar_label(
            container, fmt="%.1f", label_type="center", fontsize=7, color="white", fontweight="bold"
        )


def legend_below(fig: Figure, ax: Any) -> None:
    """The axes' legend under the figure: in one row where that fits its width, else one column.

    The legend belongs to the figure (`outside lower center`), so constrained layout makes room
    for it; a row wider than the figure would leave the axes no width at all.
    """
    handles, labels = ax.get_legend_handles_labels()
    ax.get_legend().remove()
    legend = fig.legend(
        handles, labels, loc="outside lower center", ncols=len(labels), fontsize=8, frameon=False
    )
    fig.draw_without_rendering()
    if legend.get_window_extent().width > 0.95 * fig.bbox.width:
        legend.remove()
        fig.set_figheight(fig.get_figheight() + 0.17 * (len(labels) - 1))  # the rows it adds
        fig.legend(handles, labels, loc="outside lower center", ncols=1, fontsize=8, frameon=False)


def _strategy_order(names: pd.Series) -> list[str]:
    return sorted(names.dropna().unique(), key=stats.strategy_rank)


def transfer_gap(frame: pd.DataFrame) -> tuple[Figure, str]:
    """Figure 1: where accuracy goes from the source to the target, and what each strategy wins back."""
    done = at_largest_fraction(stats.completed(frame))
    base = done[stats.is_zero_shot_baseline(done)]
    others = done[done["strategy"] != stats.BASELINE]
    src, tgt = (
        domain_label(base if not base.empty else done, "source"),
        domain_label(done, "target"),
    )
    m_src, m_shared, m_top1 = (
        f"{src} test (in-domain)",
        f"{tgt}: shared 6-class",
        f"{tgt}: top-1, all classes",
    )
    rows = [
        ("source in-domain\n(fmnist_baseline)", m_src, v) for v in base["source_test_acc"].dropna()
    ]
    rows += [("zero-shot\n(fmnist_baseline)", m_shared, v) for v in base["shared_acc"].dropna()]
    for name in _strategy_order(others["strategy"]):
        part = others[others["strategy"] == name]
        rows += [(name.replace("_", "\n", 1), m_shared, v) for v in part["shared_acc"].dropna()]
        rows += [(name.replace("_", "\n", 1), m_top1, v) for v in part["target_top1"].dropna()]
    if not rows:
        raise Skip("no completed run has source_test_acc, shared_acc or target_top1")
    data = pd.DataFrame(rows, columns=["condition", "measure", "accuracy"])
    data["accuracy"] *= 100
    fig = new_figure(max(6.5, 1.3 * data["condition"].nunique() + 2), 4.4)
    ax = fig.add_subplot()
    hue_order = [m for m in (m_src, m_shared, m_top1) if m in set(data["measure"])]
    sns.barplot(
        data=data,
        x="condition",
        y="accuracy",
        hue="measure",
        hue_order=hue_order,
        ax=ax,
        errorbar=stats.t_errorbar,
        capsize=0.15,
        err_kws={"linewidth": 1.2},
        palette="deep",
    )
    label_bars(ax)
    ax.set(xlabel="", ylabel="test accuracy (%)", ylim=(0, 105))
    title = fill(f"Transfer gap: {src} → {tgt}", width=int(fig.get_figwidth() * 9))
    ax.set_title(f"{title}\nmean over seeds, 95% t-interval")
    legend_below(fig, ax)
    present = set(data["measure"])
    parts = []
    if m_src in present:
        parts.append(f"the Fashion-MNIST baseline on its own test set ({src})")
    if not base.empty and base["shared_acc"].notna().any():
        parts.append(f"the baseline zero-shot on {tgt} (shared 6-class space, Fashion-MNIST view)")
    if not others.empty:
        parts.append("every other strategy in the shared space and over all target classes")
    caption = (
        "Bars: " + "; ".join(parts) + ". Whiskers: 95% Student-t interval over seeds "
        "(none where n=1)."
    )
    return fig, caption


def data_efficiency(frame: pd.DataFrame) -> tuple[Figure, str]:
    """Figure 5: how accuracy grows with the fraction of training data, per strategy."""
    done = stats.completed(frame)
    if done["train_fraction"].nunique() < 2:
        raise Skip("the runs do not vary train_fraction")
    done = done.assign(curve=[stats.variant_label(r, ["source_view"]) for _, r in done.iterrows()])
    if done.groupby("curve")["train_fraction"].nunique().max() < 2:  # one dot per strategy
        raise Skip(
            "every strategy ran at a single train_fraction, so there is no curve to draw "
            "(a sweep over it: -m experiment=data_efficiency)"
        )
    metrics = [m for m in ("target_top1", "shared_acc") if done[m].notna().any()]
    tgt = domain_label(done, "target")
    fig = new_figure(5.0 * len(metrics) + 1.5, 4.2)
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    order = sorted(done["curve"].unique(), key=lambda c: stats.strategy_rank(c.split(" ")[0]))
    for ax, metric in zip(axes, metrics, strict=True):
        part = done[done[metric].notna()].assign(value=lambda d, m=metric: d[m] * 100)
        sns.lineplot(
            data=part,
            x="train_fraction",
            y="value",
            hue="curve",
            hue_order=order,
            marker="o",
            errorbar=stats.t_errorbar,
            err_style="bars",
            ax=ax,
            legend=ax is axes[-1],
        )
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(part["train_fraction"].unique()))
        ax.set_xticklabels([f"{f:g}" for f in sorted(part["train_fraction"].unique())])
        name = "top-1, all classes" if metric == "target_top1" else "shared 6-class"
        ax.set(xlabel="train_fraction (log scale)", ylabel=f"{tgt}: {name} (%)")
    if axes[-1].get_legend() is not None:
        sns.move_legend(axes[-1], "upper left", bbox_to_anchor=(1.02, 1), title="", fontsize=8)
    fig.suptitle(f"Data efficiency on {tgt}: mean over seeds, 95% t-interval")
    caption = (
        "Test accuracy against the fraction of the training split used. For fmnist_baseline "
        "the fraction is of its own (source) training split; its target accuracy is zero-shot."
    )
    return fig, caption


def make_figures(frame: pd.DataFrame, out_dir: Path) -> list[FigureOutput]:
    """Draw every figure the runs have data for into `out_dir`; note the others as skipped."""
    from fashion_transfer.analysis import figures_detail as detail
    from fashion_transfer.analysis.figures_gap import gap_waterfall

    builders: list[tuple[str, str, Callable[[pd.DataFrame], tuple[Figure, str]]]] = [
        ("transfer_gap", "1. Transfer gap", transfer_gap),
        ("learning_curves", "2. Learning curves", detail.learning_curves),
        ("shared_confusion", "3. Shared-space confusion matrices", detail.shared_confusion),
        ("samples", "4. Sample predictions", detail.sample_grid),
        ("data_efficiency", "5. Data efficiency", data_efficiency),
        ("gap_decomposition", "6. Gap decomposition", gap_waterfall),
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = []
    with matplotlib.rc_context(STYLE):
        for key, title, build in builders:
            try:
                fig, caption = build(frame)
            except Skip as skip:
                outputs.append(FigureOutput(key, title, skipped=str(skip)))
                continue
            png, svg = save(fig, out_dir, key)
            outputs.append(FigureOutput(key, title, caption, png, svg))
    return outputs
