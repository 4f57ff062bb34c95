"""Bad input through the real commands, as a user types it: one table, one subprocess per row.

Every row must end with its exit code (2 unless the row says otherwise), exactly one line on
stderr that mentions an error, that line starting with `error: ` and containing the row's
`says`, no traceback anywhere, and every file of the user's folders (the "ground") exactly as
it was: none changed, none removed, none added.

To add a case, append a `Case` to CASES. `args` may use these placeholders:
  {ground}    the user's folders, copied fresh for each case (hashed before and after)
  {synth}     {ground}/synth: a tiny FashionSynth (studio/ with FashionMNIST/raw idx files,
              wild/ in DeepFashion's layout), generated once per session
  {studio} {wild}  its two halves
  {sweep}     {ground}/sweep: one completed and one failed run, as training leaves them
  {newer}     {ground}/newer: a run whose metrics.json has a schema this code does not read
  {user_dir}  {ground}/user_dir: a folder of the user's with checkpoints/notes.txt, wild/mine.txt
              and summary.md
  {file}      {ground}/notes.txt: a plain file
  {readonly}  {ground}/readonly: a folder without write permission
  {missing}   {ground}/missing: a path that does not exist
  {scratch}   a per-case folder outside the ground (the working directory, so Hydra's
              outputs/ land there); write outputs a case needs here
Keep cases fast: prefer input that fails at argument or config validation, before data loads.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
HAS_CUDA = torch.cuda.is_available()


@dataclass(frozen=True)
class Case:
    """One bad input: the command (a module under fashion_transfer), its arguments, the outcome."""

    id: str
    cli: str  # "train", "analyze", "bench", "data.check", "synth"
    args: tuple[str, ...]
    says: str  # a piece of the `error:` line
    code: int = 2
    env: dict[str, str | None] = field(default_factory=dict)  # None unsets a variable
    json_stdout: bool = False  # the error is also {"error": ..., "exit_code": ...} on stdout
    skip: str = ""  # why this machine cannot show the case ("" runs it)


def case(id: str, cli: str, *args: str, says: str, **kw) -> Case:
    return Case(id, cli, tuple(args), says, **kw)


NO_WANDB_KEY = {"WANDB_API_KEY": None, "HOME": "{scratch}", "WANDB_CONFIG_DIR": "{scratch}"}
AS_ROOT = "root writes into read-only folders" if IS_ROOT else ""

CASES = [
    # --- analyze ---
    case("analyze-nothing", "analyze", says="give at least one SWEEP_DIR"),
    case("analyze-unknown-option", "analyze", "{sweep}", "--bogus", says="unrecognized arguments"),
    case("analyze-missing-folder", "analyze", "{missing}", says="no such folder"),
    case("analyze-file-as-sweep", "analyze", "{file}", says="is a file"),
    case("analyze-no-runs", "analyze", "{synth}", says="no runs found"),
    case("analyze-newer-schema", "analyze", "{newer}", says="schema_version 2"),
    case("analyze-out-is-a-file", "analyze", "{sweep}", "--out", "{file}", says="is a file"),
    case(
        "analyze-out-under-a-file",
        "analyze",
        "{sweep}",
        "--out",
        "{file}/analysis",
        says="is a file, so no folder",
    ),
    case("analyze-out-empty", "analyze", "{sweep}", "--out", "", says="expected a path"),
    case(
        "analyze-out-read-only",
        "analyze",
        "{sweep}",
        "--out",
        "{readonly}/analysis",
        says="not writable",
        skip=AS_ROOT,
    ),
    case(
        "analyze-out-over-a-users-summary",
        "analyze",
        "{sweep}",
        "--out",
        "{user_dir}",
        says="which no earlier analysis wrote",
    ),
    case("analyze-wandb-no-group", "analyze", "--wandb", "me/proj", says="go together"),
    case(
        "analyze-wandb-bad-path",
        "analyze",
        "--wandb",
        "proj",
        "--group",
        "g",
        says="expected ENTITY/PROJECT",
    ),
    case(
        "analyze-wandb-no-key",
        "analyze",
        "--wandb",
        "me/proj",
        "--group",
        "g",
        says="the W&B API did not answer",
        env=NO_WANDB_KEY,
    ),
    # --- bench ---
    case(
        "bench-cuda-without-gpu",
        "bench",
        "--quick",
        "--device",
        "cuda",
        "--out",
        "{scratch}/b",
        says="--device cuda: no CUDA device here",
        skip="this machine has a GPU" if HAS_CUDA else "",
    ),
    case(
        "bench-cuda-index-out-of-range",
        "bench",
        "--quick",
        "--device",
        "cuda:99",
        "--out",
        "{scratch}/b",
        says="CUDA device",
    ),
    case("bench-device-gpu", "bench", "--quick", "--device", "gpu", says="not a device"),
    case("bench-threads-0", "bench", "--quick", "--threads", "0", says=">= 1"),
    case("bench-tta-limit-negative", "bench", "--tta-limit", "-5", says=">= 0"),
    case("bench-out-is-a-file", "bench", "--quick", "--out", "{file}", says="is a file"),
    case("bench-not-key-value", "bench", "--quick", "oops", says="must be key=value"),
    case(
        "bench-unknown-strategy",
        "bench",
        "--quick",
        "--out",
        "{scratch}/b",
        "strategy=foo",
        says="strategy/foo",
    ),
    case(
        "bench-data-dir-missing",
        "bench",
        "--quick",
        "--out",
        "{scratch}/b",
        "paths.data_dir={missing}",
        says="or source.download=true",
    ),
    # --- data.check ---
    case("check-missing-root", "data.check", "{missing}", says="not found"),
    case("check-not-deepfashion", "data.check", "{studio}", says="missing list file"),
    case(
        "check-max-bad-fraction-5",
        "data.check",
        "{wild}",
        "--max-bad-fraction",
        "5",
        says="between 0 and 1",
    ),
    case(
        "check-max-bad-fraction-nan",
        "data.check",
        "{wild}",
        "--max-bad-fraction",
        "nan",
        says="finite",
    ),
    case("check-workers-0", "data.check", "{wild}", "--workers", "0", says=">= 1"),
    case(
        "check-json-workers-negative",
        "data.check",
        "{wild}",
        "--json",
        "--workers",
        "-1",
        says=">= 1",
        json_stdout=True,
    ),
    case(
        "check-json-missing-root",
        "data.check",
        "{missing}",
        "--json",
        says="not found",
        json_stdout=True,
    ),
    case(
        "check-view-stats-unknown-split",
        "data.check",
        "{wild}",
        "--view-stats",
        "--split",
        "dev",
        says="--split dev: choose one of train, val, test",
    ),
    case(
        "check-view-stats-negative-limit",
        "data.check",
        "{wild}",
        "--view-stats",
        "--limit",
        "-3",
        says="--limit -3: a number of images",
    ),
    case(
        "check-view-stats-missing-root", "data.check", "{missing}", "--view-stats", says="not found"
    ),
    # --- synth ---
    case("synth-no-out", "synth", says="--out"),
    case("synth-out-is-a-file", "synth", "--out", "{file}", says="is a file"),
    case(
        "synth-out-under-a-file",
        "synth",
        "--out",
        "{file}/synth",
        says="is a file, so no folder",
    ),
    case("synth-out-empty", "synth", "--out", "", says="expected a path"),
    case(
        "synth-seed-negative",
        "synth",
        "--out",
        "{scratch}/s",
        "--seed",
        "-1",
        says=">= 0",
    ),
    case("synth-wild-0", "synth", "--out", "{scratch}/s", "--wild", "0", says=">= 1"),
    case(
        "synth-studio-train-word",
        "synth",
        "--out",
        "{scratch}/s",
        "--studio-train",
        "many",
        says="whole number",
    ),
    case(
        "synth-other-parameters-over-existing",
        "synth",
        "--out",
        "{synth}",
        says="holds other FashionSynth data",
    ),
    case(
        "synth-over-a-users-folder",
        "synth",
        "--out",
        "{user_dir}",
        "--studio-train",
        "5",
        "--studio-test",
        "5",
        "--wild",
        "5",
        says="holds no complete FashionSynth",
    ),
    # --- train (argument and config validation; more train cases belong here too) ---
    case("train-unknown-strategy", "train", "strategy=foo", says="conf/strategy/foo.yaml"),
    case(
        "train-device-gpu",
        "train",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={synth}",
        "hydra.run.dir={scratch}/run",
        "device=gpu",
        says="device=gpu: not a device",
    ),
    case(
        "train-synth-dir-missing",
        "train",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={missing}",
        "hydra.run.dir={scratch}/run",
        says="no such folder",
    ),
    case(
        "train-seed-word",
        "train",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={synth}",
        "hydra.run.dir={scratch}/run",
        "seed=abc",
        says="seed=abc: must be a whole number",
    ),
    case(
        "train-seed-fraction",
        "train",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={synth}",
        "hydra.run.dir={scratch}/run",
        "seed=1.5",
        says="seed=1.5: must be a whole number",
    ),
    case(
        "train-seed-null",
        "train",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={synth}",
        "hydra.run.dir={scratch}/run",
        "seed=null",
        says="seed=null: must be a whole number",
    ),
    case(
        "train-amp-off",
        "train",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={synth}",
        "hydra.run.dir={scratch}/run",
        "train.amp=off",
        says="train.amp=off: choose auto, true or false",
    ),
    case(
        "train-input-adapter-rgb",
        "train",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={synth}",
        "hydra.run.dir={scratch}/run",
        "strategy=adapter_scratch",
        "transfer.input_adapter=rgb",
        says="transfer.input_adapter=rgb: choose learned or timm_stem",
    ),
    case(
        "train-epochs-float",
        "train",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={synth}",
        "hydra.run.dir={scratch}/run",
        "budget.target.epochs=1.5",
        says="budget.target.epochs=1.5: Value '1.5' of type 'float' could not be converted",
    ),
    case(
        "train-threads-zero",
        "train",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={synth}",
        "hydra.run.dir={scratch}/run",
        "train.threads=0",
        says="train.threads=0: must be a positive integer",
    ),
    case(
        "train-threads-negative",
        "train",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={synth}",
        "hydra.run.dir={scratch}/run",
        "train.threads=-2",
        says="train.threads=-2: must be a positive integer",
    ),
    case(
        "train-max-steps-zero",
        "train",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={synth}",
        "hydra.run.dir={scratch}/run",
        "train.max_steps_per_epoch=0",
        says="train.max_steps_per_epoch=0: must be",
    ),
    case(
        "train-label-smoothing",
        "train",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={synth}",
        "hydra.run.dir={scratch}/run",
        "train.label_smoothing=1.5",
        says="train.label_smoothing=1.5: must be in [0, 1)",
    ),
    case(
        "train-eval-samples",
        "train",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={synth}",
        "hydra.run.dir={scratch}/run",
        "eval.samples=-1",
        says="eval.samples=-1: must be a whole number",
    ),
    case(
        "train-zero-shot-word",
        "train",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={synth}",
        "hydra.run.dir={scratch}/run",
        "eval.zero_shot=maybe",
        says="eval.zero_shot=maybe: choose true or false",
    ),
    case(
        "train-resume-word",
        "train",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={synth}",
        "hydra.run.dir={scratch}/run",
        "resume=maybe",
        says="resume=maybe: choose true or false",
    ),
    case(
        "train-plus-typo",
        "train",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={synth}",
        "hydra.run.dir={scratch}/run",
        "+budget.target.epoch=3",
        says="did you mean budget.target.epochs",
    ),
    case(
        "train-key-typo",
        "train",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={synth}",
        "hydra.run.dir={scratch}/run",
        "budget.target.epoch=3",
        says="budget.target.epoch: no such setting; did you mean budget.target.epochs",
    ),
    case(
        "train-backbone-adapter",
        "train",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={synth}",
        "hydra.run.dir={scratch}/run",
        "model@backbone=adapter",
        says="adapter is not a timm classifier",
    ),
    case(
        "train-backbone-simple-cnn",
        "train",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={synth}",
        "hydra.run.dir={scratch}/run",
        "model@backbone=simple_cnn",
        says="simple_cnn is not a timm classifier",
    ),
    case(
        "train-sweep-bad-seed",
        "train",
        "-m",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={synth}",
        "hydra.sweep.dir={scratch}/sweep",
        "seed=0,l",
        says="seed=l: must be a whole number",
    ),
    case(
        "train-sweep-bad-lr",
        "train",
        "-m",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={synth}",
        "hydra.sweep.dir={scratch}/sweep",
        "strategy=deepfashion_scratch",
        "budget.target.lr=1e-3,-1",
        says="budget.target.lr=-1",
    ),
    case(
        "train-train-fraction",
        "train",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={synth}",
        "hydra.run.dir={scratch}/run",
        "target.train_fraction=0",
        "strategy=deepfashion_scratch",
        says="target.train_fraction=0: must be in (0, 1]",
    ),
    case(
        "train-pretrained-file",
        "train",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={synth}",
        "hydra.run.dir={scratch}/run",
        "strategy=deepfashion_imagenet",
        "model@backbone=resnet",
        "backbone.pretrained_file={missing}",
        says="backbone.pretrained_file=",
    ),
    case(  # a folder of the user's with its own checkpoints/ is refused, nothing deleted
        "train-into-users-folder",
        "train",
        "experiment=smoke",
        "logger=none",
        "paths.synth_dir={synth}",
        "hydra.run.dir={user_dir}",
        says="that fashion-transfer did not write",
    ),
    case(  # the zero-shot set is missing: known before the first epoch, with the way on
        "train-zero-shot-set-missing",
        "train",
        "strategy=fmnist_baseline",
        "logger=none",
        "paths.data_dir={studio}",
        "hydra.run.dir={scratch}/run",
        says="eval.zero_shot=false",
    ),
]


def _files(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under root."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _write_run(job: Path, seed: int, status: str, schema: int = 1) -> None:
    """A job folder as training leaves it; metrics.json holds only what these cases need."""
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "config.yaml").write_text(
        f"seed: {seed}\nstrategy:\n  name: adapter_scratch\n"
    )
    (job / ".hydra" / "overrides.yaml").write_text(f"- strategy=adapter_scratch\n- seed={seed}\n")
    metrics = {"schema_version": schema, "status": status, "strategy": "adapter_scratch"}
    (job / "metrics.json").write_text(json.dumps({**metrics, "seed": seed}))


@pytest.fixture(scope="session")
def ground_master(tiny_synth: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's folders every case starts from (copied per case, so cases stay independent)."""
    root = tmp_path_factory.mktemp("bad-inputs") / "ground"
    shutil.copytree(tiny_synth, root / "synth")
    _write_run(root / "sweep" / "0", 0, "completed")
    _write_run(root / "sweep" / "1", 1, "failed")
    _write_run(root / "newer" / "0", 0, "completed", schema=2)
    (root / "user_dir" / "checkpoints").mkdir(parents=True)
    (root / "user_dir" / "checkpoints" / "notes.txt").write_text("the user's own file\n")
    (root / "user_dir" / "wild").mkdir()
    (root / "user_dir" / "wild" / "mine.txt").write_text("not FashionSynth\n")
    (root / "user_dir" / "summary.md").write_text("# the user's own summary\n")
    (root / "notes.txt").write_text("a file of the user's\n")
    (root / "readonly").mkdir()
    (root / "readonly" / "kept.txt").write_text("kept\n")
    return root


