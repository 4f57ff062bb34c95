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
from torch import nn

from fashion_transfer import atomic
from fashion_transfer.config_check import check_config
from fashion_transfer.data.base import Domain
from fashion_transfer.errors import DataError, TrainingFailed, UserError, in_slot
from fashion_transfer.record import RunRecord, TuneTrial, headline_of
from fashion_transfer.training.checkpoint import load_checkpoint
from fashion_transfer.training.cross_domain import CrossDomain, cross_domain_evaluation
from fashion_transfer.training.evaluation import samples_of, test_report
from fashion_transfer.training.metrics import per_image
from fashion_transfer.training.predictions import write_predictions
from fashion_transfer.training.resume import keep_hydra_config, prepare_run_dir
from fashion_transfer.training.run_lock import claim, hold
from fashion_transfer.training.stages import RunContext, epoch_seed, run_stage
from fashion_transfer.tuning.space import applies, draw_trial
from fashion_transfer.utils import amp_dtype, build, git_commit, pick_device, seed_everything

log = logging.getLogger(__name__)


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


def _new_record(cfg: DictConfig, run_dir: Path, group: str) -> RunRecord:
    """The record of a run that starts: who it is, what it trains on; figures come later."""
    slots = [s.data for s in cfg.strategy.stages.values()]
    tune = _tune_record(cfg)  # experiment=tune: this trial's hyperparameters and space
    return RunRecord(
        strategy=cfg.strategy.name,
        seed=int(cfg.seed),
        run_name=cfg.name,
        group=group,
        run_dir=str(run_dir),
        git_commit=git_commit(),
        synthetic=any(bool(cfg[s].get("synthetic", False)) for s in set(slots)),
        # Both slots are named even when only one trains: the other is scored (zero-shot or
        # reverse).
        source_dataset=_dataset_name(cfg, "source"),
        target_dataset=_dataset_name(cfg, "target"),
        source_view=cfg.source.get("view") if "source" in cfg else None,
        target_view=cfg.target.get("view") if "target" in cfg else None,
        # Which Fashion-MNIST view (data.fmnist_view) the in-domain run trained on and the
        # zero-shot score used: the gap decomposition says so under each bar.
        source_fmnist_background=_fmnist_background(cfg, "source"),
        target_fmnist_background=_fmnist_background(cfg, "target"),
        train_fraction=float(cfg[slots[-1]].get("train_fraction", 1.0)),
        pretrained=bool(
            OmegaConf.select(cfg, "model.pretrained", default=False)
            or OmegaConf.select(cfg, "model.backbone.pretrained", default=False)
        ),
        input_adapter=OmegaConf.select(cfg, "model.input_adapter", default=None),
        tune=TuneTrial(**tune) if tune is not None else None,
        wall_time_s=0.0,
    )


def _load_domain(cfg: DictConfig, slot: str) -> Domain:
    try:
        return build(cfg[slot])
    except DataError as exc:
        raise DataError(f"{slot} ({cfg[slot].get('name', slot)}): {in_slot(exc, slot)}") from exc


def _one_line(text: str) -> str:
    """metrics.json's failure_reason is one line, whatever the exception's message holds."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _record_test(
    record: RunRecord, name: str, slot: str, rep: dict, domain: Domain, final: bool
) -> None:
    """A stage's test report into the record (source accuracy is read here; the final stage's
    report gives the run's headline test figures)."""
    record.stages[name].test_acc = rep["acc"]
    if slot == "source":
        record.source_test_acc, record.source_ece = rep["acc"], rep["ece"]
    if not final:
        return
    stage = record.stages[name]
    record.best_epoch, record.val_acc, record.test_acc = (
        stage.best_epoch,
        stage.best_val_acc,
        rep["acc"],
    )
    record.classes = domain.classes
    record.per_class_acc = rep["per_class_acc"]
    record.confusion_matrix = rep["confusion_matrix"]
    if slot == "target":
        record.target_top1, record.target_top3 = rep["acc"], rep["top3"]
        record.target_top5, record.target_macro_acc = rep["top5"], rep["macro_acc"]
        record.target_ece = rep["ece"]


