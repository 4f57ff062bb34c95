"""`hydra/launcher=submitit_slurm` against a real Slurm controller: a local single-node cluster.

scripts/slurm/cluster.sh installs (apt-get) and starts munge, MariaDB, slurmdbd, slurmctld and
slurmd; this module starts it when it is not up and stops it afterwards (a cluster that was
already up is left running). Selected with `-m slurm` (`make test-slurm`), never by `make test`.
Without apt-get or root the tests skip with the reason; FT_REQUIRE_SLURM=1 (CI) fails instead.

Runs are the real entrypoint on tiny FashionSynth with one thread (OMP_NUM_THREADS=1, exported
to the jobs by sbatch), so a Slurm job computes the same numbers as a local process. Job folders
are found by their metrics.json and matched by the strategy and seed recorded there.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.filterwarnings(r"ignore:\s*'hydra/launcher/submitit_:UserWarning"),
]

CLUSTER_SH = Path(__file__).resolve().parents[2] / "scripts" / "slurm" / "cluster.sh"
# What the one local node offers: no GPU (--gres=gpu is refused), 2 CPUs, memory checked at submit.
ON_THIS_NODE = (
    "hydra.launcher.gpus_per_node=null",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
)
LONG_EPOCHS = (  # 2 source + 3 target epochs of up to 14 steps: a few seconds per epoch here
    "experiment=smoke",
    "device=cpu",
    "strategy=adapter_scratch",
    "budget.adapter_source.epochs=2",
    "budget.target.epochs=3",
    "budget.adapter_source.batch_size=8",
    "budget.target.batch_size=4",
    "train.max_steps_per_epoch=14",
)
EPOCHS = [("source", 1), ("source", 2), ("target", 1), ("target", 2), ("target", 3)]


def _unavailable(reason: str) -> None:
    if os.environ.get("FT_REQUIRE_SLURM") == "1":
        pytest.fail(f"FT_REQUIRE_SLURM=1 but {reason}")
    pytest.skip(reason)


def _cluster(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(CLUSTER_SH), command], capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """The local cluster, up; yields the environment its clients need (SLURM_CONF)."""
    if shutil.which("sbatch") is None and shutil.which("apt-get") is None:
        _unavailable("no Slurm here and no apt-get to install it (Debian's slurm-wlm packages)")
    if os.geteuid() != 0:
        _unavailable(
            "the local Slurm cluster runs its daemons as root; run `make test-slurm` as root"
        )
    was_up = _cluster("status").returncode == 0
    for step in ("install", "start"):
        done = _cluster(step)
        if done.returncode != 0:
            pytest.fail(f"cluster.sh {step} failed:\n{done.stdout}{done.stderr}")
    conf = _cluster("env").stdout.strip().split("=", 1)[1]
    try:
        yield {"SLURM_CONF": conf}
    finally:
        if not was_up:
            stopped = _cluster("stop")
            assert stopped.returncode == 0, stopped.stdout + stopped.stderr


@pytest.fixture
def launch(slurm, helpers, tmp_path):
    """Start `python -m fashion_transfer.train -m ... hydra.sweep.dir=SWEEP`; afterwards, kill
    whatever is still running and cancel the cluster's jobs (a failed test leaves none behind)."""
    env = helpers.cli_env(tmp_path, **slurm)
    started: list[subprocess.Popen] = []

    def _launch(sweep: Path, *overrides: str) -> subprocess.Popen:
        sweep.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            helpers.train_cmd("-m", *overrides, f"hydra.sweep.dir={sweep}"),
            env=env,
            cwd=sweep.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(proc)
        return proc

    _launch.env = env
    yield _launch
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    subprocess.run(["scancel", "--user", "root", "--full"], env=env, check=False)


def _finish(proc: subprocess.Popen, timeout: float = 900) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-4000:]
    return out


