"""Atomic checkpoints that load with `weights_only=True`, so a checkpoint file can never run code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from fashion_transfer import atomic


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write to a temp file and rename: a crash mid-write leaves the previous checkpoint intact."""
    with atomic.replacing(path) as tmp:
        torch.save(payload, tmp)


def copy_checkpoint(src: Path, dst: Path) -> None:
    """Copy through a temp file and rename, so `dst` is never a torn file a resume would trust."""
    with atomic.replacing(dst) as tmp:
        shutil.copyfile(src, tmp)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    return torch.load(path, map_location=map_location, weights_only=True)


def make_payload(
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    scheduler: Any,
    stage: str,
    stage_index: int,
    epoch: int,
    best_val_acc: float,
    best_epoch: int,
    global_step: int,
    record: dict,
    config: dict,
    ema: Any = None,
) -> dict[str, Any]:
    """Everything needed to continue a run exactly; `record` and `config` travel as JSON text.

    "model" is always the weights the stage evaluates and selects; with a weight average (`ema`)
    those are the averaged ones, and the raw training weights travel as "train_model".
    """
    extra = {}
    if ema is not None:
        extra = {"train_model": model.state_dict(), "ema_updates": ema.updates}
        model = ema.module
    return {
        **extra,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "stage": stage,
        "stage_index": stage_index,
        "epoch": epoch,
        "best_val_acc": best_val_acc,
        "best_epoch": best_epoch,
        "global_step": global_step,
        "record": json.dumps(record),
        "config": json.dumps(config),
    }
