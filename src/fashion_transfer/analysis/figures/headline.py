"""Figures 1 and 5: bar and line charts of the headline numbers.

Error bars are the same Student-t intervals as the summary table (`stats.t_errorbar`), not
seaborn's bootstrap.
"""

from __future__ import annotations

from textwrap import fill

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from fashion_transfer.analysis import stats
from fashion_transfer.analysis.figures.common import (
    Skip,
    domain_label,
    label_bars,
    legend_below,
    new_figure,
    strategy_order,
)


def transfer_gap(frame: pd.DataFrame) -> tuple[Figure, str]:
    """Figure 1: where accuracy goes from the source to the target, and what each strategy wins back."""
    done = stats.at_largest_fraction(stats.completed(frame))
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
    for name in strategy_order(others["strategy"]):
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
