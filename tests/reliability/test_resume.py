"""Resume inside the right stage after a crash anywhere, and what a run folder's history allows.

A crash is simulated in-process by raising `Killed` (a BaseException, as SIGKILL leaves no chance to
clean up, only the `finally` that records the run as failed); test_processes_slow.py kills real
processes with SIGKILL. Runs are tiny adapter_scratch jobs on FashionSynth: 2 source epochs and 3
target epochs of 4 steps each.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
import torch

from fashion_transfer.errors import ConfigError
from fashion_transfer.tracking.wandb_run import NullTracker, StepLog
from fashion_transfer.train import train
from fashion_transfer.training import cross_domain, stages
from fashion_transfer.training import run as run_module
from fashion_transfer.training.checkpoint import load_checkpoint

TWO_STAGES = (
    "experiment=smoke",
    "device=cpu",  # identical numbers are promised on the CPU (cuDNN kernels may vary)
    "strategy=adapter_scratch",
    "budget.adapter_source.epochs=2",
    "budget.target.epochs=3",
    "budget.adapter_source.batch_size=8",
    "budget.target.batch_size=8",
    "train.max_steps_per_epoch=4",  # global steps: source 1-8, target 9-20
    "train.log_every=1",  # the tracker sees every step: where `Killed` is raised
)
ONE_STAGE = (
    "experiment=smoke",
    "device=cpu",
    "strategy=fmnist_baseline",
    "budget.source.epochs=2",  # global steps 1-5, 6-10
    "train.log_every=1",
)


class Killed(BaseException):
    """A crash at a chosen point of a run."""


@pytest.fixture
def faults(monkeypatch):
    """A queue of crash points; each run crashes at the first one it reaches, then drops it.

    ("step", n): after optimizer step n (mid-epoch); ("save", (stage, epoch)): writing last.pt at
    that epoch's end, after best.pt; ("eval", None): in the evaluation after the last stage.
    """
    pending: list[tuple[str, object]] = []

    def fire(kind: str, where: object) -> None:
        if pending and pending[0] == (kind, where):
            pending.pop(0)
            raise Killed(f"{kind} {where}")

    real_save, real_eval = stages.save_checkpoint, cross_domain.cross_domain_evaluation

    def save(path: Path, payload: dict) -> None:
        if path.name == "last.pt":
            fire("save", (payload["stage"], payload["epoch"]))
        real_save(path, payload)

    def evaluation(*args, **kwargs) -> cross_domain.CrossDomain:
        fire("eval", None)
        return real_eval(*args, **kwargs)

    def log(self, metrics: dict, step: int) -> None:
        if any(k.endswith("train_loss_step") for k in metrics):
            fire("step", step)

    monkeypatch.setattr(NullTracker, "log", log)
    monkeypatch.setattr(stages, "save_checkpoint", save)
    # run.py holds its own reference to the evaluation: patched where it is looked up
    monkeypatch.setattr(run_module, "cross_domain_evaluation", evaluation)
    return pending


def _resumed_from(caplog) -> list[tuple[str, int]]:
    return [
        (r.args[1], r.args[2])
        for r in caplog.records
        if r.name == "fashion_transfer.training.resume" and r.msg.startswith("resuming from")
    ]


KILLS = {
    ("step", 6): ("source", 1),  # source epoch 2, mid-epoch
    ("step", 10): ("source", 2),  # target epoch 1: the new head, best.pt still the source's
    ("save", ("target", 1)): ("source", 2),  # best.pt already the target's, last.pt not yet
    ("step", 15): ("target", 1),  # target epoch 2
    ("step", 19): ("target", 2),  # target epoch 3
    ("eval", None): ("target", 3),  # every epoch done, the evaluation not
}  # where a run is killed -> where the next attempt resumes (stage, epochs done)


THREE_KILLS = [("step", 6), ("save", ("target", 1)), ("step", 15)]
WITH_EMA = ("budget.adapter_source.ema_decay=0.9", "budget.target.ema_decay=0.9")


@pytest.mark.parametrize(
    "kills, extra",
    [
        pytest.param(THREE_KILLS, (), id="three-kills"),
        # the weight average is state too: it must come back exactly, in both stages
        pytest.param(THREE_KILLS, WITH_EMA, id="three-kills-ema"),
        pytest.param(list(KILLS), (), id="six-kills", marks=pytest.mark.slow),
    ],
)
def test_killed_anywhere_resumes_inside_the_right_stage_to_identical_results(
    kills, extra, make_cfg, tiny_synth, tmp_path, faults, caplog, helpers
):
    caplog.set_level(logging.INFO, logger="fashion_transfer.training.resume")
    overrides = (*TWO_STAGES, *extra, f"paths.synth_dir={tiny_synth}")
    reference = tmp_path / "reference"
    train(make_cfg(*overrides, run_dir=reference))

    run = tmp_path / "run"
    faults.extend(kills)
    spent = 0.0
    for _ in kills:
        with pytest.raises(Killed):
            train(make_cfg(*overrides, run_dir=run))
        assert helpers.read_metrics(run)["status"] == "failed"
        last = run / "checkpoints" / "last.pt"
        if last.exists():  # what a resume carries on from
            spent = json.loads(load_checkpoint(last)["record"])["wall_time_s"]
    train(make_cfg(*overrides, run_dir=run))

    assert _resumed_from(caplog) == [KILLS[k] for k in kills]
    got, want = helpers.read_metrics(run), helpers.read_metrics(reference)
    assert got["status"] == "completed" and got["failure_reason"] is None
    assert helpers.comparable(got) == helpers.comparable(want)
    assert [(h["stage"], h["epoch"]) for h in got["history"]] == [
        ("source", 1),
        ("source", 2),
        ("target", 1),
        ("target", 2),
        ("target", 3),
    ]
    assert helpers.same_samples(run, reference)
    for name in ("best.pt", "stage_source_best.pt", "stage_target_best.pt", "last.pt"):
        a = load_checkpoint(run / "checkpoints" / name)
        b = load_checkpoint(reference / "checkpoints" / name)
        assert ("train_model" in b) == bool(extra), name  # the average is kept when enabled
        for part in ("model", "train_model"):
            if part in b:
                assert all(torch.equal(a[part][k], b[part][k]) for k in b[part]), (name, part)
    # Earlier attempts' time is kept: the run's own record only grows (no cross-run timing).
    total = got["wall_time_s"]
    assert total > spent > 0


def _completed(make_cfg, tiny_synth, run: Path, *extra: str) -> dict:
    train(make_cfg(*ONE_STAGE, f"paths.synth_dir={tiny_synth}", *extra, run_dir=run))
    return json.loads((run / "metrics.json").read_text())


def _snapshot(run: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(run)): p.read_bytes()
        for p in sorted(run.rglob("*"))
        if p.is_file() and p.name != "train.log"
    }


def test_a_completed_run_is_reported_never_trained_again(
    make_cfg, tiny_synth, tmp_path, monkeypatch
):
    run = tmp_path / "run"
    first = _completed(make_cfg, tiny_synth, run)
    before = _snapshot(run)

    def no_training(*args, **kwargs):
        raise AssertionError("a completed run was trained again")

    monkeypatch.setattr("fashion_transfer.training.run.run_stage", no_training)
    result = train(make_cfg(*ONE_STAGE, f"paths.synth_dir={tiny_synth}", run_dir=run))
    assert result["test_acc"] == first["test_acc"] and result["val_acc"] == first["val_acc"]
    assert _snapshot(run) == before


def test_resume_false_into_a_completed_run_is_refused_and_keeps_it(make_cfg, tiny_synth, tmp_path):
    run = tmp_path / "run"
    hydra_dir = run / ".hydra"  # what Hydra writes before the job runs
    hydra_dir.mkdir(parents=True)
    (hydra_dir / "config.yaml").write_text("seed: 0\n")
    _completed(make_cfg, tiny_synth, run)
    before = _snapshot(run)
    (hydra_dir / "config.yaml").write_text("seed: 1\n")  # a later launch into the same folder

    cfg = make_cfg(*ONE_STAGE, f"paths.synth_dir={tiny_synth}", "resume=false", run_dir=run)
    with pytest.raises(ConfigError) as err:
        train(cfg)
    message = str(err.value)
    assert "\n" not in message and str(run) in message
    assert "resume=true" in message and "overwrite=true" in message
    assert _snapshot(run) == before  # .hydra/ put back, metrics and checkpoints untouched


def test_overwrite_true_deletes_the_earlier_results_and_trains_again(
    make_cfg, tiny_synth, tmp_path
):
    run = tmp_path / "run"
    _completed(make_cfg, tiny_synth, run)
    (run / "checkpoints" / "stray.pt").write_bytes(b"from the earlier run")
    (run / "wandb_id.txt").write_text("earlier")
    again = _completed(make_cfg, tiny_synth, run, "overwrite=true", "seed=1")
    assert again["status"] == "completed" and again["seed"] == 1
    assert not (run / "checkpoints" / "stray.pt").exists()
    assert not (run / "wandb_id.txt").exists()  # logger=none here; a W&B run would get a new id


def test_resuming_with_another_config_is_refused(make_cfg, tiny_synth, tmp_path, faults):
    run = tmp_path / "run"
    faults.append(("step", 6))
    with pytest.raises(Killed):
        _completed(make_cfg, tiny_synth, run)
    with pytest.raises(ConfigError, match=r"seed: 0 -> 1.*overwrite=true") as err:
        _completed(make_cfg, tiny_synth, run, "seed=1")
    assert str(run) in str(err.value) and "\n" not in str(err.value)
    # The same config resumes; a completed run is not reported for another config either.
    assert _completed(make_cfg, tiny_synth, run)["status"] == "completed"
    with pytest.raises(ConfigError, match=r"budget.source.lr: 0.003 -> 0.01"):
        _completed(make_cfg, tiny_synth, run, "budget.source.lr=0.01")


def test_resume_false_starts_an_unfinished_run_again(make_cfg, tiny_synth, tmp_path, faults):
    reference = tmp_path / "reference"
    _completed(make_cfg, tiny_synth, reference)
    run = tmp_path / "run"
    faults.append(("step", 6))
    with pytest.raises(Killed):
        _completed(make_cfg, tiny_synth, run)
    again = _completed(make_cfg, tiny_synth, run, "resume=false")
    assert again["status"] == "completed"
    assert [h["train_loss"] for h in again["history"]] == [
        h["train_loss"] for h in json.loads((reference / "metrics.json").read_text())["history"]
    ]


class _RunsCode:
    """A pickle that would create a file when loaded without weights_only."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_checkpoint_is_never_unpickled_as_code(make_cfg, tiny_synth, tmp_path, faults):
    run = tmp_path / "run"
    faults.append(("step", 6))
    with pytest.raises(Killed):
        _completed(make_cfg, tiny_synth, run)
    last = run / "checkpoints" / "last.pt"
    marker = tmp_path / "code-ran"
    payload = load_checkpoint(last)
    payload["extra"] = _RunsCode(marker)
    torch.save(payload, last)
    with pytest.raises(ConfigError, match=re.escape(str(last)) + r".*overwrite=true"):
        _completed(make_cfg, tiny_synth, run)
    assert not marker.exists()


