"""Parameter groups: backbone at a lower learning rate, no weight decay on norms and biases."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn


def _split_decay(params: Iterable[nn.Parameter]) -> tuple[list, list]:
    decay, no_decay = [], []
    for p in params:
        (no_decay if p.ndim <= 1 else decay).append(p)
    return decay, no_decay


def param_groups(
    model: nn.Module, lr: float, backbone_lr_factor: float, weight_decay: float
) -> list[dict]:
    """Four groups so fine-tuning can slow the backbone without touching the head."""
    groups = []
    for params, factor in (
        (model.backbone_parameters(), backbone_lr_factor),
        (model.head_parameters(), 1.0),
    ):
        decay, no_decay = _split_decay(params)
        groups.append({"params": decay, "lr": lr * factor, "weight_decay": weight_decay})
        groups.append({"params": no_decay, "lr": lr * factor, "weight_decay": 0.0})
    return [g for g in groups if g["params"]]


def build_optimizer(
    factory: Callable[..., torch.optim.Optimizer],
    model: nn.Module,
    lr: float,
    weight_decay: float,
    backbone_lr_factor: float = 1.0,
) -> torch.optim.Optimizer:
    """`factory` is the `_partial_` optimizer from conf/optimizer."""
    return factory(param_groups(model, lr, backbone_lr_factor, weight_decay))
