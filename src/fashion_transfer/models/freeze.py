"""Freeze and unfreeze the backbone of any model that follows the interface in docs/CONTRACTS.md.

Frozen means two things: the backbone's parameters get no gradient (`requires_grad=False`, so
optimizers skip them, weight decay included), and its BatchNorm layers normalise with their
running statistics and do not update them. Without the second, a "frozen" backbone still drifts:
every training-mode forward pass moves the running mean/var towards the new domain's batches,
and the features the head learns on are not the ones the backbone produces at evaluation.

The training loop calls `model.train()` every epoch, which switches BatchNorm back to training
mode; a forward pre-hook on each backbone BatchNorm puts a held one back in eval mode before
every forward, so the choice survives `train()` on any model without overriding it.
"""

from __future__ import annotations

from torch import nn

_HOLD = "_hold_eval"  # attribute on a BatchNorm: True while its backbone is frozen


def _hold_eval(module: nn.Module, args: tuple) -> None:
    """Forward pre-hook: a held BatchNorm uses (and keeps) its running statistics."""
    if getattr(module, _HOLD, False):
        module.training = False


def backbone_norms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """BatchNorm layers of the backbone: every one that does not hold head parameters."""
    head = {id(p) for p in model.head_parameters()}
    return [
        m
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
        and not any(id(p) in head for p in m.parameters(recurse=False))
    ]


def set_backbone_trainable(model: nn.Module, trainable: bool) -> None:
    """Freeze (`trainable=False`) or unfreeze the backbone; idempotent, so call it every epoch.

    The hold is a flag on each BatchNorm read by a hook registered once, so copies and
    checkpoints of the model carry no hook handles.
    """
    for p in model.backbone_parameters():
        p.requires_grad_(trainable)
    for norm in backbone_norms(model):
        if not hasattr(norm, _HOLD):
            norm.register_forward_pre_hook(_hold_eval)
        setattr(norm, _HOLD, not trainable)
        norm.train(model.training and trainable)


def backbone_frozen(model: nn.Module) -> bool:
    """True when no backbone parameter takes a gradient."""
    return not any(p.requires_grad for p in model.backbone_parameters())


class BackboneFreezing:
    """Mixin: `freeze_backbone()` / `unfreeze_backbone()` for the models of this package."""

    def freeze_backbone(self) -> None:
        """Train only the head (and input adapter); backbone weights and BN statistics stay put."""
        set_backbone_trainable(self, False)

    def unfreeze_backbone(self) -> None:
        """Train everything again; BatchNorm follows the model's train/eval mode."""
        set_backbone_trainable(self, True)

    @property
    def backbone_frozen(self) -> bool:
        """Whether the backbone is frozen now."""
        return backbone_frozen(self)