class FakeWandbRun:
    """What the tracker hands to wandb: each logged (global_step, keys); crashes before one step."""

    def __init__(self, calls: list, kill_before: list[int]) -> None:
        self.calls, self.kill_before, self.summary = calls, kill_before, {}

    def define_metric(self, *args, **kwargs) -> None:
        pass

    def log(self, data: dict) -> None:
        step = data.get("global_step")
        if self.kill_before and step == self.kill_before[0] and "source/train_loss_step" in data:
            self.kill_before.pop(0)
            raise Killed(f"before logging step {step}")
        if step is not None:  # the end-of-run tables and plots carry no step
            self.calls.append((step, frozenset(data) - {"global_step"}))

    def finish(self, exit_code: int = 0) -> None:
        pass


def test_a_resumed_wandb_run_logs_each_step_once(make_cfg, tiny_synth, tmp_path, monkeypatch):
    """Killed in epoch 2 (before step 8 is logged), it resumes after epoch 1 and replays steps 6-7:
    over both attempts W&B gets every (step, key) of an uninterrupted run exactly once."""
    import wandb

    monkeypatch.setenv("WANDB_MODE", "offline")
    logged: dict[str, list] = {"reference": [], "killed": []}
    kill_before: list[int] = []
    current = {"calls": logged["reference"]}
    monkeypatch.setattr(wandb, "init", lambda **_: FakeWandbRun(current["calls"], kill_before))

    _completed(make_cfg, tiny_synth, tmp_path / "reference", "logger=wandb")
    current["calls"] = logged["killed"]
    kill_before.append(8)
    with pytest.raises(Killed):
        _completed(make_cfg, tiny_synth, tmp_path / "run", "logger=wandb")
    steps_before_kill = [s for s, _ in logged["killed"]]
    assert (
        max(steps_before_kill) == 7
        and json.loads((tmp_path / "run" / "wandb_step.json").read_text())["step"] == 7
    )
    _completed(make_cfg, tiny_synth, tmp_path / "run", "logger=wandb")

    def pairs(calls):
        return sorted((step, key) for step, keys in calls for key in keys)

    assert pairs(logged["killed"]) == pairs(logged["reference"])  # with multiplicity
    assert {s for s, _ in logged["reference"]} >= set(range(1, 11))


def test_step_log_skips_what_was_logged_and_keeps_new_keys_at_the_last_step(tmp_path):
    path = tmp_path / "wandb_step.json"
    first = StepLog(path)
    for step in (5, 10):
        first.mark(step, {"loss": 1.0})
    again = StepLog(path)
    assert again.unseen(5, {"loss": 1.0}) == {}
    assert again.unseen(10, {"loss": 1.0, "val_acc": 0.5}) == {"val_acc": 0.5}  # new at step 10
    assert again.unseen(15, {"loss": 1.0}) == {"loss": 1.0}
    assert again.unseen(5, {"loss": 1.0}) == {"loss": 1.0}  # past the replay, nothing is dropped
    path.write_text("{not json")
    assert StepLog(path).unseen(5, {"loss": 1.0}) == {"loss": 1.0}  # unreadable: log everything
