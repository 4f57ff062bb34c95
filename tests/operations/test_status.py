"""`python -m fashion_transfer.status` on hand-built sweep folders: each state, the settings that
vary, the resume command, the W&B sync line, and one-line errors. (The end-to-end sweep with real
kills and a real NaN is in test_status_slow.py.)"""

from __future__ import annotations

import json
import pickle
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
import yaml
from filelock import FileLock

from fashion_transfer import status
from fashion_transfer.conf import CONF_DIR
from fashion_transfer.jobs import job_dirname
from fashion_transfer.operations.checkpoint_meta import read_point
from fashion_transfer.operations.relaunch import product_blocks
from fashion_transfer.operations.sweep import expand_jobs
from fashion_transfer.training.checkpoint import make_payload, save_checkpoint

TASK = ["experiment=smoke", "strategy=fmnist_baseline,adapter_scratch", "seed=0,1,2"]
HYDRA = ["hydra.sweep.dir=/elsewhere", "hydra.mode=MULTIRUN", "hydra/launcher=joblib"]


def _multirun(sweep: Path, task: list[str], hydra: list[str] = HYDRA, params=None) -> None:
    config = {
        "hydra": {
            "sweeper": {
                "_target_": "hydra._internal.core_plugins.basic_sweeper.BasicSweeper",
                "max_batch_size": None,
                "params": params,
            },
            "overrides": {"hydra": hydra, "task": task},
            "runtime": {
                "cwd": "/work/somewhere",
                "config_sources": [{"path": str(CONF_DIR), "schema": "file", "provider": "main"}],
            },
        },
        "strategy": {"name": "fmnist_baseline"},
        "seed": 0,
    }
    sweep.mkdir(parents=True, exist_ok=True)
    (sweep / "multirun.yaml").write_text(yaml.safe_dump(config))


#: One history entry of metrics.json (fashion_transfer.record.EpochEntry), every key present.
EPOCH = {
    "stage": "source",
    "epoch": 1,
    "global_epoch": 1,
    "train_loss": 1.2,
    "train_acc": 0.6,
    "lr": 0.001,
    "seconds": 2.0,
    "val_loss": 1.1,
    "val_acc": 0.62,
    "frozen": False,
}


def _job(sweep: Path, overrides: list[str], **record) -> Path:
    folder = sweep / job_dirname(overrides)
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if record:
        base = {"schema_version": 1, "status": "running", "failure_reason": None, "history": []}
        (folder / "metrics.json").write_text(json.dumps({**base, **record}))
    return folder


def _checkpoint(folder: Path, stage: str, index: int, epoch: int) -> None:
    model = torch.nn.Linear(3, 2)
    payload = make_payload(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        scheduler=None,
        stage=stage,
        stage_index=index,
        epoch=epoch,
        best_val_acc=0.5,
        best_epoch=epoch,
        global_step=7 * epoch,
        record={"status": "running"},
        config={"seed": 0},
    )
    save_checkpoint(folder / "checkpoints" / "last.pt", payload)


def _offline_wandb(folder: Path, synced: bool) -> Path:
    run = folder / "wandb" / "offline-run-20261203_000000-abc"
    run.mkdir(parents=True)
    (run / "run-abc.wandb").write_bytes(b"")
    if synced:
        (run / "run-abc.wandb.synced").write_bytes(b"")
    return run


def _ov(strategy: str, seed: int) -> list[str]:
    return ["experiment=smoke", f"strategy={strategy}", f"seed={seed}"]


@pytest.fixture
def sweep(tmp_path) -> Path:
    """Six jobs: completed, running, interrupted twice (with and without a checkpoint), failed,
    and one that never started."""
    root = tmp_path / "sweep"
    _multirun(root, TASK)
    done = _job(
        root, _ov("fmnist_baseline", 0), status="completed", wall_time_s=75.0, shared_acc=0.301
    )
    _offline_wandb(done, synced=False)
    _offline_wandb(
        _job(root, _ov("fmnist_baseline", 1), status="completed", wall_time_s=3.0, test_acc=0.9),
        synced=True,
    )
    _job(root, _ov("fmnist_baseline", 2), history=[EPOCH])
    killed = _job(root, _ov("adapter_scratch", 0), wall_time_s=30.0)
    _checkpoint(killed, "target", 1, 2)
    failed = _job(
        root,
        _ov("adapter_scratch", 1),
        status="failed",
        failure_reason="non-finite loss (nan) in stage source by batch 5 (global step 10)",
    )
    _checkpoint(failed, "source", 0, 1)
    return root


