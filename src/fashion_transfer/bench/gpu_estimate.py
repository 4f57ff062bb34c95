"""The GPU check's write-up: what each step measured, the data-path goal, and the `experiment=paper`
study's duration estimated from the measured images/second, with the arithmetic shown.

No torch: it reads bench.json files and the sweep's metrics.json and `.hydra/config.yaml`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from fashion_transfer import atomic

DATA_PATH_GOAL = 0.9  # training from the cache / model-only, resnet50 at 224 px
# The study `experiment=paper` runs (conf/experiment/paper.yaml; a test checks these against it):
PAPER_SEEDS = 3
PAPER_EPOCHS = {"source": 15, "adapter_source": 5, "target": 15}
FMNIST = {"train": 60_000 - 5_000, "val": 5_000}  # Fashion-MNIST train less `val_size`
DEEPFASHION = {"train": 209_222, "val": 40_000, "test": 40_000}  # the official partition
# strategy -> its stages as (stage name in metrics.json, paper budget, data sizes)
PAPER_STAGES = {
    "fmnist_baseline": [("source", "source", FMNIST)],
    "deepfashion_scratch": [("target", "target", DEEPFASHION)],
    "deepfashion_imagenet": [("target", "target", DEEPFASHION)],
    "adapter_scratch": [("source", "adapter_source", FMNIST), ("target", "target", DEEPFASHION)],
    "adapter_pretrained": [("source", "adapter_source", FMNIST), ("target", "target", DEEPFASHION)],
}


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None


def stage_rates(job: Path) -> dict[str, Any] | None:
    """A job's images/second per stage, peak GPU memory and wall time.

    Training: images the epochs trained over their training seconds (history). Validation: the
    validation images over the rest of the stage's seconds, which also hold the checkpoint writes.
    """
    try:
        record = json.loads((job / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    config = _read_yaml(job / ".hydra" / "config.yaml") or {}
    stages_cfg = (config.get("strategy") or {}).get("stages") or {}
    cap = (config.get("train") or {}).get("max_steps_per_epoch")
    stages = {}
    for name, summary in (record.get("stages") or {}).items():
        slot = (stages_cfg.get(name) or {}).get("data", name)
        splits = ((record.get("data") or {}).get(slot) or {}).get("splits") or {}
        epochs = [h for h in record.get("history") or [] if h.get("stage") == name]
        batch = int(summary.get("batch_size") or 0)
        if not epochs or not batch or not splits.get("train"):
            continue
        steps = max(1, splits["train"] // batch)
        steps = min(steps, cap) if cap else steps
        train_s = sum(h["seconds"] for h in epochs)
        val_s = max(float(summary.get("seconds") or 0.0) - train_s, 1e-9)
        stages[name] = {
            "epochs": len(epochs),
            "steps_per_epoch": steps,
            "batch_size": batch,
            "train_images_per_s": len(epochs) * steps * batch / train_s,
            "val_images_per_s": len(epochs) * splits.get("val", 0) / val_s,
        }
    return {
        "strategy": record.get("strategy"),
        "status": record.get("status"),
        "failure_reason": record.get("failure_reason"),
        "device": record.get("device"),
        "wall_time_s": record.get("wall_time_s"),
        "peak_gpu_memory_mb": record.get("peak_gpu_memory_mb"),
        "stages": stages,
    }


def paper_estimate(jobs: list[dict]) -> dict[str, Any]:
    """Seconds of the paper study on one GPU at the measured rates, and the lines that add up."""
    lines, per_strategy = [], {}
    by_strategy = {j["strategy"]: j for j in jobs if j and j["status"] == "completed"}
    for strategy, stages in PAPER_STAGES.items():
        job = by_strategy.get(strategy)
        if job is None or any(name not in job["stages"] for name, _, _ in stages):
            lines.append(f"{strategy}: not measured (its sweep job did not complete)")
            continue
        parts, total = [], 0.0
        for name, budget, sizes in stages:
            rate = job["stages"][name]
            epoch_s = sizes["train"] / rate["train_images_per_s"]
            epoch_s += sizes["val"] / rate["val_images_per_s"] if rate["val_images_per_s"] else 0
            seconds = PAPER_EPOCHS[budget] * epoch_s
            total += seconds
            parts.append(
                f"{name} {PAPER_EPOCHS[budget]} x ({sizes['train']:,} / "
                f"{rate['train_images_per_s']:,.0f} + {sizes['val']:,} / "
                f"{rate['val_images_per_s']:,.0f} img/s) = {seconds:,.0f} s"
            )
        per_strategy[strategy] = total
        lines.append(f"{strategy}: " + "; ".join(parts) + f"; {total:,.0f} s per seed")
    out: dict[str, Any] = {"per_strategy_s": per_strategy, "lines": lines, "total_s": None}
    if len(per_strategy) == len(PAPER_STAGES):
        one_seed = sum(per_strategy.values())
        out["total_s"] = PAPER_SEEDS * one_seed
        lines.append(
            f"5 strategies x {PAPER_SEEDS} seeds: {PAPER_SEEDS} x {one_seed:,.0f} s = "
            f"{out['total_s']:,.0f} s = {out['total_s'] / 3600:.1f} h on one GPU, one job at a "
            "time (training and validation; test and cross-domain scoring, one pass each, and "
            "start-up are not counted)"
        )
    return out


def _goal(benches: dict[str, dict]) -> dict[str, Any]:
    ratio = (benches.get("resnet50") or {}).get("ratios", {}).get("df224_cache_vs_model")
    return {
        "goal": f"training from the cache >= {DATA_PATH_GOAL} of model-only, resnet50 at 224 px",
        "value": ratio,
        "met": None if ratio is None else ratio >= DATA_PATH_GOAL,
    }


def summarise(
    steps: list[dict],
    benches: dict,
    sweep: Path,
    plan_name: str,
    sweep_backbone: str,
    resolution: int,
) -> dict:
    jobs = [stage_rates(p) for p in sorted(sweep.glob("*")) if (p / "metrics.json").is_file()]
    jobs = [j for j in jobs if j]
    bench_rows = {}
    for name, result in benches.items():
        ratios = result.get("ratios", {})
        bench_rows[name] = {
            "device": result.get("machine", {}).get("device_name"),
            **{k: v for k, v in ratios.items() if k.startswith("df")},
        }
    return {
        "plan": plan_name,
        "sweep": {"backbone": sweep_backbone, "resolution": resolution, "jobs": jobs},
        "steps": steps,
        "bench": bench_rows,
        "benches": benches,
        "data_path_goal": _goal(benches),
        "paper_estimate": paper_estimate(jobs),
    }


def markdown(result: dict) -> str:
    lines = [
        f"# GPU check: {result['plan']}",
        "",
        "| step | status | seconds | facts |",
        "|---|---|---:|---|",
    ]
    for s in result["steps"]:
        facts = ", ".join(f"{k} {v}" for k, v in s["facts"].items())
        lines.append(f"| {s['name']} | {s['status']} | {s['seconds']:.0f} | {facts} |")
    lines += [
        "",
        "## Data paths (bench --quick): ratio to model-only (medians of paired rounds)",
        "",
    ]
    for name, row in result["bench"].items():
        ratios = ", ".join(f"{k} {v:.2f}" for k, v in row.items() if isinstance(v, float))
        lines.append(f"- {name} on {row['device']}: {ratios}")
    goal = result["data_path_goal"]
    verdict = (
        "not measured"
        if goal["value"] is None
        else f"{goal['value']:.2f}: " + ("met" if goal["met"] else "NOT met")
    )
    lines += ["", f"Goal: {goal['goal']}: {verdict}", ""]
    sweep = result["sweep"]
    lines += [
        f"## Five-strategy sweep on FashionSynth (SYNTHETIC), {sweep['backbone']} at "
        f"{sweep['resolution']} px",
        "",
        "| strategy | status | stage: train img/s (validation img/s) | peak GPU MB | wall s |",
        "|---|---|---|---:|---:|",
    ]
    for job in sweep["jobs"]:
        rates = "; ".join(
            f"{n}: {r['train_images_per_s']:,.0f} ({r['val_images_per_s']:,.0f})"
            for n, r in job["stages"].items()
        )
        peak = job["peak_gpu_memory_mb"]
        lines.append(
            f"| {job['strategy']} | {job['status']} | {rates} | "
            f"{'-' if peak is None else f'{peak:,.0f}'} | {job['wall_time_s'] or 0:.0f} |"
        )
    lines += [
        "",
        "Training img/s: the epochs' training images over their training seconds. Validation "
        "img/s: validation images over the rest of the stage's seconds, which also hold the "
        "per-epoch checkpoint writes (so it errs low, and the estimate below long).",
        "",
        "## experiment=paper estimated from these rates",
        "",
    ]
    lines += [f"- {line}" for line in result["paper_estimate"]["lines"]]
    return "\n".join(lines) + "\n"


def write(result: dict, out: Path) -> None:
    """gpu_check.json/.md, and bench.json/.md gathering each backbone's bench in the folder."""
    atomic.write_text(out / "gpu_check.json", json.dumps(result, indent=2))
    atomic.write_text(out / "gpu_check.md", markdown(result))
    atomic.write_text(out / "bench.json", json.dumps(result["benches"], indent=2))
    parts = [
        f"# bench: {name}\n\n" + (out / f"bench_{name}" / "bench.md").read_text()
        for name in result["benches"]
        if (out / f"bench_{name}" / "bench.md").is_file()
    ]
    atomic.write_text(out / "bench.md", "\n".join(parts) or "no bench completed\n")
