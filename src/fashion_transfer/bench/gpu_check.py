"""The GPU check: everything worth measuring in a few minutes on a GPU, in one folder.

    python -m fashion_transfer.bench.gpu_check --out gpu_check [--dry-run] [key=value ...]

Steps, each a subprocess with its own time limit inside one overall budget (480 s, the GPU lease's
8 minutes; a step that would end past it is stopped and reported, and the next ones still run):

1. FashionSynth data (studio + wild) for the other steps;
2. the CUDA-only tests (tests/gpu: bf16 autocast, pinned prefetch, channels-last, resume after a
   SIGKILL on CUDA, and the augmentation's CUDA/CPU equality);
3. `bench --quick --device cuda` for resnet18 and for resnet50: model-only against training from
   the cache and against on-the-fly decoding (CPU threads, and nvjpeg on the GPU), at 64 and
   224 px;
4. a five-strategy sweep on FashionSynth with resnet50 at 224 px, a few hundred steps per stage:
   images/second of every stage and peak GPU memory of every job;
5. the sweep's analysis (report.html).


It ends with `gpu_check.md`/`gpu_check.json` (the measured figures, the 0.9 data-path goal and
the `experiment=paper` estimate with its arithmetic) and prints the summary. `--dry-run` runs the
same steps at tiny sizes on the CPU (timm's `test_resnet`), so the script is known to work before
a GPU is lent. `key=value` arguments go to the sweep (e.g. `backbone.pretrained=true
backbone.pretrained_file=PATH`; without them every backbone starts from random weights, which is
all a throughput check needs on a machine without internet).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from fashion_transfer.bench import gpu_estimate

REPO = Path(__file__).resolve().parents[3]
CUDA_TESTS = [
    "tests/gpu",
    "tests/training/test_batches.py::test_augment_draws_the_same_numbers_on_cuda_as_on_the_cpu",
]


@dataclass(frozen=True)
class Plan:
    """Sizes and limits of one check: the GPU one, or the dry run's tiny one on the CPU."""

    device: str
    studio: tuple[int, int]  # FashionSynth studio train, test images
    wild: int  # FashionSynth wild images (70/15/15 train/val/test)
    backbones: tuple[str, ...]  # benched at 64 and 224 px (224 only on CUDA)
    sweep_backbone: str
    resolution: int
    epochs: dict[str, int]  # budget.<domain>.epochs of the sweep
    batch: dict[str, int]  # budget.<domain>.batch_size of the sweep
    val_size: int  # studio images kept for validation
    limits: dict[str, float]  # seconds per step
    budget_s: float  # all steps together


GPU = Plan(
    device="cuda",
    studio=(3000, 1000),
    wild=1500,
    backbones=("resnet18", "resnet50"),
    sweep_backbone="resnet50",
    resolution=224,
    # About 200 steps per stage: 16 target steps per epoch (1,050 train images at 64), 39 studio
    # steps for the adapters (2,500 at 64), 19 for the baseline (2,500 at 128)
    epochs={"source": 10, "adapter_source": 5, "target": 13},
    batch={"source": 128, "adapter_source": 64, "target": 64},
    val_size=500,
    limits={
        "synth": 50,
        "tests": 80,
        "bench_resnet18": 70,
        "bench_resnet50": 90,
        "sweep": 140,
        "analysis": 40,
    },  # fmt: skip
    budget_s=480,
)
DRY = Plan(
    device="cpu",
    studio=(300, 100),
    wild=80,
    backbones=("test_resnet",),
    sweep_backbone="test_resnet",
    resolution=32,
    epochs={"source": 1, "adapter_source": 1, "target": 2},
    batch={"source": 32, "adapter_source": 32, "target": 16},
    val_size=50,
    limits={"synth": 120, "tests": 120, "bench_test_resnet": 600, "sweep": 600, "analysis": 300},
    budget_s=1800,
)


@dataclass
class Step:
    name: str
    command: list[str]
    status: str = "not run"  # ok / failed (rc N) / stopped at the limit / no time left
    seconds: float = 0.0
    log: str = ""
    facts: dict = field(default_factory=dict)


