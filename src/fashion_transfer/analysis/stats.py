"""Means and 95% confidence intervals over seeds, per strategy (and per varied setting).

Seeds are few (3-5), so the interval uses Student's t rather than a normal or bootstrap
interval: half-width = t.ppf(0.975, n-1) * std(ddof=1) / sqrt(n). With one run there is no
spread to estimate; the interval is None and tables say "n=1" instead of inventing one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from fashion_transfer.record import SUMMARY_METRICS

#: Settings that split a strategy into separate rows when a sweep varies them.
VARIANT_KEYS = [
    "source_dataset",
    "source_view",
    "target_dataset",
    "target_view",
    "target_fmnist_background",
    "backbone",
    "pretrained",
    "input_adapter",
    "train_fraction",
]
STRATEGY_ORDER = [
    "fmnist_baseline",
    "deepfashion_scratch",
    "deepfashion_imagenet",
    "adapter_scratch",
    "adapter_pretrained",
]
BASELINE = "fmnist_baseline"


def t_interval(values: Iterable[float]) -> tuple[int, float, float | None]:
    """(n, mean, CI half-width) of the non-missing values; half-width None when n < 2."""
    x = np.asarray([v for v in values if v is not None and not pd.isna(v)], dtype=float)
    n = len(x)
    if n == 0:
        return 0, math.nan, None
    if n == 1:
        return 1, float(x[0]), None
    half = sps.t.ppf(0.975, n - 1) * x.std(ddof=1) / math.sqrt(n)
    return n, float(x.mean()), float(half)


def t_errorbar(values: Iterable[float]) -> tuple[float, float]:
    """(low, high) for seaborn's `errorbar=` so plotted bars show exactly the tabled interval."""
    _, mean, half = t_interval(values)
    half = half or 0.0
    return mean - half, mean + half


def completed(frame: pd.DataFrame) -> pd.DataFrame:
    """Runs that finished; only these enter means and figures."""
    return frame[frame["status"] == "completed"]


def is_fmnist_view(frame: pd.DataFrame) -> pd.Series:
    """The in-domain run on the target in Fashion-MNIST format (a baseline on `source_view=fmnist`)."""
    return (frame["strategy"] == BASELINE) & (frame["source_view"] == "fmnist")


def is_zero_shot_baseline(frame: pd.DataFrame) -> pd.Series:
    """The Fashion-MNIST baseline proper, scored zero-shot on the target."""
    return (frame["strategy"] == BASELINE) & ~is_fmnist_view(frame)


def group_keys(frame: pd.DataFrame) -> list[str]:
    """`strategy` plus every setting that takes more than one value within some strategy."""
    done = completed(frame)
    keys = ["strategy"]
    for key in VARIANT_KEYS:
        per_strategy = done.groupby("strategy", dropna=False)[key].nunique(dropna=False)
        if (per_strategy > 1).any():
            keys.append(key)
    return keys


def strategy_rank(name: Any) -> tuple[int, str]:
    """Sort key: the design's strategy order first, anything else alphabetically after."""
    name = str(name)
    return (
        (STRATEGY_ORDER.index(name), name)
        if name in STRATEGY_ORDER
        else (len(STRATEGY_ORDER), name)
    )


def variant_label(
    row: pd.Series | dict[str, Any], varying: Iterable[str], *, with_strategy: bool = True
) -> str:
    """Human label of a group: the strategy, plus the settings that vary within that strategy.

    Without the strategy (for a panel already titled with it) the label is just the settings.
    """
    varying = list(varying)
    parts = []
    if row["strategy"] == BASELINE and "source_view" in varying:
        parts.append("in-domain, fmnist view" if row["source_view"] == "fmnist" else "zero-shot")
        varying = [k for k in varying if k not in ("source_dataset", "source_view")]
    parts += [
        f"{k}={row[k]:g}" if isinstance(row[k], float) else f"{k}={row[k]}"
        for k in varying
        if not pd.isna(row[k])
    ]
    if not with_strategy:
        return "; ".join(parts) or str(row["strategy"])
    return str(row["strategy"]) + (f" ({'; '.join(parts)})" if parts else "")


