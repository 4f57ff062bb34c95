"""Hand-built sweeps that follow the metrics.json schema in README.md, so the analysis is tested before training exists.

`make_sweep` writes a Hydra-multirun-shaped folder: `multirun.yaml` and one job folder per run
with `.hydra/{config,overrides,hydra}.yaml`, `metrics.json` (every schema key present; figures
that do not apply are null) and, for a few runs, `samples.npz`. It also adds one failed run and
one job folder that died before writing metrics.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import matplotlib
import numpy as np
import pytest
import yaml

matplotlib.use("Agg")

STRATEGIES = [
    "fmnist_baseline",
    "deepfashion_scratch",
    "deepfashion_imagenet",
    "adapter_scratch",
    "adapter_pretrained",
]
SHARED = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Shirt"]
SOURCE_CLASSES = [*SHARED[:4], "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
TARGET_CLASSES = ["Tee", "Jeans", "Sweater", "Dress", "Jacket", "Blouse", "Skirt", "Shorts"]
FAILURE = "non-finite loss (nan) at stage target epoch 2 step 14"

# Per strategy: (source_test_acc, target_top1, shared diagonal per class out of 100, reverse_acc)
BASE = {
    "fmnist_baseline": (0.91, None, 30, None),
    "deepfashion_scratch": (None, 0.42, 55, 0.35),
    "deepfashion_imagenet": (None, 0.61, 72, 0.41),
    "adapter_scratch": (0.90, 0.47, 60, 0.52),
    "adapter_pretrained": (0.92, 0.66, 78, 0.58),
}
STAGES = {
    "fmnist_baseline": [("source", 3, 0)],
    "deepfashion_scratch": [("target", 3, 0)],
    "deepfashion_imagenet": [("target", 3, 0)],
    "adapter_scratch": [("source", 2, 0), ("target", 3, 1)],
    "adapter_pretrained": [("source", 2, 0), ("target", 3, 1)],
}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def shared_confusion(diag: int, seed: int) -> list[list[int]]:
    """6x6 counts, 100 images per true class; `diag + seed - class` correct, the rest spread."""
    seed = seed * (1 + diag % 3)  # strategies differ in their spread over seeds
    rows = []
    for i in range(6):
        correct = max(0, min(100, diag + seed - i))
        rest = [0] * 6
        others = [j for j in range(6) if j != i]
        for k in range(100 - correct):
            rest[others[(k + i) % 5]] += 1
        rest[i] = correct
        rows.append(rest)
    return rows


def history(strategy: str, seed: int, fraction: float) -> list[dict[str, Any]]:
    out, global_epoch = [], 0
    for stage, epochs, unfreeze_after in STAGES[strategy]:
        for epoch in range(1, epochs + 1):
            global_epoch += 1
            acc = 0.3 + 0.1 * global_epoch * fraction + 0.01 * seed
            out.append(
                {
                    "stage": stage,
                    "epoch": epoch,
                    "global_epoch": global_epoch,
                    "train_loss": 2.0 / global_epoch,
                    "train_acc": min(acc + 0.05, 1.0),
                    "val_loss": 2.2 / global_epoch,
                    "val_acc": min(acc, 1.0),
                    "lr": 0.001,
                    "seconds": 1.5,
                    "frozen": epoch <= unfreeze_after,
                }
            )
    return out


def make_metrics(
    strategy: str,
    seed: int,
    fraction: float = 1.0,
    *,
    fmnist_view: bool = False,
    status: str = "completed",
) -> dict[str, Any]:
    """A metrics.json dict with every key of the README's schema (schema version 1)."""
    src, top1, diag, rev = BASE[strategy]
    if fmnist_view:
        src, top1, diag, rev = None, None, 68, None
    scale = 1.0 - 0.3 * (1.0 - fraction)
    spread = 1 + STRATEGIES.index(strategy) / 2  # strategies differ in their spread over seeds
    shift = (0.01 * seed - 0.004 * seed * seed) * spread
    has_source = (
        strategy in ("fmnist_baseline", "adapter_scratch", "adapter_pretrained") and not fmnist_view
    )
    has_target = strategy != "fmnist_baseline"
    conf = shared_confusion(round(diag * scale), seed)
    shared_acc = sum(conf[i][i] for i in range(6)) / 600
    top1 = None if top1 is None else top1 * scale + shift
    classes = SOURCE_CLASSES if not has_target and not fmnist_view else TARGET_CLASSES
    if fmnist_view:
        classes = SHARED
    k = len(classes)
    hist = history(strategy, seed, fraction)
    stages = {}
    for name, epochs, unfreeze_after in STAGES[strategy]:
        stage_hist = [h for h in hist if h["stage"] == name]
        best = max(stage_hist, key=lambda h: h["val_acc"])
        stages[name] = {
            "dataset": "synth_studio" if name == "source" else "synth_wild",
            "epochs": epochs,
            "best_epoch": best["epoch"],
            "best_val_acc": best["val_acc"],
            "unfreeze_after": unfreeze_after,
            "seconds": 1.5 * epochs,
        }
    pretrained = strategy in ("deepfashion_imagenet", "adapter_pretrained")
    metrics = {
        "schema_version": 1,
        "status": status,
        "failure_reason": FAILURE if status == "failed" else None,
        "strategy": strategy,
        "seed": seed,
        "run_name": f"{strategy}-s{seed}",
        "group": "fixture-sweep",
        "run_dir": f"/runs/{strategy}/{seed}",
        "git_commit": "0123456789abcdef0123456789abcdef01234567",
        "synthetic": True,
        "source_dataset": "synth_wild" if fmnist_view else ("synth_studio" if has_source else None),
        "target_dataset": "synth_wild",
        "source_view": "fmnist" if fmnist_view else None,
        "target_view": "fmnist" if strategy == "fmnist_baseline" else "rgb",
        "train_fraction": fraction,
        "model": {"fmnist_baseline": "simple_cnn"}.get(
            strategy, "adapter" if "adapter" in strategy else "resnet"
        ),
        "backbone": None
        if strategy == "fmnist_baseline"
        else ("tf_efficientnet_lite0" if pretrained else "resnet18"),
        "pretrained": pretrained,
        "params": 11_200_000 + 1000 * STRATEGIES.index(strategy),
        "device": "cpu",
        "wall_time_s": _round(100.0 + 10 * STRATEGIES.index(strategy) + 3.5 * seed + 50 * fraction),
        "best_epoch": max(h["epoch"] for h in hist if h["stage"] == STAGES[strategy][-1][0]),
        "val_acc": _round(hist[-1]["val_acc"]),
        "test_acc": _round(shared_acc if fmnist_view else (src if not has_target else top1)),
        "source_test_acc": _round(None if src is None else src + shift),
        "target_top1": _round(top1),
        "target_top3": _round(None if top1 is None else min(top1 + 0.15, 1.0)),
        "target_top5": _round(None if top1 is None else min(top1 + 0.22, 1.0)),
        "target_macro_acc": _round(None if top1 is None else top1 - 0.03),
        "shared_acc": _round(shared_acc),
        "shared_macro_acc": _round(shared_acc - 0.01),
        "shared_n": 600,
        "shared_mode": "mapped_predictions"
        if has_target or fmnist_view
        else "zero_shot_fmnist_view",
        "reverse_acc": _round(None if rev is None else rev + shift),
        "reverse_n": None if rev is None else 6000,
        "classes": classes,
        "per_class_acc": {c: 0.5 for c in classes},
        "confusion_matrix": [[10 if i == j else 1 for j in range(k)] for i in range(k)],
        "shared_classes": SHARED,
        "shared_confusion": conf,
        "history": hist,
        "stages": stages,
        "data": {"synth_wild": {"bad_images": 0, "empty_categories": []}},
    }
    final = STAGES[strategy][-1][0]
    for h in (
        hist
    ):  # the final stage's test accuracy per epoch: epoch 2 tests best, the last validates best
        if h["stage"] == final:
            h["test_acc"] = round(h["val_acc"] - 0.02 + 0.05 * (h["epoch"] == 2), 6)
    for side, acc in (("source", metrics["source_test_acc"]), ("target", metrics["target_top1"])):
        metrics[f"{side}_ece"] = None if acc is None else round(0.05 + 0.01 * seed, 6)
    metrics["shared_ece"] = round((0.3 if strategy == "fmnist_baseline" else 0.1) + 0.01 * seed, 6)
    if status != "completed":
        for key in (
            "source_test_acc",
            "target_top1",
            "target_top3",
            "target_top5",
            "target_macro_acc",
            "shared_acc",
            "shared_macro_acc",
            "reverse_acc",
            "test_acc",
        ):
            metrics[key] = None
        metrics["history"] = hist[:2]
    return metrics