class Runner:
    """Runs steps as subprocesses, each in its own process group, inside the overall budget."""

    def __init__(self, out: Path, plan: Plan, env: dict[str, str]) -> None:
        self.out, self.plan, self.env = out, plan, env
        self.deadline = time.monotonic() + plan.budget_s
        self.steps: list[Step] = []

    def run(self, name: str, command: list[str], cwd: Path | None = None) -> Step:
        step = Step(name, command, log=f"logs/{name}.log")
        self.steps.append(step)
        limit = min(self.plan.limits[name], self.deadline - time.monotonic() - 5)
        if limit < 5:
            step.status = "no time left"
            return step
        _progress(f"{name} (limit {limit:.0f} s): {' '.join(command)}")
        (self.out / "logs").mkdir(exist_ok=True)
        start = time.monotonic()
        with open(self.out / step.log, "w") as log:
            proc = subprocess.Popen(
                command, cwd=cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
            try:
                rc = proc.wait(timeout=limit)
                step.status = "ok" if rc == 0 else f"failed (rc {rc})"
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the step's own group: it and its workers
                proc.wait()
                step.status = f"stopped at the {limit:.0f} s limit"
        step.seconds = time.monotonic() - start
        _progress(f"{name}: {step.status} after {step.seconds:.0f} s")
        return step


def _progress(message: str) -> None:
    print(f"[gpu_check {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def sweep_overrides(plan: Plan, synth: Path, out: Path, extra: list[str]) -> list[str]:
    """The five strategies on FashionSynth at the plan's size (the demo preset, resized)."""
    budget = [
        f"budget.{d}.{k}={v}"
        for d in ("source", "adapter_source", "target")
        for k, v in (("epochs", plan.epochs[d]), ("batch_size", plan.batch[d]))
    ]
    return [
        "experiment=demo",
        "strategy=glob(*)",
        "seed=0",
        f"device={plan.device}",
        "logger=none",
        "model@backbone=resnet",
        f"backbone.name={plan.sweep_backbone}",
        f"backbone.resolution={plan.resolution}",
        f"target.resolution={plan.resolution}",
        f"backbone.channels_last={str(plan.device == 'cuda').lower()}",
        "backbone.pretrained=false",  # throughput only; extra overrides may give weights
        "source.train_fraction=1.0",
        f"source.val_size={plan.val_size}",
        *budget,
        f"paths.synth_dir={synth}",
        f"paths.cache_dir={out / 'cache'}",
        *extra,
        f"hydra.sweep.dir={out / 'sweep'}",
    ]


def cuda_test_counts(junit: Path) -> dict[str, int]:
    """passed / failed / skipped from pytest's JUnit XML."""
    try:
        suite = ET.parse(junit).getroot()
    except (OSError, ET.ParseError):
        return {}
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    total = int(suite.get("tests", 0))
    failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    skipped = int(suite.get("skipped", 0))
    return {"passed": total - failed - skipped, "failed": failed, "skipped": skipped}


def run_check(out: Path, plan: Plan, extra: list[str], dry_run: bool) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "WANDB_MODE": "disabled", "PYTHONUNBUFFERED": "1"}
    runner = Runner(out, plan, env)
    synth = out / "synth"
    studio_train, studio_test = plan.studio
    runner.run(
        "synth",
        _python("-m", "fashion_transfer.synth", "--out", str(synth),
                "--studio-train", str(studio_train), "--studio-test", str(studio_test),
                "--wild", str(plan.wild)),
    )  # fmt: skip
    junit = out / "cuda_tests.xml"
    tests = [str(REPO / t) for t in CUDA_TESTS]
    step = runner.run(
        "tests",
        _python("-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "slow or not slow",
                f"--junitxml={junit}", *tests),
        cwd=REPO,
    )  # fmt: skip
    step.facts = cuda_test_counts(junit)
    source = ["dataset@source=synth_studio", f"paths.synth_dir={synth}"]
    source.append(f"source.val_size={plan.val_size}")
    benches = {}
    for name in plan.backbones:
        folder = out / f"bench_{name}"
        runner.run(
            f"bench_{name}",
            _python("-m", "fashion_transfer.bench", "--quick", "--no-time-to-accuracy",
                    "--device", plan.device, "--out", str(folder), *source,
                    f"backbone.name={name}"),
        )  # fmt: skip
        if (folder / "bench.json").is_file():
            benches[name] = json.loads((folder / "bench.json").read_text())
    runner.run("sweep", _python("-m", "fashion_transfer.train", "-m",
                                *sweep_overrides(plan, synth, out, extra)))  # fmt: skip
    runner.run(
        "analysis",
        _python("-m", "fashion_transfer.analyze", str(out / "sweep"), "--out", str(out / "report")),
    )
    return gpu_estimate.summarise(
        steps=[s.__dict__ for s in runner.steps],
        benches=benches,
        sweep=out / "sweep",
        plan_name="dry run (CPU, tiny sizes: not GPU figures)" if dry_run else "GPU",
        sweep_backbone=plan.sweep_backbone,
        resolution=plan.resolution,
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m fashion_transfer.bench.gpu_check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=Path, default=Path("gpu_check"), help="the one output folder")
    p.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU, end to end")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="extra overrides of the sweep")
    args = p.parse_args(argv)
    bad = [o for o in args.overrides if "=" not in o]
    if bad:
        p.error(f"overrides must be key=value, got {bad[0]!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.dry_run:
        import torch

        if not torch.cuda.is_available():
            print(
                "error: no CUDA device here; the GPU check needs one (--dry-run runs it on the "
                "CPU at tiny sizes)",
                file=sys.stderr,
            )
            return 2
    out = args.out.resolve()
    if out.exists() and any(out.iterdir()):
        print(f"error: {args.out} is not empty; give the check a new --out folder", file=sys.stderr)
        return 2
    result = run_check(out, DRY if args.dry_run else GPU, args.overrides, args.dry_run)
    gpu_estimate.write(result, out)
    print(gpu_estimate.markdown(result))
    return 0 if all(s["status"] == "ok" for s in result["steps"]) else 1


if __name__ == "__main__":
    sys.exit(main())
