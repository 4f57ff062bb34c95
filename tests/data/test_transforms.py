"""The per-image decode and transform against the public operations they shortcut."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import simplejpeg
import torch
import torch.nn.functional as F
from PIL import Image

from fashion_transfer.data.deepfashion_lists import validate_layout
from fashion_transfer.data.transforms import (
    Decoded,
    crop_window,
    decode_rgb,
    finish,
    make_spec,
    pad_to_square,
    resize,
    transform,
)
from fashion_transfer.errors import ConfigError

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
    out = transform(Decoded.of(img), (50, 100, 100, 200), make_spec(32, "rgb", 0.0, True, "auto"))
    assert out.shape == (3, 32, 32) and out.dtype == np.uint8
    red = np.array([200, 10, 10], dtype=np.uint8)[:, None, None]
    assert (out == red).all()  # the crop is all garment, so is the padding's border colour
    grown = transform(Decoded.of(img), (50, 100, 100, 200), make_spec(32, "rgb", 0.1, True, "auto"))
    assert (grown[:, 16, 10:22] == red[:, 0]).all() and (grown[:, 0, 0] > 200).all()


def wild_images(root: Path) -> list[tuple[Path, tuple[int, int, int, int]]]:
    lists = validate_layout(root, synthetic=True)
    return [(lists.image_path(p), tuple(lists.boxes[p].tolist())) for p in range(len(lists.names))]


def even_window(box, height: int, width: int, margin: float) -> tuple[int, int, int, int]:
    """The crop window widened outward to even pixels (inward at an odd image edge), as at half size."""
    left, top, right, bottom = crop_window(box, width, height, margin)
    right, bottom = min(-(-right // 2), width // 2) * 2, min(-(-bottom // 2), height // 2) * 2
    return left // 2 * 2, top // 2 * 2, right, bottom


def test_half_size_decoding_stays_within_a_gray_level_of_full_size(clean_root) -> None:
    """On FashionSynth photos at 64 px: half size exactly where the window is >= 128 px."""
    spec, exact = (
        make_spec(64, "rgb", 0.1, True, "auto"),
        make_spec(64, "rgb", 0.1, True, "auto", False),
    )
    same_window, exact_window = [], []
    for path, box in wild_images(clean_root[0]):
        img, full = decode_rgb(path, box, spec), decode_rgb(path, box, exact)
        left, top, right, bottom = crop_window(box, full.width, full.height, 0.1)
        assert full.scale == 1 and (full.height, full.width) == full.pixels.shape[:2]
        assert (img.height, img.width) == (full.height, full.width)
        assert img.scale == (2 if max(right - left, bottom - top) >= 128 else 1)
        assert img.pixels.shape[:2] == (-(-full.height // img.scale), -(-full.width // img.scale))
        fast, slow = transform(img, box, spec).astype(int), transform(full, box, exact)
        if img.scale == 1:
            assert np.array_equal(fast, slow)
            continue
        left, top, right, bottom = even_window(box, full.height, full.width, 0.1)
        widened = finish(full.pixels[top:bottom, left:right], spec)
        same_window.append(np.abs(fast - widened).mean())
        exact_window.append(np.abs(fast - slow).mean())
    assert len(same_window) >= 20  # most of the 30 crops qualify at 64 px
    assert np.mean(same_window) < 1.0 and max(same_window) < 3.0, same_window
    assert np.mean(exact_window) < 2.5, exact_window  # the window moved by up to a pixel per side


def test_stretching_to_square_needs_both_edges_twice_the_output(tmp_path: Path) -> None:
    """Without padding a wide crop is stretched, so its short edge must allow half size too."""
    path = tmp_path / "img.jpg"
    garment_jpeg(path, 81, 158)  # 241 x 300 px
    wide, square = (20, 100, 220, 150), (20, 50, 220, 250)  # windows 240 x 60 and 240 x 240 px
    padded, stretched = (
        make_spec(32, "rgb", 0.1, True, "auto"),
        make_spec(32, "rgb", 0.1, False, "auto"),
    )
    assert decode_rgb(path, wide, padded).scale == 2  # 240 >= 64: the long edge decides
    assert decode_rgb(path, wide, stretched).scale == 1  # 60 < 64
    assert decode_rgb(path, square, stretched).scale == 2
    out = transform(decode_rgb(path, square, stretched), square, stretched)
    assert out.shape == (3, 32, 32)


def garment_jpeg(path: Path, left: int, right: int) -> None:
    """A light photo with a dark vertical band over [left, right) columns, 4:2:0 like DeepFashion."""
    img = np.full((300, 241, 3), 230, dtype=np.uint8)
    img[:, left:right] = (40, 60, 90)
    path.write_bytes(
        simplejpeg.encode_jpeg(img, quality=95, colorspace="RGB", colorsubsampling="420")
    )


@pytest.mark.parametrize(("left", "right"), [(81, 158), (80, 158), (81, 157)])
def test_half_size_pixels_land_where_full_size_ones_do(tmp_path: Path, left, right) -> None:
    """The half-size window maps onto whole decoded pixels: the garment does not move in the output."""
    path = tmp_path / "img.jpg"
    garment_jpeg(path, left, right)
    box = (31, 21, 211, 281)  # odd corners: the grown window starts at odd pixels too
    spec = make_spec(64, "rgb", 0.1, True, "auto")
    half, full = decode_rgb(path, box, spec), decode_rgb(path)
    assert half.scale == 2 and full.scale == 1
    window = even_window(box, full.height, full.width, 0.1)
    assert window != crop_window(box, full.width, full.height, 0.1)

    def centre(out: np.ndarray) -> float:
        dark = 230.0 - out[0].astype(float).mean(axis=0)  # per output column
        return float((dark * np.arange(len(dark))).sum() / dark.sum())

    left, top, right, bottom = window
    expected = finish(full.pixels[top:bottom, left:right], spec)
    assert abs(centre(transform(half, box, spec)) - centre(expected)) < 0.05


def test_a_png_named_jpg_is_decoded_by_pillow_at_full_size(tmp_path: Path) -> None:
    path = tmp_path / "img.jpg"
    Image.fromarray(np.full((300, 200, 3), 128, dtype=np.uint8)).save(path, format="PNG")
    img = decode_rgb(path, (10, 10, 190, 290), make_spec(64, "rgb", 0.1, True, "auto"))
    assert img.fallback and img.scale == 1 and img.pixels.shape == (300, 200, 3)


def test_dct_scaling_must_be_a_boolean() -> None:
    with pytest.raises(ConfigError, match="dataset.dct_scaling='yes'"):
        make_spec(64, "rgb", 0.1, True, "auto", "yes")