def write_samples(path: Path, metrics: dict[str, Any], rng: np.random.Generator) -> None:
    """samples.npz as the README describes it, with a deliberate mix of right and wrong predictions."""
    n = 8
    arrays: dict[str, Any] = {}
    if metrics["source_test_acc"] is not None:
        labels = rng.integers(0, 10, n)
        arrays.update(
            source_images=rng.integers(0, 256, (n, 1, 28, 28), dtype=np.uint8),
            source_labels=labels,
            source_preds=np.where(np.arange(n) % 3 == 0, (labels + 1) % 10, labels),
        )
    if metrics["target_top1"] is not None:
        labels = rng.integers(0, len(TARGET_CLASSES), n)
        arrays.update(
            target_images=rng.integers(0, 256, (n, 3, 40, 32), dtype=np.uint8),
            target_labels=labels,
            target_preds=np.where(
                np.arange(n) % 2 == 0, labels, (labels + 1) % len(TARGET_CLASSES)
            ),
        )
    labels = rng.integers(0, 6, n)
    arrays.update(
        fmnist_view_images=rng.integers(0, 256, (n, 1, 28, 28), dtype=np.uint8),
        fmnist_view_labels=labels,
    )
    if metrics["strategy"] == "fmnist_baseline":
        arrays["fmnist_view_preds"] = np.where(np.arange(n) % 4 == 0, labels, (labels + 2) % 6)
    meta = {
        "source_classes": SOURCE_CLASSES,
        "target_classes": TARGET_CLASSES,
        "shared_classes": SHARED,
    }
    arrays["samples_meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


def write_predictions(path: Path, metrics: dict[str, Any], rng: np.random.Generator) -> None:
    """predictions.npz as training writes it; the shared set agrees with `shared_confusion`."""
    conf = np.asarray(metrics["shared_confusion"])
    labels = np.repeat(np.arange(6), conf.sum(1))
    correct = np.concatenate([np.arange(n) < conf[i, i] for i, n in enumerate(conf.sum(1))])
    arrays: dict[str, np.ndarray] = {}
    sets = {"shared": (labels, correct)}
    for side, acc, k in (("source", "source_test_acc", 10), ("target", "target_top1", 8)):
        if metrics[acc] is not None:
            side_labels = np.arange(200) % k
            sets[side] = (side_labels, np.arange(200) < round(200 * metrics[acc]))
    for name, (set_labels, set_correct) in sets.items():
        arrays[f"{name}_labels"] = set_labels.astype(np.int16)
        arrays[f"{name}_correct"] = set_correct.astype(np.uint8)
        noise = rng.uniform(0.0, 0.3, len(set_labels))
        arrays[f"{name}_confidence"] = (0.45 + 0.25 * set_correct + noise).astype(np.float16)
    np.savez_compressed(path, **arrays)


def resolved_config(
    strategy: str, seed: int, fraction: float = 1.0, fmnist_view: bool = False
) -> dict[str, Any]:
    """What training leaves in `.hydra/config.yaml` and W&B's config: the composed config.

    Both data slots are always configured; the strategy's stages say which ones it trains on.
    """
    pretrained = strategy in ("deepfashion_imagenet", "adapter_pretrained")
    stages = {
        name: {"data": name, "epochs": f"${{budget.{name}.epochs}}", "unfreeze_after": unfreeze}
        for name, _, unfreeze in STAGES[strategy]
    }
    return {
        "name": f"{strategy}-s{seed}",
        "seed": seed,
        "strategy": {"name": strategy, "stages": stages},
        "source": {
            "_target_": "fashion_transfer.data.fashion_mnist.load_fashion_mnist",
            "name": "synth_wild" if fmnist_view else "synth_studio",
            "view": "fmnist" if fmnist_view else None,
            "synthetic": True,
            "train_fraction": fraction if strategy == "fmnist_baseline" else 1.0,
        },
        "target": {
            "_target_": "fashion_transfer.data.deepfashion.load_deepfashion",
            "name": "synth_wild",
            "view": "rgb",
            "synthetic": True,
            "train_fraction": fraction,
        },
        "model": {
            "_target_": "fashion_transfer.models.backbone.TimmClassifier",
            "name": "tf_efficientnet_lite0" if pretrained else "resnet18",
            "backbone_name": "tf_efficientnet_lite0" if pretrained else "resnet18",
            "pretrained": pretrained,
        }
        if strategy != "fmnist_baseline"
        else {"_target_": "fashion_transfer.models.simple_cnn.SimpleFashionCNN", "resolution": 28},
        "paths": {"output_dir": "${hydra:runtime.output_dir}"},
        "budget": {"source": {"epochs": 2}, "target": {"epochs": 3}},
    }


def write_job(
    job: Path,
    strategy: str,
    seed: int,
    fraction: float = 1.0,
    *,
    fmnist_view: bool = False,
    status: str | None = "completed",
    samples: bool = False,
) -> dict[str, Any] | None:
    """One Hydra job folder; status None writes no metrics.json (a job killed at start)."""
    (job / ".hydra").mkdir(parents=True)
    config = resolved_config(strategy, seed, fraction, fmnist_view)
    (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    overrides = [f"strategy={strategy}", f"seed={seed}"]
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (job / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {"mode": "MULTIRUN"}}))
    if status is None:
        return None
    metrics = make_metrics(strategy, seed, fraction, fmnist_view=fmnist_view, status=status)
    (job / "metrics.json").write_text(json.dumps(metrics, indent=1))
    if samples:
        write_samples(job / "samples.npz", metrics, np.random.default_rng(seed))
    if status == "completed":
        write_predictions(job / "predictions.npz", metrics, np.random.default_rng(seed))
    return metrics