def summarise(frame: pd.DataFrame, metrics: Sequence[str] = SUMMARY_METRICS) -> pd.DataFrame:
    """One row per group: run counts and n / mean / ci95 / std per metric.

    Groups in which every run failed still get a row (runs == 0), so no strategy vanishes.
    """
    frame = frame.assign(strategy=frame["strategy"].fillna("(unknown)"))
    keys = group_keys(frame)
    rows: list[dict[str, Any]] = []
    for values, group in frame.groupby(keys, dropna=False, sort=False):
        values = values if isinstance(values, tuple) else (values,)
        row: dict[str, Any] = dict(zip(keys, values, strict=True))
        done = completed(group)
        row["runs"] = len(done)
        row["failed"] = len(group) - len(done)
        for metric in metrics:
            n, mean, half = t_interval(done[metric])
            row[f"{metric}_n"] = n
            row[f"{metric}_mean"] = mean
            row[f"{metric}_ci95"] = half
        rows.append(row)
    table = pd.DataFrame(rows)
    varying = {
        name: [k for k in keys[1:] if part[k].nunique(dropna=False) > 1]
        for name, part in table.groupby("strategy", dropna=False)
    }
    table["label"] = [variant_label(r, varying[r["strategy"]]) for _, r in table.iterrows()]
    order = sorted(
        range(len(table)),
        key=lambda i: (strategy_rank(table["strategy"].iloc[i]), table["label"].iloc[i]),
    )
    return table.iloc[order].reset_index(drop=True)


def long_form(table: pd.DataFrame, metrics: Sequence[str] = SUMMARY_METRICS) -> pd.DataFrame:
    """Summary in long form (label, metric, n, mean, ci95) for tests and machine readers."""
    rows = [
        {
            "label": r["label"],
            "metric": m,
            "n": r[f"{m}_n"],
            "mean": r[f"{m}_mean"],
            "ci95": r[f"{m}_ci95"],
        }
        for _, r in table.iterrows()
        for m in metrics
    ]
    return pd.DataFrame(rows)


def format_cell(mean: float, half: float | None, n: int, *, percent: bool = True) -> str:
    """`71.2 ± 1.3` in percent (1 decimal); `71.2 (n=1)` for a single run; `—` for none."""
    if n == 0 or pd.isna(mean):
        return "—"
    scale = 100.0 if percent else 1.0
    if half is None or pd.isna(half):
        return f"{mean * scale:.1f} (n=1)"
    return f"{mean * scale:.1f} ± {half * scale:.1f}"


def best_strategy(frame: pd.DataFrame, metric: str = "shared_acc") -> str | None:
    """The non-baseline strategy with the highest mean `metric` (at the largest train_fraction)."""
    done = completed(frame)
    done = done[(done["strategy"] != BASELINE) & done[metric].notna()]
    if done.empty:
        return None
    if done["train_fraction"].notna().any():
        top = done.groupby("strategy")["train_fraction"].transform("max")
        done = done[(done["train_fraction"] == top) | top.isna()]
    means = done.groupby("strategy")[metric].mean()
    return str(means.idxmax())


def at_largest_fraction(frame: pd.DataFrame) -> pd.DataFrame:
    """Per strategy, only the runs at its largest train_fraction (headline charts use full data)."""
    if frame.empty or frame["train_fraction"].isna().all():
        return frame
    # The in-domain Fashion-MNIST-view run is a baseline of its own, with its own fraction.
    key = frame["strategy"].astype(str) + is_fmnist_view(frame).map({True: "/view", False: ""})
    top = frame.groupby(key, dropna=False)["train_fraction"].transform("max")
    return frame[(frame["train_fraction"] == top) | top.isna()]