def _after_stage(ctx: RunContext, name: str, slot: str, model, domain: Domain, final: bool) -> None:
    """Score the stage's own test split with its selected weights."""
    reuse = ctx.best_test_logits if final else None  # None after a resume past the best epoch
    rep, logits = test_report(model, domain, ctx.device, ctx.cfg.train.eval_batch_size, reuse)
    _record_test(ctx.record, name, slot, rep, domain, final)
    if slot == "source" or final:
        ctx.per_image[slot] = per_image(logits, domain.test.labels)
    ctx.test_logits[slot] = logits
    ctx.samples[slot] = samples_of(domain, logits, ctx.cfg.eval.samples, ctx.cfg.seed)


def _record_cross_domain(ctx: RunContext, found: CrossDomain) -> None:
    """The shared-space figures into the record; their per-image results and samples beside it."""
    record = ctx.record
    if found.shared is not None:
        record.set_shared(found.shared, found.shared_mode, found.shared_classes)
        ctx.per_image["shared"] = found.per_image
    if found.view_report is not None:
        record.data["target_fmnist_view"] = found.view_report
    if found.reverse is not None:
        record.reverse_acc, record.reverse_n = found.reverse.acc, found.reverse.n
    if found.zero_shot_by_background is not None:
        record.zero_shot_by_background = found.zero_shot_by_background
    ctx.samples.update(found.samples)


def _write_samples(ctx: RunContext, domains: dict[str, Domain]) -> None:
    """samples.npz (the report's sample grid) and the same images as W&B tables."""
    arrays: dict[str, np.ndarray] = {}
    meta = {}
    for slot, s in ctx.samples.items():
        for key, value in s.items():
            arrays[f"{slot}_{key}"] = value
        # The Fashion-MNIST view is scored in the shared space: its labels index shared_classes.
        classes = domains[slot].classes if slot in domains else ctx.record.shared_classes
        meta["shared_classes" if slot == "fmnist_view" else f"{slot}_classes"] = classes
        if classes and len(s["images"]):
            names = [[classes[int(i)] for i in s[k]] for k in ("labels", "preds")]
            ctx.tracker.samples(f"{slot}/samples", s["images"], *names)
    arrays["samples_meta"] = np.array(json.dumps(meta))
    # numpy appends `.npz` to a path it is given, so it writes to the open temp file instead.
    with atomic.replacing(ctx.run_dir / "samples.npz") as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)


def run_strategy(cfg: DictConfig) -> dict:
    """Run every stage of `cfg.strategy`, resume inside a killed run, record everything.

    What the run folder already holds decides whether this trains, resumes, only reports a
    finished run or refuses (see training/resume.py); one process at a time holds the folder.
    """
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
    """The job, in the run folder this process holds: its steps, and a record whatever happens."""
    config_dict = OmegaConf.to_container(cfg, resolve=True)
    start = prepare_run_dir(cfg, run_dir, config_dict)
    if start.previous is not None:  # finished before: report it, never train over it
        return headline_of(start.previous)
    keep_hydra_config(run_dir)
    ctx = _start(cfg, run_dir, config_dict, start.payload)
    exit_code = 0
    try:
        ctx.write_record()
        domains, model = _build(ctx)
        _run_stages(ctx, domains, model)
        _evaluate(ctx, model, domains)
        ctx.record.status, ctx.record.exit_code = "completed", 0
    except BaseException as exc:
        ctx.record.status = "failed"
        ctx.record.failure_reason, exit_code = _failure(exc, run_dir)
        raise
    finally:
        _finish(ctx, exit_code)
    return ctx.record.headline()


