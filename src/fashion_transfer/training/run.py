"""One job: the strategy's stages in order, then the evaluation that DESIGN.md asks for."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from fashion_transfer.data.base import Domain
from fashion_transfer.errors import DataError, TrainingFailed, UserError, in_slot
from fashion_transfer.training.checkpoint import load_checkpoint
from fashion_transfer.training.evaluation import samples_of, test_report
from fashion_transfer.training.metrics import per_image
from fashion_transfer.training.predictions import write_predictions
from fashion_transfer.training.resume import keep_hydra_config, prepare_run_dir
from fashion_transfer.training.run_lock import claim, hold
from fashion_transfer.training.stages import RunContext, epoch_seed, run_stage
from fashion_transfer.tuning.space import applies, draw_trial
from fashion_transfer.utils import amp_dtype, build, git_commit, pick_device, seed_everything

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1


def _group(cfg: DictConfig, name: str) -> str:
    """The W&B group: explicit `group=`, else the multirun sweep's folder name, else the run name."""
    if cfg.get("group"):
        return str(cfg.group)
    try:
        hc = HydraConfig.get()
        if hc.mode == RunMode.MULTIRUN:
            return Path(hc.sweep.dir).name
    except ValueError:
        pass
    return name


def _dataset_name(cfg: DictConfig, slot: str) -> str | None:
    return cfg[slot].get("name") if slot in cfg else None


def _fmnist_background(cfg: DictConfig, slot: str) -> str | None:
    """The background of the slot's fmnist view: where it trains on it or is scored zero-shot."""
    data = cfg.get(slot)
    if data is None or "fmnist_background" not in data:
        return None
    zero_shot = slot == "target" and list(cfg.strategy.stages.values())[-1].data == "source"
    return data.fmnist_background if zero_shot or data.get("view") == "fmnist" else None


def _tune_record(cfg: DictConfig) -> dict | None:
    """The trial of a tuning study (experiment=tune): index, trial seed, the hyperparameters this
    strategy has and their search space, so the analysis selects and flags edges from the run."""
    if OmegaConf.select(cfg, "tune.space") is None:
        return None
    space = OmegaConf.to_container(cfg.tune.space, resolve=True)
    name = cfg.strategy.name
    return {
        "seed": int(cfg.tune.seed),
        "trial": int(cfg.tune.trial),
        "hparams": draw_trial(space, cfg.tune.seed, cfg.tune.trial, name),
        "space": {k: v for k, v in space.items() if applies(v, name)},
    }


def _new_record(cfg: DictConfig, run_dir: Path, group: str) -> dict:
    stages = cfg.strategy.stages
    slots = [s.data for s in stages.values()]
    return {
        "schema_version": SCHEMA_VERSION,
        "status": "running",
        "failure_reason": None,
        "exit_code": None,
        "strategy": cfg.strategy.name,
        "seed": int(cfg.seed),
        "run_name": cfg.name,
        "group": group,
        "run_dir": str(run_dir),
        "git_commit": git_commit(),
        "synthetic": any(bool(cfg[s].get("synthetic", False)) for s in set(slots)),
        # Both slots are named even when only one trains: the other is scored (zero-shot or reverse).
        "source_dataset": _dataset_name(cfg, "source"),
        "target_dataset": _dataset_name(cfg, "target"),
        "source_view": cfg.source.get("view") if "source" in cfg else None,
        "target_view": cfg.target.get("view") if "target" in cfg else None,
        # Which Fashion-MNIST view (data.fmnist_view) the in-domain run trained on and the
        # zero-shot score used: the gap decomposition says so under each bar.
        "source_fmnist_background": _fmnist_background(cfg, "source"),
        "target_fmnist_background": _fmnist_background(cfg, "target"),
        "train_fraction": float(cfg[slots[-1]].get("train_fraction", 1.0)),
        "model": None,  # filled in once the model is built
        "backbone": None,
        "pretrained": bool(
            OmegaConf.select(cfg, "model.pretrained", default=False)
            or OmegaConf.select(cfg, "model.backbone.pretrained", default=False)
        ),
        "input_adapter": OmegaConf.select(cfg, "model.input_adapter", default=None),
        "tune": _tune_record(cfg),  # experiment=tune: this trial's hyperparameters and space
        "params": None,
        "device": None,
        "wall_time_s": 0.0,
        "peak_gpu_memory_mb": None,
        "best_epoch": None,
        "val_acc": None,
        "test_acc": None,
        "source_test_acc": None,
        "target_top1": None,
        "target_top3": None,
        "target_top5": None,
        "target_macro_acc": None,
        "shared_acc": None,
        "shared_macro_acc": None,
        "shared_n": None,
        "shared_mode": None,
        "source_ece": None,
        "target_ece": None,
        "shared_ece": None,
        "reverse_acc": None,
        "reverse_n": None,
        "classes": None,
        "per_class_acc": None,
        "confusion_matrix": None,
        "shared_classes": None,
        "shared_confusion": None,
        "zero_shot_by_background": None,  # {background: {acc, macro, n, view statistics}}
        "history": [],
        "stages": {},
        "data": {},
    }


