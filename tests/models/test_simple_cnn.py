"""SimpleFashionCNN's two block orders: the same weights, a different (and faster) computation."""

from __future__ import annotations

import torch
from torch import nn

from fashion_transfer.models.simple_cnn import SimpleFashionCNN


def _kinds(block: nn.Sequential) -> list[str]:
    return [type(m).__name__ for m in block]


def test_pool_first_moves_the_pooling_before_batch_norm_with_the_same_parameters():
    torch.manual_seed(0)
    late = SimpleFashionCNN(pool_first=False)
    torch.manual_seed(0)
    early = SimpleFashionCNN(pool_first=True)
    assert _kinds(late.features[0]) == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]
    assert _kinds(early.features[0]) == ["Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU"]
    a, b = list(late.state_dict().values()), list(early.state_dict().values())
    assert len(a) == len(b) and all(torch.equal(u, v) for u, v in zip(a, b, strict=True))

    x = torch.rand(8, 1, 28, 28)
    late.eval(), early.eval()
    # Fresh BatchNorm in eval is the identity (up to eps), and max-pool commutes with ReLU, so the
    # two orders agree until training moves the statistics; the block's maths is what differs.
    assert torch.allclose(late(x), early(x), atol=1e-4)
    with torch.no_grad():
        early.features[0][2].running_mean.fill_(0.5)  # a statistic now changes the outputs
    assert not torch.allclose(late(x), early(x), atol=1e-4)
    assert early(x).shape == (8, 10)
