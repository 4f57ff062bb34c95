"""Learning-rate schedules stepped once per optimizer step (so warmup works with few epochs)."""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def _warmup(step: int, warmup_steps: int) -> float:
    return (step + 1) / warmup_steps if step < warmup_steps else 1.0


def cosine_with_warmup(
    optimizer: Optimizer,
    steps_per_epoch: int,
    epochs: int,
    warmup_epochs: float = 1.0,
    min_lr_ratio: float = 0.01,
) -> LambdaLR:
    """Linear warmup, then cosine decay to `min_lr_ratio` of each group's learning rate."""
    total = max(1, steps_per_epoch * epochs)
    warm = min(total - 1, round(warmup_epochs * steps_per_epoch))

    def factor(step: int) -> float:
        if step < warm:
            return _warmup(step, warm)
        progress = min(1.0, (step - warm) / max(1, total - warm))
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor)


def step_decay(
    optimizer: Optimizer,
    steps_per_epoch: int,
    epochs: int,
    step_epochs: int = 5,
    gamma: float = 0.1,
    warmup_epochs: float = 0.0,
) -> LambdaLR:
    """Multiply the learning rate by `gamma` every `step_epochs` epochs."""
    warm = round(warmup_epochs * steps_per_epoch)

    def factor(step: int) -> float:
        return _warmup(step, warm) * gamma ** (step // max(1, step_epochs * steps_per_epoch))

    return LambdaLR(optimizer, factor)


def constant(
    optimizer: Optimizer, steps_per_epoch: int, epochs: int, warmup_epochs: float = 0.0
) -> LambdaLR:
    """A constant learning rate after an optional warmup."""
    warm = round(warmup_epochs * steps_per_epoch)
    return LambdaLR(optimizer, lambda step: _warmup(step, warm))