def _load_domain(cfg: DictConfig, slot: str) -> Domain:
    try:
        return build(cfg[slot])
    except DataError as exc:
        raise DataError(f"{slot} ({cfg[slot].get('name', slot)}): {in_slot(exc, slot)}") from exc


def _one_line(text: str) -> str:
    """metrics.json's failure_reason is one line, whatever the exception's message holds."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _headline(record: dict) -> dict:
    keys = (
        "val_acc",
        "test_acc",
        "source_test_acc",
        "target_top1",
        "target_top3",
        "target_top5",
        "target_macro_acc",
        "shared_acc",
        "reverse_acc",
        "source_ece",
        "target_ece",
        "shared_ece",
        "best_epoch",
    )
    return {k: record.get(k) for k in keys}


def _after_stage(ctx: RunContext, name: str, slot: str, model, domain: Domain, final: bool) -> None:
    """Score the stage's own test split with its selected weights (source accuracy is read here)."""
    reuse = ctx.best_test_logits if final else None  # None after a resume past the best epoch
    rep, logits = test_report(model, domain, ctx.device, ctx.cfg.train.eval_batch_size, reuse)
    rec = ctx.record
    rec["stages"][name]["test_acc"] = rep["acc"]
    if slot == "source":
        rec["source_test_acc"] = rep["acc"]
        rec["source_ece"] = rep["ece"]
    if slot == "source" or final:
        ctx.per_image[slot] = per_image(logits, domain.test.labels)
    if final:
        stage = rec["stages"][name]
        rec.update(
            best_epoch=stage["best_epoch"],
            val_acc=stage["best_val_acc"],
            test_acc=rep["acc"],
            classes=domain.classes,
            per_class_acc=rep["per_class_acc"],
            confusion_matrix=rep["confusion_matrix"],
        )
        if slot == "target":
            rec.update(
                target_top1=rep["acc"],
                target_top3=rep["top3"],
                target_top5=rep["top5"],
                target_macro_acc=rep["macro_acc"],
                target_ece=rep["ece"],
            )
    ctx.test_logits[slot] = logits
    ctx.samples[slot] = samples_of(domain, logits, ctx.cfg.eval.samples, ctx.cfg.seed)


def _write_samples(ctx: RunContext, domains: dict[str, Domain]) -> None:
    """samples.npz (the report's sample grid) and the same images as W&B tables."""
    arrays: dict[str, np.ndarray] = {}
    meta = {}
    for slot, s in ctx.samples.items():
        for key, value in s.items():
            arrays[f"{slot}_{key}"] = value
        # The Fashion-MNIST view is scored in the shared space: its labels index shared_classes.
        classes = domains[slot].classes if slot in domains else ctx.record["shared_classes"]
        meta["shared_classes" if slot == "fmnist_view" else f"{slot}_classes"] = classes
        if classes and len(s["images"]):
            names = [[classes[int(i)] for i in s[k]] for k in ("labels", "preds")]
            ctx.tracker.samples(f"{slot}/samples", s["images"], *names)
    arrays["samples_meta"] = np.array(json.dumps(meta))
    tmp = ctx.run_dir / ".samples.tmp.npz"
    np.savez_compressed(tmp, **arrays)
    tmp.replace(ctx.run_dir / "samples.npz")