def _start(cfg: DictConfig, run_dir: Path, config_dict: dict, resume: dict | None) -> RunContext:
    """The job's context: a new record, or the one a killed attempt left in its checkpoint."""
    group = _group(cfg, cfg.name)
    if resume:
        record = RunRecord.from_json(json.loads(resume["record"]))
    else:
        record = _new_record(cfg, run_dir, group)
    record.status, record.failure_reason, record.exit_code = "running", None, None
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
        wall_before=record.wall_time_s or 0.0,
    )
    record.device = str(device)
    if device.type == "cuda":  # this attempt's peak, for the GPU check (bench/gpu_check.py)
        torch.cuda.reset_peak_memory_stats(device)
    return ctx


def _build(ctx: RunContext) -> tuple[dict[str, Domain], nn.Module]:
    """The data sets the stages read (their reports go into the record) and the model."""
    cfg, record = ctx.cfg, ctx.record
    stages = list(cfg.strategy.stages.values())
    slots = list(dict.fromkeys(s.data for s in stages))
    domains = {slot: _load_domain(cfg, slot) for slot in slots}
    record.data = {slot: domains[slot].report for slot in slots}
    model = build(cfg.model, num_classes=domains[stages[0].data].num_classes).to(ctx.device)
    record.params = sum(p.numel() for p in model.parameters())
    backbone = getattr(model, "backbone", None)
    record.model = type(model).__name__
    record.backbone = getattr(model, "name", None) or getattr(backbone, "name", None)
    return domains, model


def _run_stages(ctx: RunContext, domains: dict[str, Domain], model: nn.Module) -> None:
    """Every stage in order, each scored on its own test split with its selected weights."""
    cfg, resume = ctx.cfg, ctx.resume
    stages = list(cfg.strategy.stages.items())
    for i, (name, stage_cfg) in enumerate(stages):
        domain = domains[stage_cfg.data]
        if model.num_classes != domain.num_classes:
            torch.manual_seed(epoch_seed(cfg.seed, i, -1))  # one new head, resumed or not
            model.reset_classifier(domain.num_classes)
            model.to(ctx.device)
        if resume is not None and i < resume["stage_index"]:
            # Finished before the crash (its numbers are in the resumed record): only score
            # its test split again, with its kept weights, so samples.npz is complete.
            kept = load_checkpoint(ctx.ckpt_dir / f"stage_{name}_best.pt", ctx.device)
            model.load_state_dict(kept["model"])
        else:
            run_stage(ctx, i, name, stage_cfg, model, domain)
        _after_stage(ctx, name, stage_cfg.data, model, domain, final=i == len(stages) - 1)


def _evaluate(ctx: RunContext, model: nn.Module, domains: dict[str, Domain]) -> None:
    """The shared-space scores, then samples.npz and predictions.npz."""
    _record_cross_domain(ctx, cross_domain_evaluation(ctx, model, domains))
    _write_samples(ctx, domains)
    write_predictions(ctx.run_dir, ctx.per_image)
    if ctx.device.type == "cuda":
        ctx.record.peak_gpu_memory_mb = torch.cuda.max_memory_allocated(ctx.device) / 2**20


def _failure(exc: BaseException, run_dir: Path) -> tuple[str, int]:
    """The one-line failure_reason and the exit code of what ended the run."""
    if isinstance(exc, TrainingFailed | UserError):
        return _one_line(str(exc)), exc.exit_code
    if isinstance(exc, KeyboardInterrupt | SystemExit):  # Ctrl-C, or submitit's pre-emption exit
        reason = f"interrupted ({type(exc).__name__}); run it again into {run_dir} to resume"
        return reason, 130 if isinstance(exc, KeyboardInterrupt) else 1
    return _one_line(f"{type(exc).__name__}: {exc}"), 1


def _finish(ctx: RunContext, exit_code: int) -> None:
    """The record's last write, and the tracker's summary and end, however the run ended."""
    record = ctx.record
    if record.status == "failed":
        record.exit_code = exit_code
    ctx.write_record()
    ctx.tracker.summary(
        {**record.headline(), "status": record.status, "failure_reason": record.failure_reason}
    )
    ctx.tracker.finish(exit_code)
