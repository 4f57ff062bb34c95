"""Selection over the trials of an equal-effort tuning study (experiment=tune), DomainBed-style.

Per unit (a strategy, or a strategy variant such as `input_adapter=timm_stem`), each trial's
validation accuracy is averaged over its seeds; the trial with the best mean validation accuracy
is selected (the lowest trial index on a tie). Test figures are never read to choose: they are
reported for the selected trial only, as mean and Student-t 95% interval over its seeds, and the
rest of the report (summary, paired comparisons, figures) sees only the selected trials' runs.
A selected value in the outer part of the search space (`tuning.space.on_edge`) is flagged: the
best setting may lie outside what was searched. Runs that are not trials pass through untouched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns

from fashion_transfer import atomic
from fashion_transfer.analysis import stats
from fashion_transfer.analysis.comparisons import comparable_runs, unit_order
from fashion_transfer.analysis.figures.common import STYLE, FigureOutput, new_figure, save
from fashion_transfer.analysis.report_compare import Section
from fashion_transfer.tuning.space import EDGE_FRACTION, on_edge

SELECT_ON = "val_acc"
REPORTED = ["test_acc", "shared_acc"]
COLUMNS = [
    "strategy",
    "unit",
    "trial",
    "trials",
    "seeds",
    "val_mean",
    *[f"{m}_{part}" for m in REPORTED for part in ("mean", "ci_low", "ci_high", "n")],
    "hparams",
    "edge",
]


def trial_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """Completed trial runs (a `tune` record in metrics.json), each with its `unit`."""
    if "tune_trial" not in frame or frame["tune_trial"].isna().all():
        return frame.iloc[0:0].assign(unit=pd.Series(dtype=str))
    runs = comparable_runs(frame)
    return runs[runs["tune_trial"].notna()]


def trial_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per unit and trial: seeds, mean validation accuracy, the trial's hyperparameters."""
    rows = []
    for (unit, trial), part in trial_runs(frame).groupby(["unit", "tune_trial"], sort=False):
        record = part["tune"].iloc[0] or {}
        rows.append(
            {
                "strategy": part["strategy"].iloc[0],
                "unit": unit,
                "trial": int(trial),
                "seeds": len(part),
                "val_mean": float(part[SELECT_ON].mean()),
                "hparams": record.get("hparams") or {},
                "space": record.get("space") or {},
                "folders": list(part["folder"]),
            }
        )
    return pd.DataFrame(rows)


def select(frame: pd.DataFrame) -> pd.DataFrame:
    """tuning.csv: per unit the selected trial, its test figures over seeds, edge flags."""
    trials = trial_table(frame)
    runs = trial_runs(frame)
    rows = []
    for unit in unit_order(trials) if not trials.empty else []:
        part = trials[trials["unit"] == unit].sort_values("trial")
        if part["val_mean"].isna().all():
            continue  # no validation accuracy recorded: nothing to select on
        best = part.loc[part["val_mean"].idxmax()]  # idxmax: the first (lowest trial) on a tie
        chosen = runs[(runs["unit"] == unit) & (runs["tune_trial"] == best["trial"])]
        row: dict[str, Any] = {
            "strategy": best["strategy"],
            "unit": unit,
            "trial": best["trial"],
            "trials": len(part),
            "seeds": best["seeds"],
            "val_mean": best["val_mean"],
            "hparams": best["hparams"],
            "edge": [
                name
                for name, value in best["hparams"].items()
                if name in best["space"] and on_edge(best["space"][name], value)
            ],
        }
        for metric in REPORTED:
            n, mean, half = stats.t_interval(chosen[metric])
            row |= {f"{metric}_mean": mean, f"{metric}_n": n}
            row[f"{metric}_ci_low"] = mean - half if half is not None else None
            row[f"{metric}_ci_high"] = mean + half if half is not None else None
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def write_csv(selection: pd.DataFrame, path: Path) -> None:
    """tuning.csv: hyperparameters as JSON, edge names joined by ';'."""
    table = selection.assign(
        hparams=selection["hparams"].map(lambda h: json.dumps(h, sort_keys=True)),
        edge=selection["edge"].map(";".join),
    )
    atomic.write_text(path, table.to_csv(index=False))


