"""Selection over tuning trials: by mean validation accuracy, never by test; edge picks flagged."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from fashion_transfer.analysis import collect, tuning

SPACE = {"lr": {"low": 1e-4, "high": 1e-2, "log": True, "integer": False, "strategies": None}}
# (strategy, trial) -> (lr, val_acc per seed, test_acc per seed)
PLAN = {
    ("deepfashion_scratch", 0): (1e-3, (0.50, 0.52), (0.50, 0.51)),
    # best test of all, but not the best validation: must not be selected
    ("deepfashion_scratch", 1): (2e-3, (0.55, 0.56), (0.99, 0.98)),
    # best mean validation, lr on the edge of the space: selected and flagged
    ("deepfashion_scratch", 2): (1.05e-4, (0.60, 0.61), (0.58, 0.60)),
    ("deepfashion_imagenet", 0): (1e-3, (0.70, 0.72), (0.69, 0.70)),
    ("deepfashion_imagenet", 1): (5e-3, (0.65, 0.66), (0.64, 0.66)),
    ("deepfashion_imagenet", 2): (3e-4, (0.68, 0.69), (0.67, 0.69)),
}


def make_tuned_sweep(root: Path, kit) -> Path:
    """A tuning study: 2 strategies x 3 trials x 2 seeds, plus one ordinary (untuned) run."""
    num = 0
    for (strategy, trial), (lr, vals, tests) in PLAN.items():
        for seed in (0, 1):
            job = root / str(num)
            num += 1
            kit.write_job(job, strategy, seed)
            path = job / "metrics.json"
            m = json.loads(path.read_text())
            m["val_acc"], m["test_acc"] = vals[seed], tests[seed]
            m["target_top1"] = tests[seed]
            m["tune"] = {"seed": 0, "trial": trial, "hparams": {"lr": lr}, "space": SPACE}
            path.write_text(json.dumps(m))
            config = yaml.safe_load((job / ".hydra" / "config.yaml").read_text())
            config["tune"] = {"seed": 0, "trial": trial}  # as Hydra keeps it: trials differ
            (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    kit.write_job(root / str(num), "fmnist_baseline", 0)
    return root


@pytest.fixture
def tuned_frame(tmp_path, kit) -> pd.DataFrame:
    return collect.collect_runs([make_tuned_sweep(tmp_path / "sweep", kit)])


def test_selection_uses_validation_never_test(tuned_frame) -> None:
    chosen = tuning.select(tuned_frame).set_index("unit")
    assert list(chosen.index) == ["deepfashion_scratch", "deepfashion_imagenet"]
    scratch, imagenet = chosen.loc["deepfashion_scratch"], chosen.loc["deepfashion_imagenet"]
    assert scratch["trial"] == 2  # not trial 1, whose test accuracy is the best
    assert scratch["test_acc_mean"] == pytest.approx(0.59)
    assert scratch["test_acc_ci_low"] < 0.59 < scratch["test_acc_ci_high"]
    assert (scratch["trials"], scratch["seeds"]) == (3, 2)
    assert imagenet["trial"] == 0 and imagenet["hparams"] == {"lr": 1e-3}


def test_an_edge_pick_is_flagged(tuned_frame) -> None:
    chosen = tuning.select(tuned_frame).set_index("unit")
    assert chosen.loc["deepfashion_scratch", "edge"] == ["lr"]
    assert chosen.loc["deepfashion_imagenet", "edge"] == []


def test_later_outputs_see_only_the_selected_trials(tuned_frame) -> None:
    kept = tuning.selected_runs(tuned_frame, tuning.select(tuned_frame))
    done = kept[kept["status"] == "completed"]
    trials = done.dropna(subset=["tune_trial"]).groupby("strategy")["tune_trial"].unique()
    assert {k: list(v) for k, v in trials.items()} == {
        "deepfashion_imagenet": [0],
        "deepfashion_scratch": [2],
    }
    assert (done["strategy"] == "fmnist_baseline").sum() == 1  # untuned runs pass through


def test_the_report_shows_the_tuning(tmp_path, kit, monkeypatch) -> None:
    from fashion_transfer.analyze import main

    root = make_tuned_sweep(tmp_path / "sweep", kit)
    monkeypatch.setattr(sys, "argv", ["analyze"])
    assert main([str(root)]) == 0
    out = root / "analysis"
    table = pd.read_csv(out / "tuning.csv")
    assert list(table["trial"]) == [2, 0] and list(table["edge"].fillna("")) == ["lr", ""]
    summary = (out / "summary.md").read_text()
    assert "## Tuning: selected trials" in summary and "lr=0.000105" in summary
    assert (out / "tuning_trials.png").is_file()
    assert 'id="tuning-table"' in (out / "report.html").read_text()
    assert len(pd.read_csv(out / "results.csv")) == 13  # every run stays in results.csv
    compared = pd.read_csv(out / "comparisons.csv")
    assert set(compared["n_pairs"].dropna()) <= {0, 1, 2}  # pairs over the selected trials' seeds