@dataclass
class Outcome:
    """What one case did: the finished process and the ground's files afterwards."""

    proc: subprocess.CompletedProcess[str]
    files_after: dict[str, str]


def _env(case: Case, places: dict[str, str]) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
        "WANDB_MODE": "disabled",
    }
    for key in ("FASHION_TRANSFER_DATA", "HYDRA_FULL_ERROR"):
        env.pop(key, None)
    for key, value in case.env.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value.format(**places)
    return env


def run_case(case: Case, master: Path, home: Path) -> Outcome:
    """Run one case in its own copy of the ground, from its own scratch folder."""
    ground, scratch = home / "ground", home / "scratch"
    shutil.copytree(master, ground)
    scratch.mkdir()
    places = {
        "ground": ground,
        "synth": ground / "synth",
        "studio": ground / "synth" / "studio",
        "wild": ground / "synth" / "wild",
        "sweep": ground / "sweep",
        "newer": ground / "newer",
        "user_dir": ground / "user_dir",
        "file": ground / "notes.txt",
        "readonly": ground / "readonly",
        "missing": ground / "missing",
        "scratch": scratch,
    }
    places = {k: str(v) for k, v in places.items()}
    (ground / "readonly").chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                f"fashion_transfer.{case.cli}",
                *(a.format(**places) for a in case.args),
            ],
            cwd=scratch,
            env=_env(case, places),
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        (ground / "readonly").chmod(stat.S_IRWXU)
    return Outcome(proc, _files(ground))


