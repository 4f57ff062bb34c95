"""A real sweep with a job completed, one failed on NaN, one killed mid-stage (SIGKILL) and one
never started: `status` reports each exactly, its resume command completes the sweep, and the
analysis of that sweep equals the analysis of the same sweep run without faults.

The faults come from tests/operations/inject_faults.py, which runs the real entrypoint and, at a
chosen epoch of a chosen job, poisons the weights with NaN or SIGKILLs its own process. With the
basic launcher the jobs run one after the other in that process, so the kill also leaves the last
job never started. One thread everywhere: the resumed jobs compute the same floating point.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from fashion_transfer.jobs import job_dirname

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
SWEEP = (
    "-m",
    "experiment=smoke",
    "device=cpu",
    "strategy=fmnist_baseline,adapter_scratch",
    "seed=0,1",
    "budget.source.epochs=2",  # the baseline's stage has a second epoch to fail in
)
FAULTS = "nan fmnist_baseline 1 source 2;kill adapter_scratch 0 target 2"
# Columns of results.csv that name where and when a run ran, not what it measured.
WHERE_AND_WHEN = [
    "folder",
    "group",
    "git_commit",
    "wall_time_s",
    "samples",
    "predictions",
    "run_status",
]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_SILENT": "true"}
    env.update(WANDB_MODE="offline", WANDB_DIR=str(tmp_path), **extra)
    env.pop("FT_FAULTS", None)
    return env


def _run(cmd, env, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, **kw)


def _status(env, *args: str) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-m", "fashion_transfer.status", *args], env)


def _job(strategy: str, seed: int, synth: Path) -> list[str]:
    """A job's task overrides as Hydra's sweeper writes them."""
    return [
        "experiment=smoke",
        "device=cpu",
        f"strategy={strategy}",
        f"seed={seed}",
        "budget.source.epochs=2",
        "logger=wandb",
        f"paths.synth_dir={synth}",
    ]


def _analysis(sweep: Path, out: Path, env) -> tuple[pd.DataFrame, pd.DataFrame]:
    done = _run(
        [sys.executable, "-m", "fashion_transfer.analyze", str(sweep), "--out", str(out)], env
    )
    assert done.returncode == 0, done.stderr
    results = pd.read_csv(out / "results.csv").drop(columns=WHERE_AND_WHEN)
    results = results.sort_values(["strategy", "seed"]).reset_index(drop=True)
    summary = pd.read_csv(out / "summary.csv")
    summary = summary[~summary.apply(lambda r: "wall" in " ".join(map(str, r.values)), axis=1)]
    return results, summary.reset_index(drop=True)


def test_status_reports_each_state_and_its_resume_command_completes_the_sweep(tiny_synth, tmp_path):
    env = _env(tmp_path)
    data = f"paths.synth_dir={tiny_synth}"
    reference = tmp_path / "reference"
    done = _run(
        [
            sys.executable,
            "-m",
            "fashion_transfer.train",
            *SWEEP,
            "logger=wandb",
            data,
            f"hydra.sweep.dir={reference}",
        ],
        env,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    sweep = tmp_path / "sweep"
    faulted = _run(
        [
            sys.executable,
            str(HERE / "inject_faults.py"),
            *SWEEP,
            "logger=wandb",
            data,
            f"hydra.sweep.dir={sweep}",
        ],
        {**env, "FT_FAULTS": FAULTS},
        cwd=tmp_path,
    )
    assert faulted.returncode == -signal.SIGKILL, faulted.stderr[-3000:]

    shown = _status(env, str(sweep), "--json")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    jobs = {(j["strategy"], j["seed"]): j for j in report["sweeps"][0]["jobs"]}
    folder = {key: str(sweep / job_dirname(_job(*key, tiny_synth))) for key in jobs}
    assert {k: (j["state"], j["folder"]) for k, j in jobs.items()} == {
        ("fmnist_baseline", 0): ("completed", folder[("fmnist_baseline", 0)]),
        ("fmnist_baseline", 1): ("failed", folder[("fmnist_baseline", 1)]),
        ("adapter_scratch", 0): ("interrupted", folder[("adapter_scratch", 0)]),
        ("adapter_scratch", 1): ("never started", None),
    }
    failed = jobs[("fmnist_baseline", 1)]["detail"]
    assert failed.startswith("non-finite loss (nan) in stage source")
    assert failed.endswith("(resumable from epoch 1 of stage source)")
    assert jobs[("adapter_scratch", 0)]["detail"] == "resumable from epoch 1 of stage target"
    assert jobs[("fmnist_baseline", 0)]["headline"]["key"] == "shared_acc"
    assert report["counts"] == {
        "completed": 1,
        "running": 0,
        "interrupted": 1,
        "failed": 1,
        "never started": 1,
    }
    assert len(report["wandb_unsynced"]) == 3  # the three jobs that started, all offline
    text = _status(env, str(sweep)).stdout
    assert "4 jobs: 1 completed, 0 running, 1 interrupted, 1 failed, 1 never started" in text
    assert f"wandb sync {' '.join(report['wandb_unsynced'])}" in text

    commands = _status(env, str(sweep), "--resume-command").stdout.splitlines()
    assert commands and all(" -m fashion_transfer.train -m " in c for c in commands)
    assert not any("fmnist_baseline seed=0 " in c for c in commands)  # the completed job
    for command in commands:
        resumed = _run(["bash", "-c", command], env)
        assert resumed.returncode == 0, resumed.stderr[-3000:]

    after = json.loads(_status(env, str(sweep), "--json").stdout)
    assert [j["state"] for j in after["sweeps"][0]["jobs"]] == ["completed"] * 4
    expected = {job_dirname(_job(*key, tiny_synth)) for key in jobs}
    assert {Path(j["folder"]).name for j in after["sweeps"][0]["jobs"]} == expected
    assert {p.name for p in sweep.iterdir() if (p / ".hydra").is_dir()} == expected  # no strays
    nothing = _status(env, str(sweep), "--resume-command")
    assert (nothing.stdout, nothing.stderr) == (
        "",
        "nothing to resume: every job is completed or running\n",
    )

    got = _analysis(sweep, tmp_path / "analysis_resumed", env)
    want = _analysis(reference, tmp_path / "analysis_reference", env)
    pd.testing.assert_frame_equal(got[0], want[0])
    pd.testing.assert_frame_equal(got[1], want[1])
