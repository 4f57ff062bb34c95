"""A strategy is a list of stages; a stage trains one model on one data set for some epochs.

Model selection uses the validation split; at the end of a stage the best weights are restored and
kept as `checkpoints/stage_<name>_best.pt`, so a later stage starts from the selected model.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from fashion_transfer import record as run_record
from fashion_transfer.data.base import Domain
from fashion_transfer.models.freeze import set_backbone_trainable
from fashion_transfer.record import EpochEntry, RunRecord, StageSummary
from fashion_transfer.training.checkpoint import (
    copy_checkpoint,
    load_checkpoint,
    make_payload,
    save_checkpoint,
)
from fashion_transfer.training.ema import ModelEma
from fashion_transfer.training.loop import TrainState, evaluate, train_one_epoch
from fashion_transfer.training.optim import build_optimizer

log = logging.getLogger(__name__)


@dataclass
class RunContext:
    """What every stage shares: config, device, run folder, tracker and the growing record."""

    cfg: DictConfig
    device: torch.device
    run_dir: Path
    tracker: Any
    record: RunRecord = field(default_factory=RunRecord)
    amp_dtype: torch.dtype | None = None
    resume: dict | None = None  # the last.pt payload when continuing a killed run
    global_step: int = 0
    config_dict: dict = field(default_factory=dict)
    samples: dict = field(default_factory=dict)  # slot -> images/labels/preds for samples.npz
    per_image: dict = field(default_factory=dict)  # test set -> correct/confidence/labels arrays
    best_test_logits: torch.Tensor | None = None  # final stage's test logits at its best epoch
    test_logits: dict = field(default_factory=dict)  # slot -> test logits of the stage's best model
    wall_before: float = 0.0  # wall time of earlier attempts of this run (killed, pre-empted)
    wall_start: float = field(default_factory=time.perf_counter)

    @property
    def ckpt_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    def stamp(self) -> None:
        """The record's wall time: this attempt's so far plus the earlier attempts'."""
        self.record.wall_time_s = self.wall_before + time.perf_counter() - self.wall_start

    def write_record(self) -> None:
        self.stamp()
        run_record.write(self.run_dir / "metrics.json", self.record)


def epoch_seed(seed: int, stage_index: int, epoch: int) -> int:
    """A distinct, reproducible seed for every epoch of every stage."""
    return (seed * 1_000_003 + stage_index * 10_007 + epoch) % 2**62


def _save(
    ctx: RunContext,
    path: Path,
    state: TrainState,
    stage: str,
    index: int,
    epoch: int,
    best: tuple[float, int],
) -> None:
    ctx.stamp()
    save_checkpoint(
        path,
        make_payload(
            model=state.model,
            optimizer=state.optimizer,
            scheduler=state.scheduler,
            stage=stage,
            stage_index=index,
            epoch=epoch,
            best_val_acc=best[0],
            best_epoch=best[1],
            global_step=state.global_step,
            record=ctx.record.to_json(),
            config=ctx.config_dict,
            ema=state.ema,
        ),
    )


