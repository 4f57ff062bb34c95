"""The one data interface every loader returns: uint8 image sources indexed by batch, plus labels.

Images stay uint8 (N, C, H, W) in memory or in a memory map; batches are taken by indexing with a
LongTensor of positions, so no per-sample Python transform runs in the training loop. Conversion to
float, augmentation and normalisation happen per batch on the training device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch


class ImageSource(Protocol):
    """Anything that returns a uint8 (B, C, H, W) tensor for a LongTensor of positions."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: torch.Tensor) -> torch.Tensor: ...


class ArrayImages:
    """Wraps a uint8 numpy array or memory map (N, C, H, W) as an ImageSource."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, index: torch.Tensor) -> torch.Tensor:
        idx = index.numpy()
        # Sorted fancy indexing reads a memory map sequentially; restore the batch order after.
        order = np.argsort(idx, kind="stable")
        out = np.empty((len(idx), *self.array.shape[1:]), dtype=np.uint8)
        out[order] = self.array[idx[order]]
        return torch.from_numpy(out)


@dataclass
class Split:
    """One split of a data set: images (an ImageSource) and int64 labels of the same length."""

    images: ImageSource | torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]


@dataclass
class Domain:
    """A data set ready for training: named splits, class names and a data-quality report.

    `report` goes verbatim into metrics.json (bad images, clipped boxes, empty categories, ...);
    `augment` holds the keyword arguments of `training.batches.augment` suited to this data.
    """

    name: str
    classes: list[str]
    train: Split
    val: Split
    test: Split
    channels: int
    resolution: int
    report: dict = field(default_factory=dict)
    augment: dict = field(default_factory=dict)  # train-time batch augmentation suited to this data

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def stratified_subset(labels: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """Positions of a seeded, class-stratified subset; every non-empty class keeps at least one."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"train_fraction must be in (0, 1], got {fraction}")
    if fraction == 1.0:
        return torch.arange(len(labels))
    gen = torch.Generator().manual_seed(seed)
    keep = []
    for c in torch.unique(labels):
        pos = torch.nonzero(labels == c).flatten()
        n = max(1, round(fraction * len(pos)))
        keep.append(pos[torch.randperm(len(pos), generator=gen)[:n]])
    return torch.sort(torch.cat(keep)).values
