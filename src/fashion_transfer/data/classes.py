"""Fashion-MNIST's ten class names in label order: the one list the loaders, the label map and
FashionSynth's studio domain share (no torch import, so the generator stays light)."""

from __future__ import annotations

FMNIST_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
