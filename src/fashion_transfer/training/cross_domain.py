"""Cross-domain evaluation: the shared 6-class space between Fashion-MNIST and DeepFashion."""

from __future__ import annotations

from torch import nn

from fashion_transfer.data.base import Domain
from fashion_transfer.training.stages import RunContext


def cross_domain_evaluation(ctx: RunContext, model: nn.Module, domains: dict[str, Domain]) -> None:
    """Shared-space and reverse-direction accuracy; needs a target data set and the label map."""
    if "target" not in ctx.cfg or ctx.cfg.get("label_map") is None:
        return
