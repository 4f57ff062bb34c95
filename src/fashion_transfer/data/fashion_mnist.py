"""Fashion-MNIST (and FashionSynth studio) from torchvision's raw idx files, held in memory as uint8."""

from __future__ import annotations

from pathlib import Path

import torch

from fashion_transfer.data.base import Domain, Split, stratified_subset
from fashion_transfer.data.classes import FMNIST_CLASSES
from fashion_transfer.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from fashion_transfer.errors import DataError

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _download(root: Path) -> None:
    """Let torchvision fetch the canonical files into root/raw (needs a network)."""
    from torchvision.datasets import FashionMNIST

    try:
        for train in (True, False):
            FashionMNIST(str(root.parent), train=train, download=True)
    except Exception as exc:  # torchvision raises a variety of URL/OS errors
        raise DataError(
            f"could not download Fashion-MNIST into {root}/raw ({type(exc).__name__}: {exc}); "
            "copy the four idx files there by hand and set paths.data_dir=..."
        ) from exc


def _read_pair(raw: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    image_file, label_file = (raw / f for f in _FILES[split])
    images = read_idx(image_file, IMAGES_MAGIC)
    labels = read_idx(label_file, LABELS_MAGIC)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"{image_file}: expected 28x28 images, found shape {images.shape}")
    if len(images) != len(labels):
        raise DataError(
            f"{image_file} holds {len(images)} images but {label_file} {len(labels)} labels"
        )
    if labels.size and labels.max() >= len(FMNIST_CLASSES):
        raise DataError(f"{label_file}: label {labels.max()} outside 0..9")
    return torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype("int64"))


def check_layout(
    root: str | Path, download: bool = False, synthetic: bool = False, **_: object
) -> None:
    """Cheap check, before any training, that the four idx files are there (none is read)."""
    if download:
        return
    raw = Path(root) / "raw"
    for files in _FILES.values():
        for name in files:
            if not (raw / name).is_file():
                how = (
                    "generate FashionSynth with `python -m fashion_transfer.synth --out DIR` "
                    "and set paths.synth_dir=DIR"
                    if synthetic
                    else "set paths.data_dir=... to the folder holding FashionMNIST/raw, or "
                    "dataset.download=true where a network is available"
                )
                raise DataError(f"missing idx file {raw / name}: {how}")


def load_fashion_mnist(
    root: str | Path,
    name: str = "fashion_mnist",
    val_size: int = 5000,
    split_seed: int = 0,
    train_fraction: float = 1.0,
    fraction_seed: int = 0,
    download: bool = False,
    synthetic: bool = False,
    augment: dict | None = None,
) -> Domain:
    """Load train/val/test; val is carved from train with a fixed seed so every run selects alike."""
    root = Path(root)
    raw = root / "raw"
    if download:
        _download(root)
    if not raw.is_dir():
        raise DataError(
            f"Fashion-MNIST folder {raw} not found: set paths.data_dir=DIR to the folder holding "
            "FashionMNIST/raw/, or dataset.download=true where a network is available"
        )
    train_x, train_y = _read_pair(raw, "train")
    test_x, test_y = _read_pair(raw, "test")
    if not 0 < val_size < len(train_y):
        raise DataError(f"{name}: val_size={val_size} must be between 1 and {len(train_y) - 1}")
    perm = torch.randperm(len(train_y), generator=torch.Generator().manual_seed(split_seed))
    val_idx, train_idx = perm[:val_size].sort().values, perm[val_size:].sort().values
    keep = train_idx[stratified_subset(train_y[train_idx], train_fraction, fraction_seed)]
    report = {
        "synthetic": synthetic,
        "root": str(root),
        "splits": {"train": len(keep), "val": len(val_idx), "test": len(test_y)},
    }
    return Domain(
        name=name,
        classes=list(FMNIST_CLASSES),
        train=Split(train_x[keep], train_y[keep]),
        val=Split(train_x[val_idx], train_y[val_idx]),
        test=Split(test_x, test_y),
        channels=1,
        resolution=28,
        report=report,
        augment=dict(augment or {}),
    )
