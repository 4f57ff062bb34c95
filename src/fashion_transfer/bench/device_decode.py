"""On-the-fly decoding on the training device, as a loader without a cache would do it on a GPU.

Each step reads its batch's JPEG files and decodes them with torchvision's `decode_jpeg` on the
training device (nvjpeg on CUDA, libjpeg-turbo on the CPU), crops each to its grown box and
resizes it with antialias there, then runs the suite's train step. Crops are stretched to square,
as in the Pillow reference (`Resize((r, r))`), not padded as the suite's cache does: a throughput
reference for the GPU check, not a second preprocessing path.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torchvision.io import ImageReadMode, decode_jpeg, read_file

from fashion_transfer.bench.timing import Case
from fashion_transfer.data.deepfashion_lists import DeepFashionLists
from fashion_transfer.training.loop import TrainState, model_input, train_step


def _window(box, margin: float, height: int, width: int) -> tuple[int, int, int, int]:
    """The box grown by `margin` of its size on every side, clipped to the image."""
    x1, y1, x2, y2 = (float(v) for v in box)
    gx, gy = margin * (x2 - x1), margin * (y2 - y1)
    left, top = max(0, int(x1 - gx)), max(0, int(y1 - gy))
    return left, top, min(width, int(x2 + gx) + 1), min(height, int(y2 + gy) + 1)


def device_decode_case(
    name: str,
    state: TrainState,
    lists: DeepFashionLists,
    resolution: int,
    margin: float,
    steps: int,
) -> Case:
    """`steps` train steps, each on a batch decoded, cropped and resized on `state.device`."""
    positions = [int(p) for p in lists.splits["train"]]
    cursor = itertools.cycle(positions)

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        idx = [next(cursor) for _ in range(state.batch_size)]
        files = [read_file(str(lists.image_path(p))) for p in idx]
        images = decode_jpeg(files, mode=ImageReadMode.RGB, device=state.device)
        crops = []
        for img, p in zip(images, idx, strict=True):
            left, top, right, bottom = _window(lists.boxes[p], margin, *img.shape[1:])
            crop = img[None, :, top:bottom, left:right].float()
            crops.append(F.interpolate(crop, (resolution,) * 2, mode="bilinear", antialias=True))
        labels = torch.tensor([int(lists.labels[p]) for p in idx], device=state.device)
        return torch.cat(crops).div_(255.0), labels

    def run() -> int:
        state.model.train()
        for _ in range(steps):
            x, y = batch()
            train_step(state, model_input(state.model, x), y)
        return steps * state.batch_size

    note = "decode_jpeg on the device, box crop and antialiased resize there, same step"
    return Case(name, run, state.batch_size, note)