def _status(capsys, *argv) -> tuple[int, str, str]:
    code = status.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_each_job_has_its_state_reason_and_figures(sweep, capsys):
    running = sweep / job_dirname(_ov("fmnist_baseline", 2))
    (running / ".run.pid").write_text("4242\n")
    with FileLock(running / ".run.lock"):
        code, out, _ = _status(capsys, sweep, "--json")
    assert code == 0
    report = json.loads(out)
    jobs = {(j["strategy"], j["seed"]): j for j in report["sweeps"][0]["jobs"]}
    assert {k: (j["state"], j["detail"]) for k, j in jobs.items()} == {
        ("fmnist_baseline", 0): ("completed", ""),
        ("fmnist_baseline", 1): ("completed", ""),
        ("fmnist_baseline", 2): ("running", "alive (pid 4242); epoch 1 of stage source done"),
        ("adapter_scratch", 0): ("interrupted", "resumable from epoch 2 of stage target"),
        ("adapter_scratch", 1): (
            "failed",
            "non-finite loss (nan) in stage source by batch 5 (global step 10) "
            "(resumable from epoch 1 of stage source)",
        ),
        ("adapter_scratch", 2): (
            "never started",
            f"no folder {job_dirname(_ov('adapter_scratch', 2))}/",
        ),
    }
    assert jobs[("fmnist_baseline", 0)]["headline"] == {"key": "shared_acc", "value": 0.301}
    assert jobs[("fmnist_baseline", 1)]["headline"] == {"key": "test_acc", "value": 0.9}
    assert jobs[("adapter_scratch", 0)]["resume_from"] == {"stage": "target", "epoch": 2}
    assert jobs[("adapter_scratch", 0)]["wall_time_s"] == 30.0
    assert jobs[("adapter_scratch", 2)]["folder"] is None
    assert report["counts"] == {
        "completed": 2,
        "running": 1,
        "interrupted": 1,
        "failed": 1,
        "never started": 1,
    }
    (unsynced,) = report["wandb_unsynced"]
    assert unsynced.startswith(str(sweep / job_dirname(_ov("fmnist_baseline", 0))))
    assert report["wandb_sync_command"] == f"wandb sync {unsynced}"


def test_the_table_and_the_summary_line(sweep, capsys):
    _, out, _ = _status(capsys, sweep)
    lines = out.splitlines()
    assert lines[0] == f"sweep {sweep}"
    assert "6 jobs: 2 completed, 0 running, 2 interrupted, 1 failed, 1 never started" in lines
    row = next(line for line in lines if line.startswith(job_dirname(_ov("fmnist_baseline", 0))))
    assert row.split() == [
        job_dirname(_ov("fmnist_baseline", 0)),
        "fmnist_baseline",
        "0",
        "-",
        "1m15s",
        "shared_acc",
        "30.1%",
        "completed",
    ]
    # Without a checkpoint an interrupted job starts again (the lock is free: it is not running).
    assert any(
        line.endswith("interrupted: no checkpoint yet: starts again from the beginning")
        for line in lines
    )
    assert lines[-1].startswith("W&B: 1 offline run(s) not synced: wandb sync ")


def test_resume_command_launches_only_the_unfinished_jobs_in_product_blocks(sweep, capsys):
    code, out, _ = _status(capsys, sweep, "--resume-command")
    assert code == 0
    python = shlex.quote(sys.executable)
    tail = f"hydra/launcher=joblib hydra.sweep.dir={sweep.resolve()}"
    assert out.splitlines() == [
        f"cd /work/somewhere && {python} -m fashion_transfer.train -m experiment=smoke "
        f"strategy=fmnist_baseline seed=2 {tail}",
        f"cd /work/somewhere && {python} -m fashion_transfer.train -m experiment=smoke "
        f"strategy=adapter_scratch seed=0,1,2 {tail}",
    ]


def test_a_running_job_is_not_launched_again(sweep, capsys):
    with FileLock(sweep / job_dirname(_ov("fmnist_baseline", 2)) / ".run.lock"):
        _, out, _ = _status(capsys, sweep, "--resume-command")
    assert "strategy=adapter_scratch seed=0,1,2 " in out and "fmnist_baseline" not in out


def test_settings_that_vary_are_shown_per_job_and_resume_never_passes_overwrite(tmp_path, capsys):
    root = tmp_path / "sweep"
    task = ["strategy=deepfashion_scratch", "budget.target.lr=1e-3,1e-4", "overwrite=true"]
    _multirun(root, task, hydra=["hydra.mode=MULTIRUN"])
    # Hydra writes each job's overrides as its sweeper expanded them (1e-3 -> 0.001, true -> True).
    first = ["strategy=deepfashion_scratch", "budget.target.lr=0.001", "overwrite=True"]
    _job(root, first, status="completed", target_top1=0.5)
    code, out, _ = _status(capsys, root, "--json")
    jobs = json.loads(out)["sweeps"][0]["jobs"]
    assert [(j["varies"], j["state"]) for j in jobs] == [
        ({"budget.target.lr": "0.001"}, "completed"),
        ({"budget.target.lr": "0.0001"}, "never started"),
    ]
    assert jobs[0]["headline"] == {"key": "target_top1", "value": 0.5}
    _, out, _ = _status(capsys, root, "--resume-command")
    assert out.split(" -m fashion_transfer.train -m ")[1].split() == [
        "strategy=deepfashion_scratch",
        "budget.target.lr=0.0001",
        f"hydra.sweep.dir={root.resolve()}",
    ]