def _runs(helpers, sweep: Path) -> dict[tuple[str, int], dict]:
    """Every run of a sweep by (strategy, seed), as its metrics.json records them."""
    runs = {}
    for path in sweep.glob("*/metrics.json"):
        metrics = helpers.read_metrics(path.parent)
        key = (metrics["strategy"], metrics["seed"])
        assert key not in runs, f"two run folders for {key}"
        runs[key] = metrics
    return runs


def _status(sweep: Path, env: dict) -> dict:
    """`python -m fashion_transfer.status --json SWEEP`: the sweep as the status command sees it."""
    done = subprocess.run(
        [sys.executable, "-m", "fashion_transfer.status", "--json", str(sweep)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    (found,) = json.loads(done.stdout)["sweeps"]
    return found


def _job_ids(sweep: Path) -> list[str]:
    """Slurm's ids of the sweep's jobs: the folders under ${hydra.sweep.dir}/.submitit holding a
    submitted job (an array's own folder holds only its sbatch script)."""
    return sorted(p.parent.name for p in (sweep / ".submitit").glob("*/*_submitted.pkl"))


def _sacct_states(job: str, env: dict) -> list[str]:
    """Every record Slurm's accounting keeps for the job, oldest first (requeues included)."""
    out = subprocess.run(
        ["sacct", "-n", "-P", "-X", "-D", "-j", job, "-o", "State"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _final_state(job: str, env: dict) -> list[str]:
    """sacct's records once the last one has ended (accounting trails the job by a moment)."""
    deadline = time.monotonic() + 60
    while True:
        states = _sacct_states(job, env)
        if (states and states[-1] not in ("PENDING", "RUNNING", "REQUEUED")) or (
            time.monotonic() > deadline
        ):
            return states
        time.sleep(1)


def _task_pid(sweep: Path) -> int:
    """The running submitit task (`python -u -m submitit.core._submit <sweep>/.submitit/...`), not
    the `srun` that started it with that same command line in its arguments."""
    marker = str(sweep / ".submitit").encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        python = Path(command[0].decode(errors="replace")).name.startswith("python")
        if python and b"submitit.core._submit" in command and any(marker in p for p in command):
            return int(entry.name)
    pytest.fail(f"no submitit task process for {sweep}")


def _run_dir(sweep: Path) -> Path | None:
    found = [p.parent for p in sweep.glob("*/metrics.json")]
    return found[0] if len(found) == 1 else None


def _stopped(proc_status: str) -> bool:
    return re.search(r"^State:\s*T", proc_status, re.M) is not None


def _stopped_after_a_checkpoint(helpers, master, sweep: Path) -> tuple[int, Path, list]:
    """Wait for the job's first epoch, then SIGSTOP its task: whatever Slurm does next meets a
    run in the middle, after a checkpoint, whatever this machine's speed."""
    helpers.wait_for(
        lambda: (run := _run_dir(sweep)) is not None and helpers.history_len(run) >= 1,
        master,
        timeout=600,
    )
    task = _task_pid(sweep)
    os.kill(task, signal.SIGSTOP)
    deadline = time.monotonic() + 30
    while not _stopped(Path(f"/proc/{task}/status").read_text()):  # delivered asynchronously
        assert time.monotonic() < deadline, "SIGSTOP did not stop the task"
        time.sleep(0.05)
    run = _run_dir(sweep)
    return task, run, helpers.read_metrics(run)["history"]


def _check_resumed(helpers, run: Path, before: list, reference: dict) -> dict:
    """The run continued from its checkpoint (not from scratch) to the reference's numbers."""
    log = (run / "train.log").read_text()
    resumed = re.findall(r"resuming from .*\(stage (\w+), epoch (\d+)\)", log)
    assert resumed, log[-3000:]
    first = (resumed[0][0], int(resumed[0][1]))
    # last.pt is written just before metrics.json: the stop may fall between the two.
    assert first in EPOCHS[len(before) - 1 : len(before) + 1], (first, len(before))
    after = helpers.read_metrics(run)
    assert after["status"] == "completed", after["failure_reason"]
    assert [(h["stage"], h["epoch"]) for h in after["history"]] == EPOCHS
    assert after["history"][: len(before)] == before  # kept as recorded, timing included
    assert helpers.comparable(after) == helpers.comparable(reference)
    return after


@pytest.fixture(scope="module")
def long_reference(tmp_path_factory, tiny_synth, helpers):
    """LONG_EPOCHS run once, uninterrupted, by a local process (no Slurm): the numbers the
    interrupted Slurm jobs must reach. Started at once; `get()` waits for it."""
    tmp = tmp_path_factory.mktemp("long_reference")
    proc = subprocess.Popen(
        helpers.train_cmd(
            *LONG_EPOCHS,
            f"paths.synth_dir={tiny_synth}",
            "group=sweep",  # what the Slurm jobs' sweep folder, named `sweep`, gives them
            f"hydra.run.dir={tmp / 'run'}",
        ),
        env=helpers.cli_env(tmp),
        cwd=tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    class Reference:
        @staticmethod
        def get() -> dict:
            _finish(proc)
            return helpers.read_metrics(tmp / "run")

    yield Reference
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def test_a_five_strategy_sweep_completes_on_slurm_with_the_local_numbers(
    launch, tiny_synth, tmp_path, helpers
):
    common = ("experiment=smoke", "device=cpu", "strategy=glob(*)", f"paths.synth_dir={tiny_synth}")
    # Both sweeps in a folder of the same name: it is the runs' W&B group, recorded in metrics.
    sweeps = {name: tmp_path / name / "sweep" for name in ("slurm", "local")}
    on_slurm = launch(sweeps["slurm"], "hydra/launcher=submitit_slurm", *common, *ON_THIS_NODE)
    local = launch(sweeps["local"], "hydra/launcher=submitit_local", *common)
    _finish(on_slurm)
    _finish(local)

    got, want = _runs(helpers, sweeps["slurm"]), _runs(helpers, sweeps["local"])
    assert sorted(got) == sorted(want) and len(got) == 5, sorted(got)
    for key, metrics in got.items():
        assert metrics["status"] == "completed", (key, metrics["failure_reason"])
        assert helpers.comparable(metrics) == helpers.comparable(want[key]), key
    jobs = _job_ids(sweeps["slurm"])
    assert len(jobs) == 5
    assert {job: _final_state(job, launch.env) for job in jobs} == {
        job: ["COMPLETED"] for job in jobs
    }
    status = _status(sweeps["slurm"], launch.env)
    assert sorted((j["strategy"], j["seed"], j["state"]) for j in status["jobs"]) == [
        (strategy, seed, "completed") for strategy, seed in sorted(got)
    ]
    assert status["resume_commands"] == []


def _pinned_until_killed(pid: int, timeout: float) -> None:
    """Keep a process stopped until it is gone. Slurm kills a job with SIGCONT and SIGTERM, then
    SIGKILL KillWait seconds later (~4.5 s measured with KillWait=2): without this it would train
    on meanwhile, and a short run could finish before the kill."""
    deadline = time.monotonic() + timeout
    with contextlib.suppress(ProcessLookupError):
        while Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGSTOP)
            assert time.monotonic() < deadline, f"process {pid} not killed in {timeout} s"
            time.sleep(0.005)


def test_a_requeued_job_resumes_from_its_checkpoint_to_the_same_numbers(
    launch, tiny_synth, tmp_path, helpers, long_reference
):
    """`scontrol requeuehold` (a requeue, as an admin or a pre-empting partition does, held in the
    queue until released) kills the running job; released, it starts again with the same
    overrides, in the same folder. The status command reports it running, then interrupted with
    its resume point and a relaunch through Slurm, then completed."""
    env, sweep = launch.env, tmp_path / "sweep"
    master = launch(
        sweep,
        "hydra/launcher=submitit_slurm",
        *LONG_EPOCHS,
        f"paths.synth_dir={tiny_synth}",
        *ON_THIS_NODE,
    )
    task, run, before = _stopped_after_a_checkpoint(helpers, master, sweep)
    (job,) = _job_ids(sweep)
    (seen,) = _status(sweep, env)["jobs"]
    assert seen["state"] == "running", seen  # stopped, its process still holds the run lock
    # requeuehold: requeued and held in the queue, so the status command sees it between attempts
    subprocess.run(["scontrol", "requeuehold", job], env=env, check=True, timeout=60)
    _pinned_until_killed(task, timeout=120)
    between = _status(sweep, env)
    (seen,) = between["jobs"]
    assert seen["state"] == "interrupted", seen
    resume_point = (seen["resume_from"]["stage"], seen["resume_from"]["epoch"])
    assert resume_point in EPOCHS[len(before) - 1 : len(before) + 1], (seen, len(before))
    # Its relaunch command goes back through Slurm with the same launcher settings, same folder.
    (relaunch,) = between["resume_commands"]
    for part in ("hydra/launcher=submitit_slurm", *ON_THIS_NODE, f"hydra.sweep.dir={sweep}"):
        assert part in relaunch.split(), (part, relaunch)
    subprocess.run(["scontrol", "release", job], env=env, check=True, timeout=60)
    _finish(master)

    after = _check_resumed(helpers, run, before, long_reference.get())
    assert _final_state(job, env) == ["REQUEUED", "COMPLETED"]
    assert len(list(sweep.glob("*/metrics.json"))) == 1
    (seen,) = _status(sweep, env)["jobs"]
    assert seen["state"] == "completed" and seen["wall_time_s"] == after["wall_time_s"], seen


def _held_until_signalled(pid: int, signum: int, timeout: float) -> None:
    """Keep a stopped process stopped until `signum` waits for it (slurmstepd sends SIGCONT along
    with a job's signal, so the process may also wake and handle it alone); then continue it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return  # woken by Slurm, handled the signal and exited
        pending = 0
        for field in ("SigPnd", "ShdPnd"):  # the thread's and the process's pending signals
            pending |= int(re.search(rf"^{field}:\s*(\w+)", status, re.M)[1], 16)
        if pending & (1 << (signum - 1)) or not _stopped(status):
            break
        assert time.monotonic() < deadline, f"no {signal.Signals(signum).name} in {timeout} s"
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGCONT)


def test_a_job_warned_of_its_time_limit_requeues_and_resumes_to_the_same_numbers(
    launch, tiny_synth, tmp_path, helpers, long_reference
):
    """A one-minute limit with USR2 10 s before it (sbatch --signal=USR2@10; Slurm checks limits
    every 30 s, so the warning lands 20-50 s into the attempt). submitit checkpoints the launcher
    and requeues the job itself; each attempt continues from checkpoints/last.pt."""
    env, sweep = launch.env, tmp_path / "sweep"
    master = launch(
        sweep,
        "hydra/launcher=submitit_slurm",
        *LONG_EPOCHS,
        f"paths.synth_dir={tiny_synth}",
        *ON_THIS_NODE,
        "hydra.launcher.timeout_min=1",
        "hydra.launcher.signal_delay_s=10",
    )
    task, run, before = _stopped_after_a_checkpoint(helpers, master, sweep)
    # Held stopped, the task cannot finish before the warning (one minute at most).
    _held_until_signalled(task, signal.SIGUSR2, timeout=120)
    _finish(master)

    _check_resumed(helpers, run, before, long_reference.get())
    (job,) = _job_ids(sweep)
    log = "".join(p.read_text() for p in (sweep / ".submitit" / job).glob("*_log.*"))
    assert "Caught signal SIGUSR2" in log and "this job is timed-out" in log, log[-3000:]
    assert f"Requeued job {job}" in log
    states = _final_state(job, env)
    assert states[-1] == "COMPLETED" and set(states[:-1]) == {"REQUEUED"}, states