@dataclass
class Sweep:
    """What a fixture sweep holds: its folder and the metrics written per job folder."""

    root: Path
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def make_sweep(
    root: Path,
    *,
    seeds: tuple[int, ...] = (0, 1, 2),
    fractions: tuple[float, ...] = (1.0,),
    fmnist_view: bool = False,
    broken: bool = True,
    samples: bool = True,
) -> Sweep:
    """5 strategies x seeds (x fractions), plus optional fmnist-view runs and two broken jobs."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "multirun.yaml").write_text(
        yaml.safe_dump(
            {
                "hydra": {"overrides": {"task": ["experiment=smoke", "strategy=glob(*)"]}},
                "seed": 0,
                "experiment": "smoke",
            }
        )
    )
    sweep = Sweep(root)
    jobs = [(s, seed, f, False) for f in fractions for s in STRATEGIES for seed in seeds]
    if fmnist_view:
        jobs += [("fmnist_baseline", seed, 1.0, True) for seed in seeds]
    for num, (strategy, seed, fraction, view) in enumerate(jobs):
        job = root / str(num)
        with_samples = samples and seed == seeds[0] and fraction == max(fractions) and not view
        sweep.metrics[str(job)] = write_job(
            job, strategy, seed, fraction, fmnist_view=view, samples=with_samples
        )
    if broken:
        num = len(jobs)
        write_job(root / str(num), "adapter_scratch", 99, max(fractions), status="failed")
        sweep.failed[str(root / str(num))] = FAILURE
        write_job(root / str(num + 1), "deepfashion_scratch", 98, max(fractions), status=None)
        sweep.failed[str(root / str(num + 1))] = "no metrics.json (killed before the first epoch?)"
    return sweep


@pytest.fixture
def sweep(tmp_path: Path) -> Sweep:
    """The standard fixture sweep: 5 strategies x 3 seeds, one failed run, one killed job."""
    return make_sweep(tmp_path / "sweep")


def run_analysis(sweep_root: Path) -> Path:
    """Run the CLI in-process on a sweep; return the analysis folder."""
    from fashion_transfer.analyze import main

    assert main([str(sweep_root)]) == 0
    return sweep_root / "analysis"


@pytest.fixture(scope="session")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Sweep, Path]:
    """The standard fixture sweep, analysed once per session (drawing figures costs seconds)."""
    sweep = make_sweep(tmp_path_factory.mktemp("analysed") / "sweep")
    return sweep, run_analysis(sweep.root)


@pytest.fixture(scope="session")
def analysed_full(tmp_path_factory: pytest.TempPathFactory) -> tuple[Sweep, Path]:
    """A sweep that varies train_fraction and has the in-domain fmnist-view run: all six figures."""
    root = tmp_path_factory.mktemp("analysed_full") / "sweep"
    sweep = make_sweep(root, seeds=(0, 1), fractions=(0.25, 1.0), fmnist_view=True, broken=False)
    return sweep, run_analysis(sweep.root)


@pytest.fixture(scope="session")
def kit() -> SimpleNamespace:
    """The fixture builders, handed to tests as a fixture so no test imports `conftest` by name."""
    return SimpleNamespace(
        make_sweep=make_sweep,
        make_metrics=make_metrics,
        write_job=write_job,
        resolved_config=resolved_config,
        strategies=STRATEGIES,
        failure=FAILURE,
    )
