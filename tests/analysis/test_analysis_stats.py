"""Means and 95% confidence intervals over seeds, checked against a direct numpy/scipy computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from fashion_transfer.analysis import stats
from fashion_transfer.analysis.collect import collect_runs
from fashion_transfer.record import SUMMARY_METRICS

METRICS = SUMMARY_METRICS


def direct_ci(values: list[float]) -> tuple[float, float]:
    x = np.asarray(values, dtype=float)
    return x.mean(), sps.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))


def test_summary_csv_equals_direct_computation(analysed):
    sweep, out = analysed
    summary = pd.read_csv(out / "summary.csv")
    for strategy in stats.STRATEGY_ORDER:
        runs = [m for m in sweep.metrics.values() if m["strategy"] == strategy]
        assert len(runs) == 3
        for metric in METRICS:
            row = summary[(summary["label"] == strategy) & (summary["metric"] == metric)].iloc[0]
            values = [m[metric] for m in runs if m[metric] is not None]
            if not values:
                assert row["n"] == 0 and pd.isna(row["mean"]) and pd.isna(row["ci95"])
                continue
            mean, half = direct_ci(values)
            assert row["n"] == 3
            assert row["mean"] == pytest.approx(mean, rel=1e-12)
            assert row["ci95"] == pytest.approx(half, rel=1e-12)
            assert half > 0


def test_summary_md_cells_are_percent_mean_and_ci(analysed):
    sweep, out = analysed
    text = (out / "summary.md").read_text()
    runs = [m for m in sweep.metrics.values() if m["strategy"] == "adapter_pretrained"]
    mean, half = direct_ci([m["shared_acc"] for m in runs])
    line = next(x for x in text.splitlines() if x.startswith("| adapter_pretrained |"))
    assert f"| {mean * 100:.1f} ± {half * 100:.1f} |" in line
    wall_mean, wall_half = direct_ci([m["wall_time_s"] for m in runs])
    assert line.endswith(f"| {wall_mean:.1f} ± {wall_half:.1f} |")  # seconds, not percent
    # adapter_scratch: 3 completed runs, 1 failed.
    assert next(x for x in text.splitlines() if x.startswith("| adapter_scratch |")).startswith(
        "| adapter_scratch | 3 | 1 |"
    )


def test_single_seed_has_no_interval(tmp_path, kit):
    sweep = kit.make_sweep(tmp_path / "s", seeds=(4,), broken=False, samples=False)
    table = stats.summarise(collect_runs([sweep.root]))
    row = table[table["strategy"] == "deepfashion_imagenet"].iloc[0]
    assert row["shared_acc_n"] == 1 and row["shared_acc_ci95"] is None
    cell = stats.format_cell(row["shared_acc_mean"], row["shared_acc_ci95"], row["shared_acc_n"])
    assert cell.endswith("(n=1)")
    assert stats.t_errorbar([0.5]) == (0.5, 0.5)


def test_t_interval_and_cells():
    n, mean, half = stats.t_interval([0.5, 0.6, None, float("nan"), 0.7])
    assert n == 3 and mean == pytest.approx(0.6)
    assert half == pytest.approx(sps.t.ppf(0.975, 2) * 0.1 / math.sqrt(3))
    assert stats.t_interval([]) == (0, pytest.approx(float("nan"), nan_ok=True), None)
    assert stats.format_cell(0.71234, 0.0131, 3) == "71.2 ± 1.3"
    assert stats.format_cell(float("nan"), None, 0) == "—"
    assert stats.format_cell(12.34, 1.26, 3, percent=False) == "12.3 ± 1.3"


def test_varied_settings_split_groups(tmp_path, kit):
    sweep = kit.make_sweep(
        tmp_path / "s", seeds=(0, 1), fractions=(0.5, 1.0), fmnist_view=True, broken=False
    )
    frame = collect_runs([sweep.root])
    assert stats.group_keys(frame) == [
        "strategy",
        "source_dataset",
        "source_view",
        "train_fraction",
    ]
    table = stats.summarise(frame)
    assert len(table) == 11  # 5 strategies x 2 fractions + the in-domain fmnist-view run
    labels = set(table["label"])
    assert "fmnist_baseline (in-domain, fmnist view; train_fraction=1)" in labels
    assert "fmnist_baseline (zero-shot; train_fraction=0.5)" in labels
    assert "adapter_scratch (train_fraction=0.5)" in labels
    assert stats.best_strategy(frame) == "adapter_pretrained"


def test_strategy_whose_runs_all_failed_still_has_a_row(tmp_path, kit):
    kit.write_job(tmp_path / "s" / "0", "adapter_scratch", 0)
    kit.write_job(tmp_path / "s" / "1", "deepfashion_imagenet", 0, status="failed")
    table = stats.summarise(collect_runs([tmp_path / "s"]))
    row = table[table["strategy"] == "deepfashion_imagenet"].iloc[0]
    assert (row["runs"], row["failed"], row["shared_acc_n"]) == (0, 1, 0)