def selected_runs(frame: pd.DataFrame, selection: pd.DataFrame) -> pd.DataFrame:
    """`frame` less the completed trial runs of trials that were not selected."""
    runs = trial_runs(frame)
    if runs.empty:
        return frame
    chosen = set(zip(selection["unit"], selection["trial"], strict=True))
    dropped = [i for i, r in runs.iterrows() if (r["unit"], int(r["tune_trial"])) not in chosen]
    return frame.drop(index=dropped)


def _value(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _percent(row: pd.Series, metric: str) -> str:
    mean = row[f"{metric}_mean"]
    if pd.isna(mean):
        return "—"
    low, high = row[f"{metric}_ci_low"], row[f"{metric}_ci_high"]
    interval = "" if pd.isna(low) else f" [{100 * low:.1f}, {100 * high:.1f}]"
    return f"{100 * mean:.1f}{interval} (n={row[f'{metric}_n']})"


def tuning_section(selection: pd.DataFrame) -> Section:
    """The report's table of selected trials and their hyperparameters."""
    headers = [
        "strategy",
        "trial",
        "trials searched",
        "mean val (%)",
        "test (%) [95%]",
        "shared 6-class (%) [95%]",
        "selected hyperparameters",
        "on the edge",
    ]
    rows = [
        [
            r["unit"],
            str(r["trial"]),
            str(r["trials"]),
            f"{100 * r['val_mean']:.1f}",
            _percent(r, "test_acc"),
            _percent(r, "shared_acc"),
            ", ".join(f"{k}={_value(v)}" for k, v in r["hparams"].items()),
            ", ".join(r["edge"]) or "no",
        ]
        for _, r in selection.iterrows()
    ]
    intro = (
        "Every strategy had the same trials (experiment=tune: hyperparameters drawn from the "
        "declared search space by the trial seed). Per strategy the trial with the best mean "
        "validation accuracy over seeds is selected (test figures are never used to choose), and "
        "its test figures are shown as mean and Student-t 95% interval over seeds. The summary, "
        "the paired comparisons and the figures use the selected trials' runs only. 'On the edge' "
        f"names selected values within {EDGE_FRACTION:.0%} of a bound of the space (log scale "
        "where the space is log-uniform; an integer at its bound): the best value may lie outside "
        "the space searched."
    )
    return Section("Tuning: selected trials", intro, headers, rows, "tuning-table")


def trial_spread_figure(
    frame: pd.DataFrame, selection: pd.DataFrame, out_dir: Path
) -> FigureOutput:
    """Each strategy's mean validation accuracy per trial (a strip plot), the selected ringed."""
    key, title = "tuning_trials", "Tuning: validation accuracy of every trial"
    trials = trial_table(frame)
    if trials.empty:
        return FigureOutput(key, title, skipped="no run is a trial of experiment=tune")
    order = list(selection["unit"])
    with matplotlib.rc_context(STYLE):
        fig = new_figure(max(5.0, 1.6 * len(order) + 1.5), 4.0)
        ax = fig.subplots()
        data = trials.assign(val=100 * trials["val_mean"])
        sns.stripplot(data=data, x="unit", y="val", order=order, ax=ax, size=6, jitter=0.15)
        picks = 100 * selection["val_mean"].to_numpy()
        ax.scatter(np.arange(len(order)), picks, s=160, facecolors="none", edgecolors="k", lw=1.5)
        ax.set(xlabel="", ylabel="mean validation accuracy over seeds (%)")
        ax.tick_params(axis="x", labelrotation=20)
        png, svg = save(fig, out_dir, key)
    caption = (
        "One dot per trial (its validation accuracy averaged over seeds); the ringed dot is the "
        "selected trial. The spread shows how much each strategy depends on its hyperparameters."
    )
    return FigureOutput(key, title, caption, png, svg)
