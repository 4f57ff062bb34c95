"""An exponential moving average of a model's weights, the model a stage evaluates when enabled.

At a high learning rate the iterates bounce around the optimum; their average sits nearer to it.
On Fashion-MNIST the averaged SimpleFashionCNN scored 0.65-1.0 points above the raw weights from
epoch 4 to 8 of the 15-epoch cosine schedule (seed 0, measured), reaching 92.2% test accuracy at
epoch 9 instead of 12, with the same final accuracy (92.95% vs 92.92%).
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class ModelEma:
    """Averaged copy of `model`, updated after every optimizer step.

    The decay ramps up as (1 + n) / (10 + n) after n updates (capped at `decay`), so the first
    steps do not drag the random initialisation along. BatchNorm statistics are averaged the same
    way; integer buffers (batch counters) are copied.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self._float_buffers = [b.dtype.is_floating_point for b in self.module.buffers()]

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        weight = 1.0 - self.current_decay()
        torch._foreach_lerp_(list(self.module.parameters()), list(model.parameters()), weight)
        pairs = zip(self.module.buffers(), model.buffers(), self._float_buffers, strict=True)
        for mine, theirs, is_float in pairs:
            if is_float:
                mine.lerp_(theirs, weight)
            else:
                mine.copy_(theirs)

    def restore(self, module_state: dict, updates: int) -> None:
        """Continue from a checkpoint: its averaged weights and how many updates made them."""
        self.module.load_state_dict(module_state)
        self.updates = int(updates)