def build_state(
    ctx: RunContext, stage_cfg: DictConfig, model: nn.Module, domain: Domain, stage_name: str
) -> TrainState:
    cfg = ctx.cfg
    lr = stage_cfg.lr if stage_cfg.get("lr") is not None else cfg.optimizer.lr
    factory = instantiate(cfg.optimizer)
    optimizer = build_optimizer(
        factory,
        model,
        lr=lr,
        weight_decay=cfg.optimizer.get("weight_decay", 0.0),
        backbone_lr_factor=stage_cfg.backbone_lr_factor,
    )
    steps = max(1, len(domain.train) // stage_cfg.batch_size)
    if cfg.train.get("max_steps_per_epoch"):
        steps = min(steps, cfg.train.max_steps_per_epoch)
    sched_cfg = OmegaConf.merge(cfg.schedule, stage_cfg.get("schedule") or {})
    scheduler = instantiate(sched_cfg)(optimizer, steps_per_epoch=steps, epochs=stage_cfg.epochs)
    decay = stage_cfg.get("ema_decay")
    return TrainState(
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        device=ctx.device,
        criterion=nn.CrossEntropyLoss(label_smoothing=cfg.train.label_smoothing),
        batch_size=stage_cfg.batch_size,
        eval_batch_size=cfg.train.eval_batch_size,
        augment=dict(domain.augment),
        amp_dtype=ctx.amp_dtype,
        log_every=cfg.train.log_every,
        on_step=ctx.tracker.log,
        stage=stage_name,
        global_step=ctx.global_step,
        max_steps=cfg.train.get("max_steps_per_epoch"),
        ema=ModelEma(model, float(decay)) if decay else None,
    )


def _resume_inside(
    ctx: RunContext, state: TrainState, index: int, name: str
) -> tuple[int, tuple[float, int]]:
    """(epochs already done, (best val acc, its epoch)): from the checkpoint of a run killed
    inside this stage, else (0, nothing selected yet)."""
    resume = ctx.resume
    if resume is None or resume["stage_index"] != index:
        return 0, (-1.0, 0)
    state.model.load_state_dict(resume.get("train_model", resume["model"]))
    if state.ema is not None:
        state.ema.restore(resume["model"], resume.get("ema_updates", 0))
    state.optimizer.load_state_dict(resume["optimizer"])
    state.scheduler.load_state_dict(resume["scheduler"])
    state.global_step = resume["global_step"]
    log.info("resuming stage %s after epoch %d", name, resume["epoch"])
    ctx.resume = None
    return resume["epoch"], (resume["best_val_acc"], resume["best_epoch"])


def _train_epoch(
    ctx: RunContext,
    state: TrainState,
    domain: Domain,
    stage_cfg: DictConfig,
    index: int,
    name: str,
    epoch: int,
) -> tuple[EpochEntry, torch.Tensor | None]:
    """One epoch and its validation pass; in the final stage also its test pass, whose logits
    come back (the final report reuses the selected epoch's).

    The final stage's test accuracy after every epoch is for the selection protocols the analysis
    compares (analysis/selection.py); only the `oracle` upper bound ever selects on it.
    """
    frozen = state.frozen = epoch < stage_cfg.unfreeze_after
    train = train_one_epoch(
        state,
        domain.train,
        epoch_seed(ctx.cfg.seed, index, epoch),
        desc=f"{name} {epoch + 1}/{stage_cfg.epochs}",
    )
    val = evaluate(state.eval_model, domain.val, ctx.device, state.eval_batch_size, state.criterion)
    entry = EpochEntry(
        stage=name,
        epoch=epoch + 1,
        global_epoch=len(ctx.record.history) + 1,
        **train,
        val_loss=val["loss"],
        val_acc=val["acc"],
        frozen=frozen,
    )
    test_logits = None
    if index == len(ctx.cfg.strategy.stages) - 1:
        tested = evaluate(
            state.eval_model, domain.test, ctx.device, state.eval_batch_size, state.criterion
        )
        entry.test_acc, test_logits = tested["acc"], tested["logits"]
    log.info(
        "[%s] epoch %d/%d train_loss %.4f train_acc %.4f val_acc %.4f lr %.2e %.1fs%s",
        name,
        epoch + 1,
        stage_cfg.epochs,
        entry.train_loss,
        entry.train_acc,
        entry.val_acc,
        entry.lr,
        entry.seconds,
        " (backbone frozen)" if frozen else "",
    )
    return entry, test_logits


def _restore_best(ctx: RunContext, model: nn.Module, name: str) -> None:
    """The stage's selected weights into `model`, kept as `stage_<name>_best.pt`.

    A run killed after this stage ended may have begun the next one's best.pt; the stage's own
    copy, once made, is the one to trust.
    """
    set_backbone_trainable(model, True)
    kept = ctx.ckpt_dir / f"stage_{name}_best.pt"
    best_path = kept if kept.exists() else ctx.ckpt_dir / "best.pt"
    model.load_state_dict(load_checkpoint(best_path, ctx.device)["model"])
    if best_path != kept:
        copy_checkpoint(best_path, kept)


def run_stage(
    ctx: RunContext, index: int, name: str, stage_cfg: DictConfig, model: nn.Module, domain: Domain
) -> StageSummary:
    """Train one stage (resuming inside it when a checkpoint says so); returns its summary."""
    state = build_state(ctx, stage_cfg, model, domain, name)
    start_epoch, best = _resume_inside(ctx, state, index, name)
    summary = ctx.record.stages.setdefault(name, StageSummary())
    summary.dataset = domain.name
    summary.epochs = stage_cfg.epochs
    summary.unfreeze_after = stage_cfg.unfreeze_after
    summary.batch_size = stage_cfg.batch_size
    summary.ema_decay = state.ema.decay if state.ema is not None else None
    t0, seconds_before = time.perf_counter(), summary.seconds
    for epoch in range(start_epoch, stage_cfg.epochs):
        entry, test_logits = _train_epoch(ctx, state, domain, stage_cfg, index, name, epoch)
        ctx.record.history.append(entry)
        if entry.val_acc > best[0]:
            best = (entry.val_acc, epoch + 1)
            _save(ctx, ctx.ckpt_dir / "best.pt", state, name, index, epoch + 1, best)
            if test_logits is not None:  # the selected weights' test pass: the report reuses it
                ctx.best_test_logits = test_logits
        summary.best_epoch, summary.best_val_acc = best[1], best[0]
        summary.seconds = seconds_before + time.perf_counter() - t0  # kept when a run resumes
        logged = run_record.as_json(entry)
        ctx.tracker.log(
            {f"{name}/{k}": v for k, v in logged.items() if k != "stage"}, state.global_step
        )
        _save(ctx, ctx.ckpt_dir / "last.pt", state, name, index, epoch + 1, best)
        ctx.write_record()
    _restore_best(ctx, model, name)
    summary.seconds = seconds_before + time.perf_counter() - t0
    ctx.global_step = state.global_step
    return summary
