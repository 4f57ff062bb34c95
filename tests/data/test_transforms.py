"""The per-image transform's pieces against the public operations they shortcut."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fashion_transfer.data.transforms import (
    crop_window,
    make_spec,
    pad_to_square,
    resize,
    transform,
)

RNG = np.random.default_rng(0)


@pytest.mark.parametrize(
    ("crop", "size"),
    [((0, 0, 190, 181), (64, 61)), ((7, 3, 120, 40), (23, 64)), ((5, 5, 69, 69), (64, 64))],
)
def test_resize_equals_torchs_antialiased_interpolate(crop, size) -> None:
    img = RNG.integers(0, 256, (200, 190, 3), dtype=np.uint8)  # decoded layout: (H, W, C)
    left, top, right, bottom = crop
    view = img[top:bottom, left:right]  # a strided view, as transform passes it
    expected = F.interpolate(
        torch.from_numpy(np.ascontiguousarray(view.transpose(2, 0, 1)))[None],
        size=size,
        mode="bilinear",
        antialias=True,
    )[0]
    out = resize(view, size)
    assert out.shape == (3, *size) and out.dtype == np.uint8
    assert np.array_equal(out, expected.numpy())


def reference_pad(img: np.ndarray) -> np.ndarray:
    """The definition: the mean of the four edges (corners twice), as torch's float mean rounds."""
    c, h, w = img.shape
    t = torch.from_numpy(img)
    ring = torch.cat([t[:, 0, :], t[:, -1, :], t[:, :, 0], t[:, :, -1]], dim=1).double()
    fill = ring.mean(dim=1).round().to(torch.uint8)
    side = max(h, w)
    canvas = fill[:, None, None].expand(c, side, side).clone()
    top, left = (side - h) // 2, (side - w) // 2
    canvas[:, top : top + h, left : left + w] = t
    return canvas.numpy()


@pytest.mark.parametrize("shape", [(3, 64, 61), (3, 17, 64), (1, 1, 28), (3, 28, 1), (1, 5, 5)])
def test_pad_to_square_fills_with_the_rounded_border_mean(shape) -> None:
    img = RNG.integers(0, 256, shape, dtype=np.uint8)
    out = pad_to_square(img)
    assert out.shape == (shape[0], max(shape[1:]), max(shape[1:]))
    assert np.array_equal(out, reference_pad(img))


def test_pad_to_square_rounds_a_tie_to_even() -> None:
    img = np.zeros((1, 2, 4), dtype=np.uint8)  # the ring: 4 + 4 + 2 + 2 = 12 values
    img[0, 0, 1:3] = 3  # 6 / 12 = 0.5: a tie, rounds to 0 (even)
    assert pad_to_square(img)[0, 0, 0] == 0
    img[0, 0, 1:3] = 9  # 18 / 12 = 1.5: rounds to 2 (even)
    assert pad_to_square(img)[0, 0, 0] == 2
    img[0, 0, 0] = 6  # a corner counts twice: (18 + 12) / 12 = 2.5, rounds to 2
    assert pad_to_square(img)[0, 0, 0] == 2


def test_transform_crops_the_grown_box_resizes_and_pads() -> None:
    img = np.full((300, 200, 3), 240, dtype=np.uint8)
    img[100:200, 50:100] = (200, 10, 10)  # a red garment, twice as tall as wide
    assert crop_window((50, 100, 100, 200), 200, 300, 0.1) == (45, 90, 105, 210)
    out = transform(img, (50, 100, 100, 200), make_spec(32, "rgb", 0.0, True, "auto"))
    assert out.shape == (3, 32, 32) and out.dtype == np.uint8
    red = np.array([200, 10, 10], dtype=np.uint8)[:, None, None]
    assert (out == red).all()  # the crop is all garment, so is the padding's border colour
    grown = transform(img, (50, 100, 100, 200), make_spec(32, "rgb", 0.1, True, "auto"))
    assert (grown[:, 16, 10:22] == red[:, 0]).all() and (grown[:, 0, 0] > 200).all()
