"""Image operations that turn one DeepFashion JPEG into a fixed-size uint8 array, and a parallel runner.

Decoding uses simplejpeg (libjpeg-turbo 3; it releases the GIL, so a thread pool scales), whose
pixels equal torchvision's `decode_jpeg` here but which decoded FashionSynth photos faster per core
(`make bench` reports both against Pillow). Pillow is the fallback for files libjpeg-turbo rejects
(e.g. a PNG saved as .jpg). A file neither can decode is a bad image: reported, never replaced.
Decoding at a reduced DCT scale was measured and not adopted: it reached 2x Pillow at 64 px only by
tripling the error against an exact antialiased resize (README, Performance).
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import simplejpeg
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as F

from fashion_transfer.errors import ConfigError

BOX_OK, BOX_CLIPPED, BOX_IGNORED = 0, 1, 2
VIEWS = ("rgb", "fmnist")
FMNIST_RESOLUTION = 28
_CHUNK = 64  # images per thread-pool task: large enough to amortise scheduling, small for balance


class BadImage(Exception):
    """Neither torchvision nor Pillow could decode the file."""


@dataclass(frozen=True)
class PreprocessSpec:
    """Everything that decides the output pixels; part of the cache key."""

    resolution: int
    view: str = "rgb"
    crop_margin: float = 0.1
    pad_square: bool = True
    invert_background: bool | str = "auto"  # fmnist view only: True, False or "auto"

    @property
    def channels(self) -> int:
        return 1 if self.view == "fmnist" else 3

    def key_fields(self) -> dict:
        invert = self.invert_background if self.view == "fmnist" else None
        return {
            "resolution": self.resolution,
            "view": self.view,
            "crop_margin": self.crop_margin,
            "pad_square": self.pad_square,
            "invert_background": invert,
        }


def make_spec(
    resolution: int, view: str, crop_margin: float, pad_square: bool, invert_background: bool | str
) -> PreprocessSpec:
    """Validate the preprocessing options; a bad value is a ConfigError naming the dataset key.

    The fmnist view is Fashion-MNIST's format, so it is 28x28 by definition: asking for another
    resolution with it is a contradiction we refuse rather than silently override.
    """
    if view not in VIEWS:
        raise ConfigError(f"dataset.view={view!r}: choose one of {', '.join(VIEWS)}")
    if not isinstance(resolution, int) or isinstance(resolution, bool) or resolution < 1:
        raise ConfigError(f"dataset.resolution={resolution!r}: must be a positive integer")
    if view == "fmnist" and resolution != FMNIST_RESOLUTION:
        raise ConfigError(
            f"dataset.view=fmnist is 28x28 grayscale but dataset.resolution={resolution}: "
            "set dataset.resolution=28 with dataset.view=fmnist"
        )
    if not 0.0 <= float(crop_margin) <= 1.0:
        raise ConfigError(
            f"dataset.crop_margin={crop_margin}: must be in [0, 1] (a fraction of the box size)"
        )
    if invert_background not in (True, False, "auto"):
        raise ConfigError(
            f"dataset.invert_background={invert_background!r}: choose true, false or auto"
        )
    return PreprocessSpec(resolution, view, float(crop_margin), bool(pad_square), invert_background)


def decode_rgb(path: Path) -> tuple[np.ndarray, bool]:
    """Decode to uint8 (H, W, 3), the decoder's own layout; the flag says Pillow was needed."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadImage(f"cannot read: {exc.strerror or exc}") from exc
    try:
        return simplejpeg.decode_jpeg(data, colorspace="RGB"), False
    except ValueError:  # not a JPEG, or one libjpeg-turbo rejects (e.g. truncated)
        pass
    try:
        with Image.open(io.BytesIO(data)) as img:
            rgb = np.array(img if img.mode == "RGB" else img.convert("RGB"))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise BadImage(f"{type(exc).__name__}: {exc}") from exc
    return rgb, True


def box_status(box: Sequence[int], width: int, height: int) -> int:
    """BOX_IGNORED for an empty/inverted box (or one wholly outside), BOX_CLIPPED if it sticks out."""
    x1, y1, x2, y2 = box
    if x2 <= x1 or y2 <= y1 or x1 >= width or y1 >= height or x2 <= 0 or y2 <= 0:
        return BOX_IGNORED
    if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
        return BOX_CLIPPED
    return BOX_OK


def crop_window(
    box: Sequence[int], width: int, height: int, margin: float
) -> tuple[int, int, int, int]:
    """The box grown by `margin` x its size on every side, clipped to the image; whole image if ignored."""
    x1, y1, x2, y2 = map(int, box)  # Python ints: numpy scalar arithmetic is slow
    if box_status((x1, y1, x2, y2), width, height) == BOX_IGNORED:
        return 0, 0, width, height
    dx, dy = margin * (x2 - x1), margin * (y2 - y1)
    left, top = max(0, math.floor(x1 - dx)), max(0, math.floor(y1 - dy))
    right, bottom = min(width, math.ceil(x2 + dx)), min(height, math.ceil(y2 + dy))
    return left, top, right, bottom


def border_mean(img: torch.Tensor) -> torch.Tensor:
    """Per-channel mean of the outermost ring of pixels (C,)."""
    ring = torch.cat([img[:, 0, :], img[:, -1, :], img[:, :, 0], img[:, :, -1]], dim=1)
    return ring.float().mean(dim=1)


