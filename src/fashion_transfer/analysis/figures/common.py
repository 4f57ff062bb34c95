"""What every figure shares: the look, the data-set labels, the output record, saving, `Skip`.

Figures use matplotlib's object API (`Figure`, no pyplot), so drawing never needs a display or
touches global figure state; seaborn supplies the look and the plots. A figure the runs have no
data for raises `Skip` with the reason, which the summary and the report print instead of an
empty chart. SVG text stays text (`svg.fonttype: none`): smaller files, and the synthetic-data
labels remain searchable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def strategy_order(names: pd.Series) -> list[str]:
    return sorted(names.dropna().unique(), key=stats.strategy_rank)
