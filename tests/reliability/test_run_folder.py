"""A run folder is the suite's only when its marker says so, one live process holds it at a time,
and sweep job folders are named by the job's settings (a rerun in another order finds them)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fashion_transfer.errors import ConfigError
from fashion_transfer.jobs import job_dirname
from fashion_transfer.train import train
from fashion_transfer.training.run_lock import MARKER, hold, holder_pid, lock_is_held

SMOKE = ("experiment=smoke", "strategy=fmnist_baseline", "eval.zero_shot=false")


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_a_users_folder_with_checkpoints_is_refused_and_left_as_it_was(
    make_cfg, tiny_synth, tmp_path
):
    mine = tmp_path / "my_project"
    (mine / "checkpoints").mkdir(parents=True)
    (mine / "checkpoints" / "model_v3.pt").write_bytes(b"weights I trained for a week")
    (mine / "metrics.json").write_text('{"mine": true}')
    before = _digest(mine)
    cfg = make_cfg(*SMOKE, f"paths.synth_dir={tiny_synth}", run_dir=mine)
    for extra in ({}, {"overwrite": True}, {"resume": False}):
        cfg.overwrite = extra.get("overwrite", False)
        cfg.resume = extra.get("resume", True)
        with pytest.raises(ConfigError, match="did not write .*hydra.run.dir=NEW_DIR") as err:
            train(cfg)
        assert str(mine) in str(err.value) and "checkpoints/" in str(err.value)
    assert _digest(mine) == before
    assert not (mine / MARKER).exists()


def test_a_folder_with_only_other_files_is_claimed_and_its_files_kept(
    make_cfg, tiny_synth, tmp_path
):
    folder = tmp_path / "notes_here"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    cfg = make_cfg(*SMOKE, f"paths.synth_dir={tiny_synth}", run_dir=folder)
    train(cfg)
    assert (folder / MARKER).is_file() and (folder / "metrics.json").is_file()
    assert (folder / "notes.txt").read_text() == "keep me"
    cfg.overwrite = True  # the suite's own results may be replaced, never the user's file
    train(cfg)
    assert (folder / "notes.txt").read_text() == "keep me"


def test_a_second_process_is_refused_while_the_first_holds_the_folder(
    make_cfg, tiny_synth, tmp_path
):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    cfg = make_cfg(*SMOKE, f"paths.synth_dir={tiny_synth}", run_dir=run_dir)
    with hold(run_dir):
        assert lock_is_held(run_dir)
        with pytest.raises(ConfigError, match=f"{run_dir} is in use by another running job"):
            train(cfg)
        assert not (run_dir / "metrics.json").exists()
    assert not lock_is_held(run_dir)
    train(cfg)  # released: the folder is free again


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    code = (
        "import sys, time; from pathlib import Path;"
        "from fashion_transfer.training.run_lock import hold\n"
        "with hold(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(600)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(run_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "held"
        assert lock_is_held(run_dir) and holder_pid(run_dir) == proc.pid
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    while lock_is_held(run_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not lock_is_held(run_dir)
    with hold(run_dir):  # stale: no refusal
        assert holder_pid(run_dir) is not None


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (["strategy=adapter_scratch", "seed=1"], ["seed=1", "strategy=adapter_scratch"], True),
        (["seed=1", "strategy=x", "paths.synth_dir=/a"], ["seed=1", "strategy=x"], True),
        (["seed=1", "strategy=x", "logger=none", "device=cpu"], ["strategy=x", "seed=1"], True),
        (["seed=1", "strategy=x", "budget.target.lr=0.1"], ["seed=1", "strategy=x"], False),
        (["seed=1", "strategy=x", "budget.target.lr=0.1"], ["seed=2", "strategy=x"], False),
    ],
)
def test_job_folders_are_named_by_their_settings(a, b, same):
    assert (job_dirname(a) == job_dirname(b)) is same


def test_job_folder_names_read_well():
    assert job_dirname(["strategy=adapter_scratch", "seed=2"]) == "adapter_scratch_s2"
    named = job_dirname(["strategy=x", "seed=0", "experiment=demo", "source.view=fmnist"])
    assert named.startswith("x_s0_") and len(named) == len("x_s0_") + 8
    assert "/" not in job_dirname(["strategy=x", "seed=0", "+extra=a/b"])
