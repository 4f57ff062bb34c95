"""Real processes: SIGKILL mid-epoch, a diverging job inside a sweep, a submitit pre-emption.

Every run is the real entrypoint on tiny FashionSynth with one thread (OMP_NUM_THREADS=1), so
two processes compute identical floating point.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from fashion_transfer.analysis.collect import collect_runs
from fashion_transfer.analysis.wandb_source import replay_transaction_log
from fashion_transfer.training.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow

LONG_EPOCHS = (  # 14 steps per epoch, 2 source + 3 target epochs: a few seconds per epoch here
    "experiment=smoke",
    "device=cpu",  # identical numbers are promised on the CPU (cuDNN kernels may vary)
    "strategy=adapter_scratch",
    "budget.adapter_source.epochs=2",
    "budget.target.epochs=3",
    "budget.adapter_source.batch_size=8",
    "budget.target.batch_size=4",
    "train.max_steps_per_epoch=14",
)


def _run(cmd: list[str], env: dict, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )


def _kill_mid_epoch(cmd, env, run: Path, epochs_done: int, helpers) -> None:
    """Start a run, SIGKILL it in the epoch after its `epochs_done`-th, check it died there."""
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    helpers.wait_for(lambda: helpers.history_len(run) >= epochs_done, proc, timeout=300)
    last_epoch = helpers.read_metrics(run)["history"][-1]["seconds"]
    time.sleep(0.3 * last_epoch)  # well inside the next epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert helpers.history_len(run) == epochs_done, "the kill came after the epoch had ended"


def test_sigkill_mid_epoch_in_each_stage_then_resume_equals_an_uninterrupted_run(
    tiny_synth, tmp_path, helpers
):
    env = helpers.cli_env(tmp_path)
    overrides = (*LONG_EPOCHS, f"paths.synth_dir={tiny_synth}")
    reference = tmp_path / "reference"
    done = _run(helpers.train_cmd(*overrides, f"hydra.run.dir={reference}"), env)
    assert done.returncode == 0, done.stderr

    run = tmp_path / "run"
    cmd = helpers.train_cmd(*overrides, f"hydra.run.dir={run}")
    for epochs_done, last in ((1, ("source", 1)), (3, ("target", 1))):
        _kill_mid_epoch(cmd, env, run, epochs_done, helpers)  # in source epoch 2, target epoch 2
        payload = load_checkpoint(run / "checkpoints" / "last.pt")
        assert (payload["stage"], payload["epoch"]) == last
        assert helpers.read_metrics(run)["status"] == "running"  # SIGKILL: nothing cleaned up
    done = _run(cmd, env)
    assert done.returncode == 0, done.stderr

    log = (run / "train.log").read_text()
    assert "(stage source, epoch 1)" in log and "(stage target, epoch 1)" in log
    got, want = helpers.read_metrics(run), helpers.read_metrics(reference)
    assert got["status"] == "completed"
    assert helpers.comparable(got) == helpers.comparable(want)
    assert helpers.same_samples(run, reference)


def test_a_diverging_job_fails_alone_and_the_sweep_keeps_the_others(tiny_synth, tmp_path, helpers):
    env = helpers.cli_env(tmp_path, WANDB_MODE="offline")
    sweep = tmp_path / "sweep"
    proc = _run(
        helpers.train_cmd(
            "-m",
            "experiment=smoke",
            "strategy=fmnist_baseline",
            "logger=wandb",
            "budget.source.lr=3e-3,1e30,1e-3",  # the middle job's loss becomes NaN
            f"paths.synth_dir={tiny_synth}",
            f"hydra.sweep.dir={sweep}",
        ),
        env,
    )
    # The sweep ends with the failed job's own exit code and one line for it, no traceback.
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    jobs = {
        OmegaConf.load(p / ".hydra" / "config.yaml").budget.source.lr: p
        for p in sweep.iterdir()
        if (p / ".hydra").is_dir()
    }
    jobs = [jobs[lr] for lr in (3e-3, 1e30, 1e-3)]
    records = [json.loads((job / "metrics.json").read_text()) for job in jobs]
    assert [m["status"] for m in records] == ["completed", "failed", "completed"]
    assert [m["exit_code"] for m in records] == [0, 3, 0]
    reason = records[1]["failure_reason"]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors[0] == f"error: job {jobs[1].resolve()} failed: {reason}"
    assert len(errors) == 2 and "1 job(s) of the sweep" in errors[1]
    assert reason.startswith("non-finite loss (") and "\n" not in reason
    assert all(m["test_acc"] is not None for m in (records[0], records[2]))
    (wandb_log,) = (jobs[1] / "wandb").glob("offline-run-*/run-*.wandb")
    summary = replay_transaction_log(wandb_log)["summary"]
    assert summary["status"] == "failed" and summary["failure_reason"] == reason

    table = collect_runs([sweep])  # the analysis lists the failed run, never drops it
    assert sorted(table["status"]) == ["completed", "completed", "failed"]
    assert table.loc[table["status"] == "failed", "failure_reason"].item() == reason

    single = _run(
        helpers.train_cmd(
            "experiment=smoke",
            "budget.source.lr=1e30",
            f"paths.synth_dir={tiny_synth}",
            f"hydra.run.dir={tmp_path / 'single'}",
        ),
        helpers.cli_env(tmp_path),
    )
    assert single.returncode == 3
    assert single.stderr.strip().splitlines() == [f"error: {reason}"]


def _task_pid(master: int) -> int | None:
    """The submitit task process (`python -m submitit.core._submit`) started under `master`."""
    parents, commands = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            commands[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    for pid, command in commands.items():
        if b"submitit.core._submit" in command:
            ancestor = pid
            while ancestor in parents and ancestor > 1:
                ancestor = parents[ancestor]
                if ancestor == master:
                    return pid
    return None


def test_submitit_preemption_requeues_the_job_into_its_folder_and_resumes(
    tiny_synth, tmp_path, helpers
):
    """USR2 is what Slurm sends before a time-out (and at pre-emption where configured); submitit
    calls the launcher's checkpoint(), which resubmits the same job. The sweep folder is the
    default `multirun/${now:...}`: the requeued job, started seconds later, must land in the same
    job folder and continue from checkpoints/last.pt, not start again."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")  # the `launchers` extra
    env = helpers.cli_env(tmp_path)
    master = subprocess.Popen(
        helpers.train_cmd(
            "-m",
            "hydra/launcher=submitit_local",
            *LONG_EPOCHS,
            f"paths.synth_dir={tiny_synth}",
        ),
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def job_dirs() -> list[Path]:
        return sorted((tmp_path / "multirun").glob("*/*_s0*"))

    helpers.wait_for(lambda: any(helpers.history_len(j) >= 1 for j in job_dirs()), master, 300)
    (job,) = job_dirs()
    before = helpers.read_metrics(job)["history"]
    time.sleep(1.5)  # into epoch 2, and past the second the sweep folder was named after
    task = _task_pid(master.pid)
    assert task is not None, "submitit task process not found"
    os.kill(task, signal.SIGUSR2)
    out, _ = master.communicate(timeout=600)
    assert master.returncode == 0, out

    assert job_dirs() == [job]  # one sweep folder, one job folder
    log = (job / "train.log").read_text()
    assert "this job is preempted" in log and "Requeued job" in log
    # From the last epoch that ended before the signal: epoch 1 or, on a fast idle machine, a
    # later one (the signal lands 1.5 s after epoch 1 was recorded; an epoch takes ~1-3 s).
    resumed = re.search(r"resuming from .*\(stage (\w+), epoch (\d+)\)", log)
    assert resumed is not None, log[-2000:]
    assert (resumed[1], int(resumed[2])) in {("source", 1), ("source", 2), ("target", 1)}
    after = helpers.read_metrics(job)
    assert after["status"] == "completed"
    assert [(h["stage"], h["epoch"]) for h in after["history"]] == [
        ("source", 1),
        ("source", 2),
        ("target", 1),
        ("target", 2),
        ("target", 3),
    ]
    # Continued, not restarted: the epoch trained before the signal is kept as it was recorded,
    # timing included (a restart would have trained and timed it again).
    assert after["history"][: len(before)] == before


def test_ctrl_c_says_in_one_line_how_to_resume_and_that_command_resumes(
    tiny_synth, tmp_path, helpers
):
    env = helpers.cli_env(tmp_path)
    run = tmp_path / "run"
    cmd = helpers.train_cmd(*LONG_EPOCHS, f"paths.synth_dir={tiny_synth}", f"hydra.run.dir={run}")
    # A terminal's foreground job takes Ctrl-C; a job started in the background (how CI runners
    # and `cmd &` start this suite) inherits SIGINT ignored, and Python keeps it ignored. The run
    # is started as the terminal would start it.
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    helpers.wait_for(lambda: helpers.history_len(run) >= 1, proc, timeout=300)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert f"run folder: {run}" in out  # said at the start
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err[-2000:]
    assert lines[0].startswith(f"interrupted: {run} keeps its last checkpoint; resume with: ")
    assert helpers.read_metrics(run)["exit_code"] == 130

    command = shlex.split(lines[0].split("resume with: ", 1)[1])
    assert command[:3] == ["python", "-m", "fashion_transfer.train"]
    done = _run([sys.executable, *command[1:]], env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resuming from" in done.stdout
    assert re.search(r"test_acc \d+\.\d\d%", done.stdout)  # the headline figures, on the console
    assert helpers.read_metrics(run)["status"] == "completed"


def test_a_sweep_rerun_in_another_order_finds_its_own_jobs(tiny_synth, tmp_path, helpers):
    env = helpers.cli_env(tmp_path)
    sweep = tmp_path / "sweep"
    common = ("experiment=smoke", f"paths.synth_dir={tiny_synth}", f"hydra.sweep.dir={sweep}")
    first = _run(
        helpers.train_cmd("-m", *common, "strategy=fmnist_baseline,deepfashion_scratch"), env
    )
    assert first.returncode == 0, first.stderr[-2000:]
    jobs = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    records = {j: helpers.read_metrics(sweep / j) for j in jobs}
    again = _run(
        helpers.train_cmd("-m", *common, "strategy=deepfashion_scratch,fmnist_baseline"), env
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == jobs  # no new folders
    assert again.stdout.count("already holds a completed run; reporting its result") == 2
    assert {j: helpers.read_metrics(sweep / j) for j in jobs} == records  # nothing retrained