def pad_to_square(img: np.ndarray) -> np.ndarray:
    """Centre a uint8 (C, H, W) image on a square canvas filled with its mean border colour.

    In numpy: a handful of torch calls on a 64 px image cost more than the resize before it. The
    mean of the ring is exact (integer sum), rounded half to even, as torch's float mean rounds.
    """
    c, h, w = img.shape
    if h == w:
        return img
    ring = np.concatenate([img[:, 0, :], img[:, -1, :], img[:, :, 0], img[:, :, -1]], axis=1)
    side = max(h, w)
    canvas = np.empty((c, side, side), dtype=np.uint8)
    fill = np.rint(np.add.reduce(ring, axis=1, dtype=np.int64) / ring.shape[1])
    canvas[...] = fill.astype(np.uint8)[:, None, None]
    top, left = (side - h) // 2, (side - w) // 2
    canvas[:, top : top + h, left : left + w] = img
    return canvas


def background_is_light(gray: torch.Tensor) -> bool:
    """Fashion-MNIST garments sit on black: a border lighter than the centre, or bright, needs inverting."""
    _, h, w = gray.shape
    border = float(border_mean(gray)[0])
    centre = gray[:, h // 4 : h - h // 4, w // 4 : w - w // 4].float().mean().item()
    return border > centre or border > 127


def fit_size(height: int, width: int, side: int) -> tuple[int, int]:
    """(h, w) scaled so the longer edge is `side`, aspect ratio kept."""
    scale = side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Antialiased bilinear resize of a uint8 (H, W, C) image to a uint8 (C, h, w) array.

    Straight to aten's antialias op on a compact copy of the crop: seen through torch as NCHW,
    that copy is channels-last, the layout torch's vectorised uint8 kernel needs, and copying a crop
    costs less than the kernel reading it through a strided view. The layout change is a numpy
    view and the op is called without interpolate's Python wrapper: right after a decode (cold
    caches) each torch-level call costs several microseconds, and dropping the permute, the
    unsqueeze and the index cut ~5-10% of decode+crop+resize (paired timings, measured here).
    """
    crop = np.ascontiguousarray(img)
    if crop.shape[:2] == tuple(size):
        return np.ascontiguousarray(crop.transpose(2, 0, 1))
    nchw = torch.from_numpy(crop[None].transpose(0, 3, 1, 2))
    return torch._C._nn._upsample_bilinear2d_aa(nchw, size, False, None).numpy()[0]


def transform(img: np.ndarray, box: Sequence[int], spec: PreprocessSpec) -> np.ndarray:
    """Crop a uint8 (H, W, 3) image to the (grown) box, resize with antialias, pad to square.

    Returns uint8 (C, side, side); the fmnist view is gray on a dark background. Resizing before
    padding keeps the work proportional to the garment, not to the padding; the pad colour is the
    mean border of the resized crop.
    """
    h, w, _ = img.shape
    left, top, right, bottom = crop_window(box, w, h, spec.crop_margin)
    side = spec.resolution
    size = fit_size(bottom - top, right - left, side) if spec.pad_square else (side, side)
    out = resize(img[top:bottom, left:right], size)
    if spec.view == "fmnist":
        gray = F.rgb_to_grayscale(torch.from_numpy(out))
        invert = spec.invert_background
        if invert is True or (invert == "auto" and background_is_light(gray)):
            gray = 255 - gray
        out = gray.numpy()
    return pad_to_square(out) if spec.pad_square else out


@dataclass
class ImageFacts:
    """Per-image outcome of a preprocessing pass, aligned with the positions it was given."""

    good: np.ndarray  # bool: decoded (by either decoder)
    box_status: np.ndarray  # int8: BOX_OK / BOX_CLIPPED / BOX_IGNORED (BOX_OK for bad images)
    fallback: np.ndarray  # bool: decoded by Pillow because torchvision could not
    errors: dict[int, str]  # row -> why the image is bad


def count_facts(facts: Iterable[ImageFacts]) -> dict[str, int]:
    """Clipped and ignored boxes and Pillow fallbacks over several passes (the report's counts)."""
    facts = list(facts)
    return {
        "clipped_boxes": int(sum((f.box_status == BOX_CLIPPED).sum() for f in facts)),
        "ignored_boxes": int(sum((f.box_status == BOX_IGNORED).sum() for f in facts)),
        "pillow_fallback": int(sum(f.fallback.sum() for f in facts)),
    }


def preprocess_many(
    paths: Sequence[Path],
    boxes: np.ndarray,
    spec: PreprocessSpec | None,
    out: np.ndarray | None,
    workers: int,
) -> ImageFacts:
    """Decode every path in a thread pool; with a spec, write the transformed image into out[row].

    Rows of bad images in `out` are left as zeros. With spec=None only decoding and box checks run
    (what the `check` command needs).
    """
    n = len(paths)
    facts = ImageFacts(np.zeros(n, bool), np.zeros(n, np.int8), np.zeros(n, bool), {})
    boxes = np.asarray(boxes).tolist()  # Python ints for the per-image box arithmetic

    def run(rows: range) -> None:
        for row in rows:
            try:
                img, used_fallback = decode_rgb(paths[row])
            except BadImage as exc:
                facts.errors[row] = str(exc)
                continue
            facts.good[row], facts.fallback[row] = True, used_fallback
            facts.box_status[row] = box_status(boxes[row], img.shape[1], img.shape[0])
            if spec is not None and out is not None:
                out[row] = transform(img, boxes[row], spec)

    chunks = [range(i, min(i + _CHUNK, n)) for i in range(0, n, _CHUNK)]
    # Parallelism comes from the pool; torch's own intra-op threads on top of it oversubscribe the
    # cores (measured 20x slower per image on a busy 2-core machine), so they are off meanwhile.
    intra_op = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            list(pool.map(run, chunks))  # list() re-raises any unexpected error from a worker
    finally:
        torch.set_num_threads(intra_op)
    return facts
