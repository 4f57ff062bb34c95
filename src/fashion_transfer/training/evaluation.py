"""Test-set evaluation after training: read once, with the selected (best-validation) weights."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from fashion_transfer.data.base import Domain
from fashion_transfer.training.loop import predict
from fashion_transfer.training.metrics import classification_report


def test_report(
    model: nn.Module,
    domain: Domain,
    device: torch.device,
    batch_size: int,
    logits: torch.Tensor | None = None,
) -> tuple[dict, torch.Tensor]:
    """Classification report on the domain's test split, and its logits for further metrics.

    `logits` are the model's test logits when already computed (the final stage scores its test
    set after every epoch, so the selected epoch's pass is reused rather than repeated).
    """
    if logits is None:
        logits = predict(model, domain.test, device, batch_size)
    return classification_report(logits, domain.test.labels, domain.classes), logits


def sample_indices(labels: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """A fixed, seeded pick of test images for the sample grid and the W&B table."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(len(labels), generator=gen)[: min(n, len(labels))].sort().values


def samples_of(domain: Domain, logits: torch.Tensor, n: int, seed: int) -> dict[str, np.ndarray]:
    idx = sample_indices(domain.test.labels, n, seed)
    images, labels = domain.test.batch(idx)
    return {
        "images": images.numpy(),
        "labels": labels.numpy(),
        "preds": logits[idx].argmax(1).numpy(),
    }
