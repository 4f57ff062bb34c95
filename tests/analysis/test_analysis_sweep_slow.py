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
