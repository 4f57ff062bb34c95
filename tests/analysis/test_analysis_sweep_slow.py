"""End to end: a real tiny sweep of all five strategies x two seeds, then the analysis on it."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from fashion_transfer.analysis import stats


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["basic", "submitit_local"])
def test_analysis_of_a_real_smoke_sweep(launcher, tiny_synth, tmp_path):
    """`strategy=glob(*)` x two seeds gives ten complete runs, under both launchers."""
    sweep = tmp_path / "sweep"
    env = {
        **os.environ,
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "WANDB_DIR": str(tmp_path),
        "OMP_NUM_THREADS": "1",  # submitit_local runs the ten jobs at once on two cores
    }
    train = subprocess.run(
        [
            sys.executable,
            "-m",
            "fashion_transfer.train",
            "-m",
            "experiment=smoke",
            "strategy=glob(*)",
            "seed=0,1",
            f"paths.synth_dir={tiny_synth}",
            f"hydra.sweep.dir={sweep}",
            *([] if launcher == "basic" else [f"hydra/launcher={launcher}"]),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        check=False,
    )
    assert train.returncode == 0, train.stderr[-4000:]
    assert (sweep / "multirun.yaml").is_file()

    analyse = subprocess.run(
        [sys.executable, "-m", "fashion_transfer.analyze", str(sweep)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert analyse.returncode == 0, analyse.stderr[-4000:]
    out = sweep / "analysis"
    assert f"report: {(out / 'report.html').resolve()}" in analyse.stdout

    results = pd.read_csv(out / "results.csv")
    assert len(results) == 10
    assert (results["status"] == "completed").all(), results[["folder", "failure_reason"]]
    assert sorted(results["strategy"].unique()) == sorted(stats.STRATEGY_ORDER)
    assert sorted(results["seed"].unique()) == [0, 1]
    assert results["git_commit"].notna().all()

    summary = pd.read_csv(out / "summary.csv")
    for strategy in stats.STRATEGY_ORDER:
        part = results[results["strategy"] == strategy]
        row = summary[(summary["label"] == strategy) & (summary["metric"] == "wall_time_s")].iloc[0]
        n, mean, half = stats.t_interval(part["wall_time_s"])
        assert (row["n"], row["mean"], row["ci95"]) == (2, pytest.approx(mean), pytest.approx(half))
    for name in ("transfer_gap", "learning_curves", "shared_confusion"):
        assert (out / f"{name}.png").is_file() and (out / f"{name}.svg").is_file()
    text = (out / "summary.md").read_text()
    if results["synthetic"].all():
        assert text.startswith("# Sweep summary (synthetic: FashionSynth)")
    assert (out / "report.html").stat().st_size > 10_000


@pytest.mark.slow
def test_comparisons_and_protocols_of_a_three_seed_smoke_sweep(tiny_synth, tmp_path):
    """Five strategies x three seeds through training and `analyze`: 10 strategy pairs per metric
    in comparisons.csv, 3 protocols per strategy in selection.csv, both tables in summary.md."""
    sweep = tmp_path / "sweep"
    env = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    train = subprocess.run(
        [
            sys.executable,
            "-m",
            "fashion_transfer.train",
            "-m",
            "experiment=smoke",
            "strategy=glob(*)",
            "seed=0,1,2",
            f"paths.synth_dir={tiny_synth}",
            f"hydra.sweep.dir={sweep}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        check=False,
    )
    assert train.returncode == 0, train.stderr[-4000:]
    analyse = subprocess.run(
        [sys.executable, "-m", "fashion_transfer.analyze", str(sweep)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert analyse.returncode == 0, analyse.stderr[-4000:]
    out = sweep / "analysis"
    comparisons = pd.read_csv(out / "comparisons.csv")
    assert list(comparisons.columns) == [
        "metric",
        "strategy_a",
        "strategy_b",
        "n_pairs",
        "mean_diff",
        "ci_low",
        "ci_high",
        "bootstrap_low",
        "bootstrap_high",
        "p_improvement",
    ]
    per_metric = comparisons.groupby("metric").size()
    assert per_metric.to_dict() == {"shared_acc": 10, "source_test_acc": 10, "target_top1": 10}
    shared = comparisons[comparisons["metric"] == "shared_acc"]
    assert (shared["n_pairs"] == 3).all()  # every strategy scores the shared space
    assert shared[["ci_low", "ci_high", "bootstrap_low", "bootstrap_high"]].notna().all().all()
    assert (comparisons[comparisons["metric"] == "target_top1"]["n_pairs"] > 0).sum() == 6
    selection = pd.read_csv(out / "selection.csv")
    assert list(selection.columns) == [
        "strategy",
        "protocol",
        "metric",
        "mean",
        "ci_low",
        "ci_high",
        "n",
    ]
    assert selection.groupby("strategy")["protocol"].apply(sorted).to_dict() == {
        s: ["last", "oracle", "target-val"] for s in stats.STRATEGY_ORDER
    }
    assert (selection["n"] == 3).all()
    oracle = selection[selection["protocol"] == "oracle"].set_index("strategy")["mean"]
    for protocol in ("target-val", "last"):
        other = selection[selection["protocol"] == protocol].set_index("strategy")["mean"]
        assert (oracle >= other - 1e-9).all()  # the upper bound is one
    results = pd.read_csv(out / "results.csv")
    assert results[["shared_ece"]].notna().all().all()
    assert results.loc[results["strategy"] != "fmnist_baseline", "target_ece"].notna().all()
    summary = (out / "summary.md").read_text()
    assert "## Paired comparisons" in summary and "## Model-selection protocols" in summary
    for name in ("paired_differences", "reliability", "accuracy_on_the_line"):
        assert (out / f"{name}.png").is_file()