def test_sweeper_params_and_glob_expand_as_hydra_expands_them():
    config = {
        "hydra": {
            "sweeper": {"params": {"strategy": "glob(adapter_*)", "seed": "0,1"}},
            "overrides": {"task": ["experiment=smoke", "seed=3"]},
            "runtime": {},
        }
    }
    # The command line's seed=3 replaces the experiment's seed list, as in a Hydra launch.
    assert expand_jobs(config) == [
        ["strategy=adapter_pretrained", "seed=3", "experiment=smoke"],
        ["strategy=adapter_scratch", "seed=3", "experiment=smoke"],
    ]


def test_product_blocks_cover_exactly_the_jobs_given():
    jobs = [["s=a", "n=0"], ["s=a", "n=1"], ["s=b", "n=1"], ["s=c", "n=0"], ["s=c", "n=1"]]
    blocks = product_blocks(jobs)
    covered = sorted([f"s={s}", f"n={n}"] for (_, ss), (_, ns) in blocks for s in ss for n in ns)
    assert covered == sorted(jobs) and len(blocks) == 2


def test_a_run_folder_on_its_own_resumes_with_its_run_dir(tmp_path, capsys):
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(["strategy=adapter_scratch"]))
    hydra = {
        "hydra": {
            "mode": "RUN",
            "runtime": {"cwd": str(tmp_path)},
            "overrides": {"hydra": [f"hydra.run.dir={run}"], "task": []},
        }
    }
    (run / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump(hydra))
    (run / "metrics.json").write_text(
        json.dumps({"status": "running", "strategy": "adapter_scratch", "seed": 0})
    )
    _, out, _ = _status(capsys, run, "--resume-command")
    assert out.strip() == (
        f"cd {tmp_path} && {shlex.quote(sys.executable)} -m fashion_transfer.train "
        f"strategy=adapter_scratch hydra.run.dir={run.resolve()}"
    )
    _, out, _ = _status(capsys, tmp_path)  # a folder of runs: each is found
    assert out.splitlines()[0] == f"run {run}"
    assert "1 job: 0 completed, 0 running, 1 interrupted, 0 failed, 0 never started" in out


def test_nothing_to_resume_says_so_on_stderr(tmp_path, capsys):
    root = tmp_path / "sweep"
    _multirun(root, ["strategy=fmnist_baseline"])
    _job(root, ["strategy=fmnist_baseline"], status="completed")
    code, out, err = _status(capsys, root, "--resume-command")
    assert (code, out) == (0, "")
    assert err == "nothing to resume: every job is completed or running\n"


def test_checkpoint_point_is_read_without_torch(tmp_path):
    _checkpoint(tmp_path, "target", 1, 3)
    point = read_point(tmp_path / "checkpoints" / "last.pt")
    assert (point.stage, point.stage_index, point.epoch, point.global_step) == ("target", 1, 3, 21)
    code = "import sys; from fashion_transfer.operations import checkpoint_meta; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("ran",))

    path = tmp_path / "last.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("last/data.pkl", pickle.dumps({"stage": "s", "epoch": Evil()}))
    with pytest.raises(ValueError, match="unexpected builtins.print"):
        read_point(path)
    path.write_bytes(b"torn")
    with pytest.raises(ValueError, match="BadZipFile"):
        read_point(path)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda p: None,
            "{p}: no such folder; pass a sweep folder (multirun.yaml) or a run folder",
        ),
        (
            lambda p: p.write_text("x"),
            "{p}: not a folder; pass a sweep folder (multirun.yaml) or a run folder",
        ),
        (
            lambda p: p.mkdir(),
            "{p}: holds no sweep (multirun.yaml) and no run folder (.hydra/, metrics.json); pass the folder Hydra wrote (hydra.sweep.dir or hydra.run.dir)",
        ),
        (
            lambda p: (p.mkdir(), (p / "multirun.yaml").write_text("[1, 2")),
            "{p}/multirun.yaml: not a Hydra multirun.yaml (unreadable or no `hydra:` section); pass the sweep folder Hydra wrote, or one of its job folders",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, make, message):
    path = tmp_path / "given"
    make(path)
    proc = subprocess.run(
        [sys.executable, "-m", "fashion_transfer.status", str(path)], capture_output=True, text=True
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"error: {message.format(p=path)}\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: SWEEP_OR_RUN_DIR"),
        (
            ["x", "--json", "--resume-command"],
            "argument --resume-command: not allowed with argument --json",
        ),
        (["x", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(argv, message):
    proc = subprocess.run(
        [sys.executable, "-m", "fashion_transfer.status", *argv], capture_output=True, text=True
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"error: {message} (python -m fashion_transfer.status --help)\n"
