"""One epoch of training and one pass of evaluation, as functions over a small state object."""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from fashion_transfer.data.base import Split
from fashion_transfer.errors import TrainingFailed
from fashion_transfer.models.freeze import set_backbone_trainable
from fashion_transfer.training.batches import augment, fit_input, iterate_batches
from fashion_transfer.training.ema import ModelEma

log = logging.getLogger(__name__)


@dataclass
class TrainState:
    """What one epoch needs; built once per stage."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    device: torch.device
    criterion: nn.Module
    batch_size: int
    eval_batch_size: int
    augment: dict = field(default_factory=dict)
    amp_dtype: torch.dtype | None = None
    log_every: int = 50
    on_step: object = None  # callable(metrics: dict, step: int) for per-step logging
    stage: str = ""
    global_step: int = 0
    max_steps: int | None = None  # cap batches per epoch (smoke tests and benches)
    frozen: bool = False  # backbone frozen this epoch (its BatchNorm stays in eval mode)
    ema: ModelEma | None = None  # averaged weights, updated every step; evaluated instead

    @property
    def eval_model(self) -> nn.Module:
        """The weights validation (model selection) and testing score: the average when kept."""
        return self.ema.module if self.ema is not None else self.model


def _autocast(state: TrainState):
    if state.amp_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(state.device.type, dtype=state.amp_dtype)


def model_input(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Feed the model what it expects; the adapter takes gray and RGB itself."""
    if getattr(model, "accepts_any_input", False):
        return x
    x = fit_input(x, model.input_channels, model.input_size)
    if getattr(model, "channels_last", False):
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def _progress(total: int, desc: str):
    """A bar on a terminal; nothing when logging to a file (epoch lines are logged instead)."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True)
    return None


def train_step(
    state: TrainState, x: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step on a batch the model can take as is; returns (loss, logits)."""
    with _autocast(state):
        logits = state.model(x)
        loss = state.criterion(logits.float(), y)
    state.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    state.optimizer.step()
    if state.ema is not None:
        state.ema.update(state.model)
    return loss, logits


def train_one_epoch(state: TrainState, split: Split, epoch_seed: int, desc: str = "") -> dict:
    """Train over `split` once; returns mean loss, accuracy, last lr and seconds.

    Shuffling and augmentation draw from generators seeded by `epoch_seed`, so an epoch is a pure
    function of the weights it starts from (exact resume after a crash). Loss and accuracy are
    summed on the device; the host reads them (a device sync) only every `log_every` steps.
    """
    state.model.train()
    set_backbone_trainable(state.model, not state.frozen)
    torch.manual_seed(epoch_seed)  # dropout
    gen = torch.Generator().manual_seed(epoch_seed + 1)
    n_batches = max(1, len(split) // state.batch_size)
    if state.max_steps:
        n_batches = min(n_batches, state.max_steps)
    batches = iterate_batches(
        split,
        state.batch_size,
        state.device,
        shuffle=True,
        seed=epoch_seed,
        drop_last=True,
        max_batches=n_batches,
    )
    bar = _progress(n_batches, desc)
    loss_sum = torch.zeros((), device=state.device)
    correct = torch.zeros((), device=state.device, dtype=torch.long)
    seen, start = 0, time.perf_counter()
    for i, (x, y) in enumerate(batches):
        loss, logits = train_step(
            state, model_input(state.model, augment(x, gen, **state.augment)), y
        )
        state.scheduler.step()
        state.global_step += 1
        loss_sum += loss.detach() * len(y)
        correct += (logits.argmax(1) == y).sum()
        seen += len(y)
        if state.global_step % state.log_every == 0 or i == n_batches - 1:
            _check_finite(loss_sum, state, i)
            if state.on_step is not None:
                state.on_step(
                    {
                        f"{state.stage}/train_loss_step": loss.item(),
                        f"{state.stage}/lr": _lr(state),
                    },
                    state.global_step,
                )
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    _check_finite(loss_sum, state, n_batches - 1)
    return {
        "train_loss": (loss_sum / max(seen, 1)).item(),
        "train_acc": correct.item() / max(seen, 1),
        "lr": _lr(state),
        "seconds": time.perf_counter() - start,
    }


def _lr(state: TrainState) -> float:
    return max(g["lr"] for g in state.optimizer.param_groups)


def _check_finite(loss_sum: torch.Tensor, state: TrainState, batch: int) -> None:
    value = loss_sum.item()
    if not math.isfinite(value):
        raise TrainingFailed(
            f"non-finite loss ({value}) in stage {state.stage} by batch {batch + 1} "
            f"(global step {state.global_step}); lower the learning rate or check the data"
        )


@torch.no_grad()
def predict(model: nn.Module, split: Split, device: torch.device, batch_size: int) -> torch.Tensor:
    """Logits (N, K) on the CPU for a whole split, in order."""
    model.eval()
    out = []
    for x, _ in iterate_batches(split, batch_size, device):
        out.append(model(model_input(model, x)).float().cpu())
    return torch.cat(out) if out else torch.empty(0)


def evaluate(
    model: nn.Module, split: Split, device: torch.device, batch_size: int, criterion: nn.Module
) -> dict:
    """Loss and accuracy on a split, plus the logits for later metrics."""
    logits = predict(model, split, device, batch_size)
    labels = split.labels
    return {
        "loss": criterion(logits, labels).item() if len(labels) else float("nan"),
        "acc": (logits.argmax(1) == labels).float().mean().item() if len(labels) else float("nan"),
        "logits": logits,
    }
