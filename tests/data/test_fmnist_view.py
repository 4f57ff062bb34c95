"""The Fashion-MNIST view: each of Zalando's conversion steps, the background choices, fidelity."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from fashion_transfer.data import cache as cache_mod
from fashion_transfer.data import fmnist_view as fv
from fashion_transfer.data.deepfashion import load_deepfashion
from fashion_transfer.data.idx import IMAGES_MAGIC, read_idx
from fashion_transfer.data.transforms import make_spec
from fashion_transfer.synth.generate import generate_wild

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"  # as tests/conftest.py finds it
FMNIST_TRAIN = (
    Path(os.environ.get("FASHION_TRANSFER_SHARED", SHARED))
    / "FashionMNIST/raw/train-images-idx3-ubyte"
)
WHITE = 255


def garment_on_white(height: int = 60, width: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """A dark, tall ellipse (35 x 21 px) on pure white: a product shot. Returns (rgb, mask)."""
    yy, xx = np.mgrid[:height, :width]
    mask = (yy - 30) ** 2 / 17.5**2 + (xx - 20) ** 2 / 10.5**2 <= 1
    rgb = np.full((height, width, 3), WHITE, dtype=np.uint8)
    rgb[mask] = (40, 60, 90)
    return rgb, mask


def test_trim_drops_edges_within_five_percent_of_the_corner_colour() -> None:
    img = np.full((30, 20, 3), 250, dtype=np.uint8)
    img[5:25, 4:16] = 10
    assert fv.trim(img, fv.corner_colour(img)).shape == (20, 12, 3)
    limit = 0.05 * 255 * np.sqrt(3)  # 22.08 in RGB distance
    img[2, 10] = 250 - 12  # distance 12 * sqrt(3) = 20.8: close, trimmed
    assert fv.trim(img, fv.corner_colour(img)).shape == (20, 12, 3)
    img[2, 10] = 250 - 13  # 22.5 > limit: kept, so rows 2.. stay
    assert 13 * np.sqrt(3) > limit
    assert fv.trim(img, fv.corner_colour(img)).shape == (23, 12, 3)
    blank = np.full((5, 5, 3), 7, dtype=np.uint8)
    assert fv.trim(blank, fv.corner_colour(blank)).shape == (5, 5, 3)  # all background: whole


def test_subsample_keeps_every_nth_pixel_and_the_aspect_ratio() -> None:
    img = np.arange(73 * 51 * 3).reshape(73, 51, 3)
    out = fv.subsample(img)
    assert out.shape == (28, 20, 3)  # 51 * 28 / 73 = 19.6
    rows = ((np.arange(28) + 0.5) * 73 / 28).astype(int)
    cols = ((np.arange(20) + 0.5) * 51 / 20).astype(int)
    assert np.array_equal(out, img[rows][:, cols])  # no filter: input pixels only
    assert fv.subsample(np.zeros((10, 4, 3))).shape == (28, 11, 3)  # upward, too


def test_sharpen_kernel_is_the_gaussian_operator_of_radius_and_sigma_one() -> None:
    k = fv.sharpen_kernel()
    g = np.exp(-(np.arange(-1, 2)[:, None] ** 2 + np.arange(-1, 2)[None, :] ** 2) / 2)
    assert k.shape == (3, 3) and k.sum() == pytest.approx(1.0)
    total = (2 * g.sum() - (g.sum() - g[1, 1])) / (2 * np.pi)
    assert k[0, 0] == pytest.approx(-g[0, 0] / (2 * np.pi) / total)
    assert k[1, 1] == pytest.approx(2 * g.sum() / (2 * np.pi) / total)
    flat = np.full((6, 6, 3), 100.0)
    assert np.allclose(fv.sharpen(flat), flat)  # flat areas untouched
    step = np.full((6, 6, 3), 100.0)
    step[:, 3:] = 200
    out = fv.sharpen(step)
    assert (out[:, 2] < 100).all() and (out[:, 3] > 200).all()  # the effect is at the outline
    assert np.allclose(out[:, 0], 100) and np.allclose(out[:, 5], 200)


def test_extend_centres_on_a_square_canvas_of_the_colour() -> None:
    img = np.full((28, 11, 3), 9.0)
    out = fv.extend(img, np.array([255.0, 255.0, 255.0]))
    assert out.shape == (28, 28, 3)
    assert (out[:, 8:19] == 9).all() and (out[:, :8] == 255).all() and (out[:, 19:] == 255).all()


def test_negate_and_gray8() -> None:
    rgb = np.array([[[255.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    assert np.array_equal(fv.negate(rgb)[0, 1], [255, 255, 255])
    assert np.array_equal(fv.gray8(rgb), [[76, 0]])  # 0.2989 * 255 = 76.2


@pytest.mark.parametrize("background", fv.BACKGROUNDS)
def test_a_garment_on_white_comes_out_on_exact_black_centred_longest_edge_28(
    background: str,
) -> None:
    rgb, mask = garment_on_white()
    out = fv.convert(rgb, (2, 2, 38, 58), background)
    assert out.shape == (1, 28, 28) and out.dtype == np.uint8
    img = out[0]
    rows, cols = np.flatnonzero(img.any(axis=1)), np.flatnonzero(img.any(axis=0))
    assert (rows[0], rows[-1]) == (0, 27)  # trimmed: the garment spans the longest edge
    assert abs(cols[0] - (27 - cols[-1])) <= 2  # centred (subsampling may drop a faint edge)
    assert 14 <= cols[-1] - cols[0] + 1 <= 19  # 21 / 35 * 28 = 16.8 wide
    assert img[:, : cols[0]].max() == 0 and img[:, cols[-1] + 1 :].max() == 0
    assert img[[0, 0, -1, -1], [0, -1, 0, -1]].max() == 0  # exact black around it
    assert img[14, 14] > 150  # the dark garment, negated, is bright


def test_flatten_and_segment_reach_fashion_mnists_range() -> None:
    rgb = np.full((60, 40, 3), 120, dtype=np.uint8)  # a mid-gray wall
    yy, xx = np.mgrid[:60, :40]
    rgb[(yy - 30) ** 2 / 17.5**2 + (xx - 20) ** 2 / 10.5**2 <= 1] = (80, 80, 80)
    for background in ("flatten", "segment"):
        img = fv.convert(rgb, (2, 2, 38, 58), background)[0]
        assert np.percentile(img, 99) == pytest.approx(fv.FMNIST_STATS["p99"], abs=1.5)
        assert img[0, 0] == 0


def clutter_scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """A striped garment silhouette on clutter; returns (rgb, mask, box).

    The clutter is 40 rectangles in a room's few colours (a palette of six), so the colours
    behind the garment also occur outside its box, where GrabCut learns the background.
    """
    rng = np.random.default_rng(seed)
    h, w = 90, 70
    palette = rng.integers(90, 256, (6, 3))
    img = np.empty((h, w, 3), dtype=np.uint8)
    img[...] = rng.integers(120, 220, 3)
    for _ in range(40):
        y, x = rng.integers(0, h - 4), rng.integers(0, w - 4)
        img[y : y + rng.integers(4, 25), x : x + rng.integers(4, 25)] = palette[rng.integers(6)]
    yy, xx = np.mgrid[:h, :w]
    body = (abs(xx - 35) <= 14) & (yy >= 22) & (yy <= 78)
    sleeves = (abs(yy - 30) <= 6) & (abs(xx - 35) <= 26) & (yy >= 22)
    mask = body | sleeves
    stripes = ((yy // 4) % 2).astype(bool)
    garment = np.where(stripes[..., None], [30, 40, 70], [45, 60, 95]).astype(np.uint8)
    img[mask] = garment[mask]
    ys, xs = np.nonzero(mask)
    box = (int(xs.min()) - 2, int(ys.min()) - 2, int(xs.max()) + 3, int(ys.max()) + 3)
    return img, mask, box


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_grabcut_recovers_a_garment_on_clutter(seed: int) -> None:
    rgb, truth, box = clutter_scene(seed)
    found = fv.grabcut_mask(rgb, box)
    iou = (found & truth).sum() / (found | truth).sum()
    assert iou >= 0.8
    assert np.array_equal(found, fv.grabcut_mask(rgb, box))  # seeded: the same mask every time


def test_view_stats_of_hand_made_images() -> None:
    x = np.zeros((2, 1, 28, 28), dtype=np.uint8)
    x[0, 0, 1:27, 1:27] = 200
    x[1, 0, :, :] = 100
    stats = fv.view_stats(x)
    assert stats["zero_fraction"] == pytest.approx((28 * 28 - 26 * 26) / (2 * 784))
    assert stats["border_mean"] == pytest.approx(50.0)  # ring of image 0 is 0, of image 1 100
    assert stats["p99"] == pytest.approx(150.0)
    assert stats["mean"] == pytest.approx(x.mean()) and stats["std"] == pytest.approx(x.std())
    assert fv.within_bounds(fv.FMNIST_STATS) == dict.fromkeys(fv.FIDELITY_BOUNDS, True)


@pytest.mark.skipif(
    not FMNIST_TRAIN.is_file(),
    reason="real Fashion-MNIST not at ../shared/data (set FASHION_TRANSFER_SHARED)",
)
def test_fashion_mnist_stats_are_the_real_datas() -> None:
    stats = fv.view_stats(read_idx(FMNIST_TRAIN, IMAGES_MAGIC))
    for key, value in fv.FMNIST_STATS.items():
        assert stats[key] == pytest.approx(value, abs=0.05 if key != "zero_fraction" else 5e-4)


@pytest.fixture(scope="module")
def wild_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wild") / "wild"
    generate_wild(root, 160, 1)
    return root


def test_default_view_is_within_the_fidelity_bounds_on_fashionsynth_wild(wild_root: Path) -> None:
    """Acceptance of issue 14: the default view's statistics against Fashion-MNIST's bounds."""
    domain = load_deepfashion(wild_root, 28, view="fmnist", synthetic=True, workers=2)
    assert domain.report["fmnist_background"] == fv.DEFAULT_BACKGROUND
    images = np.concatenate([s.images.numpy() for s in (domain.train, domain.val, domain.test)])
    stats = fv.view_stats(images)
    assert fv.within_bounds(stats) == dict.fromkeys(fv.FIDELITY_BOUNDS, True), stats
    keep = load_deepfashion(
        wild_root, 28, view="fmnist", synthetic=True, workers=2, fmnist_background="keep"
    )
    assert not all(fv.within_bounds(fv.view_stats(keep.test.images.numpy())).values())


def test_the_background_is_part_of_the_cache_key(df_root: Path) -> None:
    from fashion_transfer.data.deepfashion_lists import validate_layout

    digest = validate_layout(df_root).digest
    keys = {
        b: cache_mod.cache_key(digest, make_spec(28, "fmnist", 0.1, True, "auto", True, b))
        for b in fv.BACKGROUNDS
    }
    assert len(set(keys.values())) == len(fv.BACKGROUNDS)
    rgb = {
        cache_mod.cache_key(digest, make_spec(24, "rgb", 0.1, True, "auto", True, b))
        for b in fv.BACKGROUNDS
    }
    assert len(rgb) == 1  # the rgb view has no background choice: one cache for all


def test_views_cache_separately(df_root: Path, tmp_path: Path) -> None:
    cached = {
        b: load_deepfashion(
            df_root,
            28,
            view="fmnist",
            fmnist_background=b,
            cache=True,
            cache_dir=tmp_path,
            workers=1,
        )
        for b in ("keep", "segment")
    }
    assert cached["keep"].report["cache"]["key"] != cached["segment"].report["cache"]["key"]
    assert not np.array_equal(
        cached["keep"].test.batch(torch.arange(3))[0],
        cached["segment"].test.batch(torch.arange(3))[0],
    )
