"""An exponential moving average of a model's weights, the model a stage evaluates when enabled.

At a high learning rate the iterates bounce around the optimum; their average sits nearer to it.
The average is timm's `ModelEmaV3`; the recipe is its warmup with power 1 and gamma 9, which is the
ramp (1 + n) / (10 + n) after n updates, capped at `decay` (tests/training/test_ema.py checks
the weights against that rule step for step). README's Performance section has what it buys.
"""

from __future__ import annotations

import torch
from timm.utils import ModelEmaV3
from torch import nn

# timm's warmup decay is 1 - (1 + s / gamma) ** -power with s = step - 1; with power 1 and
# gamma 9 that is s / (9 + s), which equals (1 + n) / (10 + n) at s = n + 1, i.e. step = n + 2.
_WARMUP = {"use_warmup": True, "warmup_gamma": 9.0, "warmup_power": 1.0}
_STEP_OFFSET = 2


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
        self._ema = ModelEmaV3(model, decay=decay, **_WARMUP)
        self.module = self._ema.module
        for p in self.module.parameters():
            p.requires_grad_(False)

    def current_decay(self) -> float:
        return self._ema.get_decay(self.updates + _STEP_OFFSET)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        self._ema.update(model, step=self.updates + _STEP_OFFSET)

    def restore(self, module_state: dict, updates: int) -> None:
        """Continue from a checkpoint: its averaged weights and how many updates made them."""
        self.module.load_state_dict(module_state)
        self.updates = int(updates)