def run_strategy(cfg: DictConfig) -> dict:
    """Run every stage of `cfg.strategy`, resume inside a killed run, record everything.

    What the run folder already holds decides whether this trains, resumes, only reports a
    finished run or refuses (see training/resume.py); one process at a time holds the folder.
    """
    from fashion_transfer.config_check import check_config

    check_config(cfg)
    seed_everything(cfg.seed)
    if cfg.train.get("threads"):  # parallel local jobs (joblib) each take a share of the cores
        torch.set_num_threads(int(cfg.train.threads))
    run_dir = Path(cfg.paths.output_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    log.info("run folder: %s", run_dir)
    claim(run_dir)  # before the lock file: a user's folder is refused with nothing written
    with hold(run_dir):
        return _run_in(cfg, run_dir)


def _run_in(cfg: DictConfig, run_dir: Path) -> dict:
    """The job, in the run folder this process holds."""
    from fashion_transfer.training.cross_domain import cross_domain_evaluation

    config_dict = OmegaConf.to_container(cfg, resolve=True)
    start = prepare_run_dir(cfg, run_dir, config_dict)
    if start.previous is not None:  # finished before: report it, never train over it
        return _headline(start.previous)
    keep_hydra_config(run_dir)
    resume = start.payload
    group = _group(cfg, cfg.name)
    record = json.loads(resume["record"]) if resume else _new_record(cfg, run_dir, group)
    record.update(status="running", failure_reason=None, exit_code=None)
    device = pick_device(cfg.device)
    # Called as a partial so the run's config (which holds `_target_`s) is not instantiated.
    tracker = instantiate(cfg.logger, _partial_=True)(
        run_dir=run_dir,
        name=cfg.name,
        group=group,
        job_type=cfg.strategy.name,
        run_config=config_dict,
    )
    ctx = RunContext(
        cfg=cfg,
        device=device,
        run_dir=run_dir,
        tracker=tracker,
        record=record,
        amp_dtype=amp_dtype(cfg.train.get("amp", "auto"), device),
        resume=resume,
        config_dict=config_dict,
        wall_before=record.get("wall_time_s") or 0.0,
    )
    record["device"] = str(device)
    if device.type == "cuda":  # this attempt's peak, for the GPU check (benchmark/gpu_check.py)
        torch.cuda.reset_peak_memory_stats(device)
    exit_code = 0
    try:
        ctx.write_record()
        stages = list(cfg.strategy.stages.items())
        slots = list(dict.fromkeys(s.data for _, s in stages))
        domains = {slot: _load_domain(cfg, slot) for slot in slots}
        record["data"] = {slot: domains[slot].report for slot in slots}
        model = build(cfg.model, num_classes=domains[stages[0][1].data].num_classes).to(device)
        record["params"] = sum(p.numel() for p in model.parameters())
        backbone = getattr(model, "backbone", None)
        record["model"] = type(model).__name__
        record["backbone"] = getattr(model, "name", None) or getattr(backbone, "name", None)
        for i, (name, stage_cfg) in enumerate(stages):
            domain = domains[stage_cfg.data]
            if model.num_classes != domain.num_classes:
                torch.manual_seed(epoch_seed(cfg.seed, i, -1))  # one new head, resumed or not
                model.reset_classifier(domain.num_classes)
                model.to(device)
            if resume is not None and i < resume["stage_index"]:
                # Finished before the crash (its numbers are in the resumed record): only score
                # its test split again, with its kept weights, so samples.npz is complete.
                kept = load_checkpoint(ctx.ckpt_dir / f"stage_{name}_best.pt", device)
                model.load_state_dict(kept["model"])
            else:
                run_stage(ctx, i, name, stage_cfg, model, domain)
            _after_stage(ctx, name, stage_cfg.data, model, domain, final=i == len(stages) - 1)
        cross_domain_evaluation(ctx, model, domains)
        _write_samples(ctx, domains)
        write_predictions(ctx.run_dir, ctx.per_image)
        if device.type == "cuda":
            record["peak_gpu_memory_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        record.update(status="completed", exit_code=0)
    except (TrainingFailed, UserError) as exc:
        record.update(status="failed", failure_reason=_one_line(str(exc)))
        exit_code = exc.exit_code
        raise
    except (KeyboardInterrupt, SystemExit) as exc:  # Ctrl-C, or submitit's pre-emption exit
        reason = f"interrupted ({type(exc).__name__}); run it again into {run_dir} to resume"
        record.update(status="failed", failure_reason=reason)
        exit_code = 130 if isinstance(exc, KeyboardInterrupt) else 1
        raise
    except BaseException as exc:
        record.update(status="failed", failure_reason=_one_line(f"{type(exc).__name__}: {exc}"))
        exit_code = 1
        raise
    finally:
        record["exit_code"] = exit_code if record["status"] == "failed" else record["exit_code"]
        ctx.write_record()
        tracker.summary(
            {
                **_headline(record),
                "status": record["status"],
                "failure_reason": record["failure_reason"],
            }
        )
        tracker.finish(exit_code)
    return _headline(record)
