"""Figures from per-run detail: learning curves (2), confusion matrices (3), sample grid (4).

These read the nested parts of a run (metrics.json `history` and `shared_confusion`, and
`samples.npz`) rather than the headline numbers; W&B-only runs usually lack them and are
simply not drawn here.
"""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from fashion_transfer.analysis import stats
from fashion_transfer.analysis.figures.common import Skip, domain_label, new_figure
from fashion_transfer.analysis.rows import BACKGROUNDS

log = logging.getLogger(__name__)

CORRECT, WRONG = "#1a7f37", "#cf222e"
MAX_SAMPLES = 8


def _history_rows(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    varying = {
        name: [k for k in ("source_view", "train_fraction") if part[k].nunique(dropna=False) > 1]
        for name, part in frame.groupby("strategy")
    }
    for _, run in frame.iterrows():
        for h in run["history"] if isinstance(run["history"], list) else []:
            if h.get("val_acc") is None:
                continue
            rows.append(
                {
                    "strategy": run["strategy"],
                    "curve": stats.variant_label(
                        run, varying[run["strategy"]], with_strategy=False
                    ),
                    "folder": run["folder"],
                    "global_epoch": h["global_epoch"],
                    "val_acc": h["val_acc"] * 100,
                    "stage": h.get("stage"),
                    "frozen": h.get("frozen"),
                }
            )
    return pd.DataFrame(rows)


def _mark_stages(ax: Any, epochs: pd.DataFrame) -> None:
    """Dashed line at each stage boundary, dotted where the backbone is unfrozen."""
    epochs = epochs.sort_values("global_epoch")
    prev = None
    for _, h in epochs.iterrows():
        x = h["global_epoch"] - 0.5
        if prev is None or h["stage"] != prev["stage"]:
            if prev is not None:
                ax.axvline(x, color="0.3", linestyle="--", linewidth=1)
            # Stage name just right of its start, near the top (x in data, y in axes units).
            ax.text(
                max(x, ax.get_xlim()[0]),
                0.97,
                f" {h['stage']} stage",
                va="top",
                ha="left",
                fontsize=8,
                color="0.3",
                transform=ax.get_xaxis_transform(),
            )
        elif prev["frozen"] is True and h["frozen"] is False:
            ax.axvline(x, color="tab:purple", linestyle=":", linewidth=1.5)
        prev = h


def learning_curves(frame: pd.DataFrame) -> tuple[Figure, str]:
    """Figure 2: validation accuracy per global epoch, mean over seeds, one panel per strategy."""
    data = _history_rows(stats.completed(frame))
    if data.empty:
        raise Skip("no completed run has a per-epoch history (W&B-only runs carry none here)")
    names = sorted(data["strategy"].unique(), key=stats.strategy_rank)
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig = new_figure(4.2 * cols, 3.2 * rows + 0.6)
    axes = fig.subplots(rows, cols, squeeze=False, sharey=True).ravel()
    for ax, name in zip(axes, names, strict=False):
        part = data[data["strategy"] == name]
        curves = sorted(part["curve"].unique())
        sns.lineplot(
            data=part,
            x="global_epoch",
            y="val_acc",
            hue="curve",
            hue_order=curves,
            marker="o",
            errorbar=stats.t_errorbar,
            ax=ax,
            legend=len(curves) > 1,
            palette="deep",
        )
        ax.set_ylim(0, 105)
        first = part[part["folder"] == part["folder"].iloc[0]]
        _mark_stages(ax, first)
        ax.set(title=name, xlabel="epoch (all stages)", ylabel="validation accuracy (%)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if ax.get_legend() is not None:
            ax.legend(fontsize=7, title="", loc="lower right")
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    handles = [
        Line2D([], [], color="0.3", linestyle="--", label="stage boundary"),
        Line2D([], [], color="tab:purple", linestyle=":", label="backbone unfrozen"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=8)
    fig.suptitle("Validation accuracy by epoch: mean over seeds, 95% t-interval")
    caption = (
        "Each stage is validated on its own data set (source stage: source validation split, "
        "target stage: target validation split), so the curve jumps at stage boundaries."
    )
    return fig, caption


def _summed_confusion(runs: pd.DataFrame) -> tuple[np.ndarray, list[str]] | None:
    mats = [
        np.asarray(c, dtype=float) for c in runs["shared_confusion"] if isinstance(c, list) and c
    ]
    if not mats:
        return None
    classes = next((c for c in runs["shared_classes"] if isinstance(c, list)), None)
    total = np.sum(mats, axis=0)
    return total, classes or [str(i) for i in range(len(total))]


def shared_confusion(frame: pd.DataFrame) -> tuple[Figure, str]:
    """Figure 3: baseline zero-shot next to the best strategy, row-normalised, summed over seeds."""
    done = stats.at_largest_fraction(stats.completed(frame))
    best = stats.best_strategy(done)
    panels = []
    base = _summed_confusion(done[stats.is_zero_shot_baseline(done)])
    if base is not None:
        panels.append(
            ("fmnist_baseline (zero-shot)", done[stats.is_zero_shot_baseline(done)], base)
        )
    if best is not None:
        runs = done[done["strategy"] == best]
        mat = _summed_confusion(runs)
        if mat is not None:
            panels.append((f"{best} (best shared acc)", runs, mat))
    if not panels:
        raise Skip("no completed baseline or strategy run has a shared_confusion matrix")
    fig = new_figure(4.4 * len(panels) + 0.8, 4.6)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for i, (ax, (title, runs, (mat, classes))) in enumerate(zip(axes, panels, strict=True)):
        sums = mat.sum(axis=1, keepdims=True)
        norm = np.divide(mat, sums, out=np.full_like(mat, np.nan), where=sums > 0) * 100
        sns.heatmap(
            norm,
            ax=ax,
            annot=True,
            fmt=".0f",
            cmap="Blues",
            vmin=0,
            vmax=100,
            square=True,
            xticklabels=classes,
            yticklabels=classes,
            cbar=i == len(panels) - 1,
            annot_kws={"fontsize": 7},
            cbar_kws={"label": "% of true class"},
        )
        acc = runs["shared_acc"].mean() * 100
        ax.set_title(f"{title}\nshared acc {acc:.1f}%, {len(runs)} seed(s) summed", fontsize=9)
        ax.set(xlabel="predicted", ylabel="true")
        ax.tick_params(axis="x", rotation=45, labelsize=7)
        ax.tick_params(axis="y", rotation=0, labelsize=7)
    fig.suptitle(f"Shared 6-class confusion on {domain_label(done, 'target')} (row-normalised)")
    caption = "Rows: true class, summed over seeds and normalised to 100%; columns: prediction."
    if len(panels) == 1:
        caption += " Only one panel: the other side has no shared_confusion in these runs."
    return fig, caption


def _load_samples(path: str) -> dict[str, Any]:
    with np.load(path, allow_pickle=False) as npz:
        data = {k: npz[k] for k in npz.files}
    # samples_meta is a JSON document stored as a (0-d or 1-element) string array.
    meta = data.pop("samples_meta", None)
    item = meta.reshape(-1)[0] if meta is not None and meta.size else None
    item = item.decode() if isinstance(item, bytes) else item
    data["meta"] = json.loads(str(item)) if item is not None else {}
    return data


def _pick(
    runs: pd.DataFrame, prefer: pd.Series, key: str, unreadable: set[str]
) -> tuple[pd.Series, dict[str, Any]] | None:
    """First run (preferred ones first) whose samples.npz holds `key`.

    A file that cannot be read is warned about once (collected in `unreadable`) and passed over.
    """
    ordered = pd.concat([runs[prefer], runs[~prefer]])
    for _, run in ordered.iterrows():
        path = run["samples"]
        if isinstance(path, str) and path not in unreadable and Path(path).is_file():
            try:
                data = _load_samples(path)
            except (OSError, ValueError, zipfile.BadZipFile) as exc:  # truncated or foreign file
                log.warning("warning: %s unreadable, its samples not drawn: %s", path, exc)
                unreadable.add(path)
                continue
            if key in data:
                return run, data
    return None


def _image(array: np.ndarray) -> tuple[np.ndarray, str | None]:
    """(C, H, W) uint8 -> something imshow draws: gray for one channel, RGB for three."""
    return (array[0], "gray") if array.shape[0] == 1 else (np.transpose(array, (1, 2, 0)), None)


def _class_name(classes: list[str] | None, index: Any) -> str:
    """Class name for an id, or the id itself when samples_meta does not name it."""
    i = int(index)
    return classes[i] if classes and 0 <= i < len(classes) else str(i)


def _background_rows(done: pd.DataFrame, base: pd.Series, tgt: str) -> list[tuple]:
    """The view's sample rows: the zero-shot's own background, then the others (same images)."""
    own = done.loc[base, "target_fmnist_background"].dropna()
    view = f"fmnist_background={own.iloc[0]}" if len(own) else "Fashion-MNIST view"
    rows = [("fmnist_view", "shared_classes", base, f"{tgt} test,\n{view}")]
    for background in BACKGROUNDS:
        if not len(own) or background != own.iloc[0]:
            label = f"{tgt} test,\nfmnist_background={background}"
            rows.append((f"fmnist_view_{background}", "shared_classes", base, label))
    return rows


def _sample_rows(done: pd.DataFrame) -> list[tuple[str, dict[str, Any], list | None, str]]:
    """(prefix, samples.npz content, class names, row label) for each row the runs can fill."""
    best = stats.best_strategy(done)
    base = stats.is_zero_shot_baseline(done)
    src, tgt = (
        domain_label(done[base] if base.any() else done, "source"),
        domain_label(done, "target"),
    )
    specs = [
        ("source", "source_classes", base, f"{src} test"),
        ("target", "target_classes", done["strategy"] == best, f"{tgt} test (RGB)"),
        *_background_rows(done, base, tgt),  # the Fashion-MNIST view, a row per background
    ]
    rows, unreadable = [], set()
    for prefix, classes_key, prefer, label in specs:
        found = _pick(done, prefer, f"{prefix}_images", unreadable)
        if found is not None:
            run, data = found
            rows.append(
                (
                    prefix,
                    data,
                    # training writes `<prefix>_classes`; older samples only `shared_classes`
                    data["meta"].get(f"{prefix}_classes") or data["meta"].get(classes_key),
                    f"{label}\n{run['strategy']}",
                )
            )
    return rows


def _draw_sample_row(axes: Any, data: dict[str, Any], prefix: str, classes, label: str) -> None:
    images, labels = data[f"{prefix}_images"], data.get(f"{prefix}_labels")
    preds = data.get(f"{prefix}_preds")
    for c, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        if c >= min(MAX_SAMPLES, len(images)):
            ax.set_axis_off()
            continue
        img, cmap = _image(images[c])
        ax.imshow(img, cmap=cmap, vmin=0, vmax=255)
        if labels is not None:
            title, color = _class_name(classes, labels[c]), "black"
            if preds is not None:
                title += f"\n→ {_class_name(classes, preds[c])}"
                color = CORRECT if preds[c] == labels[c] else WRONG
            ax.set_title(title, fontsize=6.5, color=color)
        if c == 0:
            ax.set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")


def sample_grid(frame: pd.DataFrame) -> tuple[Figure, str]:
    """Figure 4: source images, target images, and the target in the Fashion-MNIST view."""
    rows = _sample_rows(stats.completed(frame))
    if not rows:
        raise Skip("no completed run has a samples.npz")
    cols = max(min(MAX_SAMPLES, len(d[f"{p}_images"])) for p, d, _, _ in rows)
    fig = new_figure(1.25 * cols + 1.2, 1.75 * len(rows))
    axes = fig.subplots(len(rows), cols, squeeze=False)
    for r, (prefix, data, classes, label) in enumerate(rows):
        _draw_sample_row(axes[r], data, prefix, classes, label)
    fig.suptitle("Sample predictions (true → predicted; green right, red wrong)", fontsize=10)
    what = {
        "source": "the source test set",
        "target": "the target test set in RGB (50-way labels)",
        "fmnist_view": "the target test set in the Fashion-MNIST view (crop, gray, 28x28; shared classes)",
        **{
            prefix: f"the same images with fmnist_background={prefix.rsplit('_', 1)[1]}"
            for prefix, *_ in rows
            if prefix.startswith("fmnist_view_")
        },
    }
    described = [
        f"{what[prefix]} with {label.splitlines()[-1]}'s predictions"
        for prefix, _, _, label in rows
    ]
    caption = "Rows: " + "; ".join(described) + ". Samples of the first seed found for each row."
    return fig, caption
