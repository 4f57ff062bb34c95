"""Model-selection protocols applied after the sweep to the runs' per-epoch history (DomainBed-style).

Every epoch of a run's final stage records its validation accuracy and its test accuracy
(`history[].val_acc`, `history[].test_acc`). One set of runs then answers three questions:

- `target-val`: the epoch with the best validation accuracy of the final stage's data set (the
  first one on a tie), which is what training selects and reports;
- `last`: the last epoch;
- `oracle`: the epoch with the best test accuracy. It looks at the test set, so it is an upper
  bound on what any selection could reach, never a result.

The metric is `test_acc`: the final stage's own test set (target top-1 for target-trained
strategies, the source test set for the Fashion-MNIST baseline). Means and 95% intervals are
over seeds (Student's t, as the summary table).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from fashion_transfer.analysis import stats
from fashion_transfer.analysis.comparisons import comparable_runs, unit_order

PROTOCOLS = ["target-val", "last", "oracle"]
PROTOCOL_LABELS = {
    "target-val": "target-val",
    "last": "last epoch",
    "oracle": "oracle (upper bound: selects on test)",
}
COLUMNS = ["strategy", "protocol", "metric", "mean", "ci_low", "ci_high", "n"]
METRIC = "test_acc"


def final_stage_epochs(history: Any) -> list[dict]:
    """The final stage's epochs that carry a test accuracy, in order."""
    if not isinstance(history, list) or not history:
        return []
    final = history[-1].get("stage")
    return [
        h
        for h in history
        if h.get("stage") == final and h.get(METRIC) is not None and h.get("val_acc") is not None
    ]


def select(history: Any) -> dict[str, dict | None]:
    """The epoch each protocol picks (its history entry), or None without per-epoch test scores."""
    epochs = final_stage_epochs(history)
    if not epochs:
        return dict.fromkeys(PROTOCOLS)
    # max() keeps the first of equal values: the earliest epoch wins a tie, as in training.
    return {
        "target-val": max(epochs, key=lambda h: h["val_acc"]),
        "last": epochs[-1],
        "oracle": max(epochs, key=lambda h: h[METRIC]),
    }


def selection_table(frame: pd.DataFrame) -> pd.DataFrame:
    """selection.csv: per strategy and protocol, mean test accuracy and its 95% interval."""
    runs = comparable_runs(frame)
    rows = []
    for unit in unit_order(runs) if not runs.empty else []:
        picks = [select(h) for h in runs.loc[runs["unit"] == unit, "history"]]
        for protocol in PROTOCOLS:
            values = [p[protocol][METRIC] for p in picks if p[protocol] is not None]
            n, mean, half = stats.t_interval(values)
            rows.append(
                {
                    "strategy": unit,
                    "protocol": protocol,
                    "metric": METRIC,
                    "mean": mean,
                    "ci_low": mean - half if half is not None else None,
                    "ci_high": mean + half if half is not None else None,
                    "n": n,
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)
