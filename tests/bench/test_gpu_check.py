"""The GPU check: its write-up from hand-made results (fast), and the whole script as `--dry-run`
on the CPU at tiny sizes (slow), so it is known to work before a GPU is lent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fashion_transfer.bench import gpu_estimate
from fashion_transfer.bench.gpu_check import CUDA_TESTS, REPO, cuda_test_counts


def _job(root: Path, strategy: str, stages: dict, status: str = "completed") -> Path:
    """A job folder whose stages train `rates` images/second: (train_s, stage_s) per stage."""
    job = root / strategy
    (job / ".hydra").mkdir(parents=True)
    slots = {"source": "source", "target": "target"}
    config = {"strategy": {"stages": {n: {"data": slots[n]} for n in stages}}, "train": {}}
    (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    history, summaries = [], {}
    for name, (epochs, train_s, stage_s) in stages.items():
        history += [
            {"stage": name, "epoch": e + 1, "seconds": train_s / epochs} for e in range(epochs)
        ]
        summaries[name] = {"batch_size": 100, "seconds": stage_s}
    record = {
        "strategy": strategy,
        "status": status,
        "device": "cuda:0",
        "wall_time_s": 60.0,
        "peak_gpu_memory_mb": 2048.0,
        "history": history,
        "stages": summaries,
        "data": {s: {"splits": {"train": 1000, "val": 200}} for s in ("source", "target")},
    }
    (job / "metrics.json").write_text(json.dumps(record))
    return job


def test_stage_rates_count_the_steps_an_epoch_trains_and_the_validation_after_it(tmp_path):
    # 2 epochs x 10 steps x 100 images in 4 s of training; 2 x 200 val images in 1 s more.
    job = _job(tmp_path, "deepfashion_scratch", {"target": (2, 4.0, 5.0)})
    rates = gpu_estimate.stage_rates(job)
    assert rates["stages"]["target"] == {
        "epochs": 2,
        "steps_per_epoch": 10,
        "batch_size": 100,
        "train_images_per_s": pytest.approx(500.0),
        "val_images_per_s": pytest.approx(400.0),
    }
    assert rates["peak_gpu_memory_mb"] == 2048.0


def test_the_paper_estimate_shows_its_arithmetic(tmp_path):
    for strategy, stages in gpu_estimate.PAPER_STAGES.items():
        _job(tmp_path, strategy, {name: (2, 4.0, 5.0) for name, _, _ in stages})
    jobs = [gpu_estimate.stage_rates(p) for p in sorted(tmp_path.iterdir())]
    est = gpu_estimate.paper_estimate(jobs)
    # target: 15 epochs x (209,222 / 500 + 40,000 / 400) s; source: 15 x (55,000 / 500 + 5,000 / 400)
    target = 15 * (209_222 / 500 + 40_000 / 400)
    assert est["per_strategy_s"]["deepfashion_scratch"] == pytest.approx(target)
    assert est["per_strategy_s"]["adapter_scratch"] == pytest.approx(
        5 * (55_000 / 500 + 5_000 / 400) + target
    )
    one_seed = sum(est["per_strategy_s"].values())
    assert est["total_s"] == pytest.approx(3 * one_seed)
    assert "target 15 x (209,222 / 500 + 40,000 / 400 img/s) = 7,777 s" in est["lines"][1]
    assert est["lines"][-1].startswith(f"5 strategies x 3 seeds: 3 x {one_seed:,.0f} s = ")


def test_an_incomplete_strategy_is_named_and_no_total_is_made_up(tmp_path):
    _job(tmp_path, "deepfashion_scratch", {"target": (2, 4.0, 5.0)}, status="failed")
    est = gpu_estimate.paper_estimate([gpu_estimate.stage_rates(tmp_path / "deepfashion_scratch")])
    assert est["total_s"] is None
    assert "deepfashion_scratch: not measured (its sweep job did not complete)" in est["lines"]


def test_the_paper_figures_are_what_experiment_paper_runs(make_cfg):
    cfg = make_cfg("experiment=paper")
    for budget, epochs in gpu_estimate.PAPER_EPOCHS.items():
        assert cfg.budget[budget].epochs == epochs
    assert 60_000 - cfg.source.val_size == gpu_estimate.FMNIST["train"]
    assert cfg.source.val_size == gpu_estimate.FMNIST["val"]
    assert cfg.backbone.name == "resnet50" and cfg.backbone.resolution == 224


def test_the_cuda_tests_it_runs_exist_and_their_counts_are_read(tmp_path):
    assert all((REPO / t.split("::")[0]).exists() for t in CUDA_TESTS)
    junit = tmp_path / "j.xml"
    junit.write_text(
        '<testsuites><testsuite tests="5" failures="1" errors="0" skipped="2"/></testsuites>'
    )
    assert cuda_test_counts(junit) == {"passed": 2, "failed": 1, "skipped": 2}


def test_refuses_to_write_into_a_folder_that_holds_something(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fashion_transfer.bench.gpu_check",
            "--dry-run",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and (tmp_path / "keep.txt").read_text() == "mine"
    assert proc.stderr == f"error: {tmp_path} is not empty; give the check a new --out folder\n"


@pytest.mark.slow
def test_dry_run_goes_end_to_end_on_the_cpu(tmp_path):
    out = tmp_path / "check"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fashion_transfer.bench.gpu_check",
            "--dry-run",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    result = json.loads((out / "gpu_check.json").read_text())
    assert [(s["name"], s["status"]) for s in result["steps"]] == [
        ("synth", "ok"), ("tests", "ok"), ("bench_test_resnet", "ok"), ("sweep", "ok"),
        ("analysis", "ok"),
    ]  # fmt: skip
    assert {j["strategy"] for j in result["sweep"]["jobs"]} == set(gpu_estimate.PAPER_STAGES)
    assert all(j["status"] == "completed" for j in result["sweep"]["jobs"])
    assert result["paper_estimate"]["total_s"] > 0
    for name in ("bench.json", "bench.md", "gpu_check.md", "report/report.html"):
        assert (out / name).is_file(), name
    assert proc.stdout == (out / "gpu_check.md").read_text() + "\n"