@pytest.fixture(scope="session")
def outcomes(
    request: pytest.FixtureRequest, ground_master: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Outcome]:
    """Every selected case, run concurrently (each is mostly a fresh interpreter's imports)."""
    selected = [
        item.callspec.params["case"]
        for item in request.session.items
        if "case" in getattr(getattr(item, "callspec", None), "params", {})
    ]
    cases = [c for c in selected if isinstance(c, Case) and not c.skip]
    base = tmp_path_factory.mktemp("cases")
    workers = max(2, min(8, os.cpu_count() or 2))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = pool.map(lambda c: run_case(c, ground_master, base / c.id), cases)
        return {c.id: outcome for c, outcome in zip(cases, done, strict=True)}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=c.id, marks=[pytest.mark.skipif(bool(c.skip), reason=c.skip)])
        for c in CASES
    ],
)
def test_bad_input_is_one_error_line_and_touches_nothing(
    case: Case, outcomes: dict[str, Outcome], ground_master: Path
) -> None:
    proc = outcomes[case.id].proc
    shown = (
        f"exit {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    )
    assert "Traceback" not in proc.stderr + proc.stdout, shown
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, shown
    assert errors[0].startswith("error: ") and case.says in errors[0], shown
    assert proc.returncode == case.code, shown
    if case.json_stdout:
        reported = json.loads(proc.stdout)
        assert reported == {"error": errors[0].removeprefix("error: "), "exit_code": case.code}
    assert outcomes[case.id].files_after == _files(ground_master), (
        "a file of the user's was changed, removed or added"
    )


def test_the_table_covers_every_command_and_ids_are_unique() -> None:
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.cli for c in CASES} == {"train", "analyze", "bench", "data.check", "synth"}
