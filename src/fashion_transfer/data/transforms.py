"""Image operations that turn one DeepFashion JPEG into a fixed-size uint8 array, and a parallel runner.

Decoding uses simplejpeg (libjpeg-turbo 3; it releases the GIL, so a thread pool scales), whose
pixels equal torchvision's `decode_jpeg` here but which decoded FashionSynth photos faster per core
(`make bench` reports both against Pillow). Pillow is the fallback for files libjpeg-turbo rejects
(e.g. a PNG saved as .jpg). A file neither can decode is a bad image: reported, never replaced.

With `dct_scaling` (the default) a JPEG whose crop window is at least twice the output side is
decoded at half size by libjpeg's scaled inverse DCT, which drops the upper half of each block's
frequencies as it decodes and quarters the colour conversion; the window is widened to even pixels
so that it maps exactly onto the half-size image, and the antialiased resize, now on a quarter of
the pixels, still downsamples. On 1,000 FashionSynth photos at 64 px (991 qualify) the outputs are
a mean 0.5 gray levels from a full-size decode of the same window (README, Performance). Smaller
scales (1/4, 3/8) were measured and not adopted: they tripled the difference. At 224 px
DeepFashion's 300-px photos never qualify.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import simplejpeg
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from fashion_transfer.data import fmnist_view
from fashion_transfer.errors import ConfigError
from fashion_transfer.utils import torch_threads

BOX_OK, BOX_CLIPPED, BOX_IGNORED = 0, 1, 2
VIEWS = ("rgb", "fmnist")
FMNIST_RESOLUTION = 28
_CHUNK = 64  # images per thread-pool task: large enough to amortise scheduling, small for balance


class BadImage(Exception):
    """Neither libjpeg-turbo nor Pillow could decode the file."""


@dataclass(frozen=True)
class PreprocessSpec:
    """Everything that decides the output pixels; part of the cache key."""

    resolution: int
    view: str = "rgb"
    crop_margin: float = 0.1
    pad_square: bool = True
    invert_background: bool | str = "auto"  # fmnist view only: True, False or "auto"
    dct_scaling: bool = True  # decode at half size where the crop window allows (module doc)
    fmnist_background: str = fmnist_view.DEFAULT_BACKGROUND  # fmnist view only (fmnist_view)

    @property
    def channels(self) -> int:
        return 1 if self.view == "fmnist" else 3

    @property
    def working_side(self) -> int:
        """The side the crop is resampled to first: the output's, or the fmnist view's thumbnail."""
        return fmnist_view.THUMBNAIL_SIDE if self.view == "fmnist" else self.resolution

    def key_fields(self) -> dict:
        fmnist = self.view == "fmnist"
        return {
            "resolution": self.resolution,
            "view": self.view,
            "crop_margin": self.crop_margin,
            "pad_square": None if fmnist else self.pad_square,  # the fmnist view always centres
            "invert_background": self.invert_background if fmnist else None,
            "fmnist_background": self.fmnist_background if fmnist else None,
            "dct_scaling": self.dct_scaling,
        }


def make_spec(
    resolution: int,
    view: str,
    crop_margin: float,
    pad_square: bool,
    invert_background: bool | str,
    dct_scaling: bool = True,
    fmnist_background: str = fmnist_view.DEFAULT_BACKGROUND,
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
    if not isinstance(dct_scaling, bool):
        raise ConfigError(f"dataset.dct_scaling={dct_scaling!r}: choose true or false")
    if fmnist_background not in fmnist_view.BACKGROUNDS:
        raise ConfigError(
            f"dataset.fmnist_background={fmnist_background!r}: "
            f"choose one of {', '.join(fmnist_view.BACKGROUNDS)}"
        )
    return PreprocessSpec(
        resolution,
        view,
        float(crop_margin),
        bool(pad_square),
        invert_background,
        dct_scaling,
        fmnist_background,
    )


@dataclass(frozen=True)
class Decoded:
    """A decoded file: uint8 (H, W, 3) pixels at 1/scale of the file's own (height, width)."""

    pixels: np.ndarray
    height: int
    width: int
    scale: int = 1  # 1: full size; 2: half size (libjpeg DCT scaling)
    fallback: bool = False  # decoded by Pillow because libjpeg-turbo rejected the file

    @classmethod
    def of(cls, pixels: np.ndarray) -> Decoded:
        """A full-size image already in memory."""
        return cls(pixels, pixels.shape[0], pixels.shape[1])


def decode_scale(window: tuple[int, int, int, int], spec: PreprocessSpec) -> int:
    """2 where the half-size crop still has at least the working side's pixels along each edge.

    Padded to square (and in the fmnist view), the output keeps the crop's aspect ratio, so the
    longer edge decides; stretched to square (pad_square=false), both edges must be at least twice
    the output side.
    """
    left, top, right, bottom = window
    edges = (right - left, bottom - top)
    edge = max(edges) if spec.pad_square or spec.view == "fmnist" else min(edges)
    return 2 if spec.dct_scaling and edge >= 2 * spec.working_side else 1


def decode_rgb(
    path: Path, box: Sequence[int] | None = None, spec: PreprocessSpec | None = None
) -> Decoded:
    """Decode to uint8 (H, W, 3), the decoder's own layout; at half size where `spec` allows it.

    Without a box and spec (the `check` command) every image is decoded at full size.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise BadImage("missing file (listed, but not on disk)") from exc
    except OSError as exc:
        raise BadImage(f"cannot read: {exc.strerror or exc}") from exc
    try:
        height, width = simplejpeg.decode_jpeg_header(data)[:2]
        scale = 1
        if box is not None and spec is not None:
            scale = decode_scale(crop_window(box, width, height, spec.crop_margin), spec)
        if scale == 1:
            return Decoded(simplejpeg.decode_jpeg(data, colorspace="RGB"), height, width)
        # libjpeg picks the smallest n/8 scale meeting both minimums: exactly 4/8 here
        half = (-(-height // 2), -(-width // 2))
        pixels = simplejpeg.decode_jpeg(
            data, colorspace="RGB", min_height=half[0], min_width=half[1]
        )
        if pixels.shape[:2] != half:
            pixels, scale = simplejpeg.decode_jpeg(data, colorspace="RGB"), 1
        return Decoded(pixels, height, width, scale)
    except ValueError as exc:  # not a JPEG, or one libjpeg-turbo rejects (e.g. truncated)
        jpeg_error = str(exc)
    try:
        with Image.open(io.BytesIO(data)) as img:
            rgb = np.array(img if img.mode == "RGB" else img.convert("RGB"))
    except UnidentifiedImageError as exc:  # its message names only the in-memory buffer
        raise BadImage(
            f"undecodable: libjpeg-turbo: {jpeg_error}; Pillow: not an image format it knows"
        ) from exc
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise BadImage(
            f"undecodable: libjpeg-turbo: {jpeg_error}; Pillow: {type(exc).__name__}: {exc}"
        ) from exc
    return Decoded(rgb, rgb.shape[0], rgb.shape[1], fallback=True)


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


def fit_size(height: int, width: int, side: int) -> tuple[int, int]:
    """(h, w) scaled so the longer edge is `side`, aspect ratio kept."""
    scale = side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Antialiased bilinear resize of a uint8 (H, W, C) image to a uint8 (C, h, w) array.

    On a compact copy of the crop: seen through torch as NCHW (a numpy view, no permute), that copy
    is channels-last, the layout torch's vectorised uint8 kernel needs, and copying a crop costs
    less than the kernel reading it through a strided view.
    """
    crop = np.ascontiguousarray(img)
    if crop.shape[:2] == tuple(size):
        return np.ascontiguousarray(crop.transpose(2, 0, 1))
    nchw = torch.from_numpy(crop[None].transpose(0, 3, 1, 2))
    out = F.interpolate(nchw, size=size, mode="bilinear", align_corners=False, antialias=True)
    return out.numpy()[0]


def decoded_window(img: Decoded, box: Sequence[int], margin: float) -> tuple[int, int, int, int]:
    """The grown box's window in the decoded image's pixels.

    The window is computed at the file's full size; on a half-size image it is widened outward to
    even pixels, so it maps onto whole decoded pixels (at an odd image edge it loses that last
    pixel instead: libjpeg pads past it).
    """
    left, top, right, bottom = crop_window(box, img.width, img.height, margin)
    s = img.scale
    if s == 1:
        return left, top, right, bottom
    right, bottom = min(-(-right // s), img.width // s), min(-(-bottom // s), img.height // s)
    return left // s, top // s, right, bottom


def finish(crop: np.ndarray, spec: PreprocessSpec, box: Sequence[int] | None = None) -> np.ndarray:
    """Make the view of a uint8 (H, W, 3) crop: a uint8 (C, side, side) array.

    The fmnist view is Zalando's conversion (`fmnist_view.convert`) of the crop, whose garment
    lies in `box` (x1, y1, x2, y2 in the crop's pixels; the whole crop when None). The rgb view
    resizes with antialias and pads to square; resizing before padding keeps the work
    proportional to the garment, not to the padding; the pad colour is the mean border of the
    resized crop.
    """
    if spec.view == "fmnist":
        box = (0, 0, crop.shape[1], crop.shape[0]) if box is None else box
        return fmnist_view.convert(crop, box, spec.fmnist_background, spec.invert_background)
    side = spec.resolution
    size = fit_size(*crop.shape[:2], side) if spec.pad_square else (side, side)
    out = resize(crop, size)
    return pad_to_square(out) if spec.pad_square else out


def box_in_window(
    img: Decoded, box: Sequence[int], window: tuple[int, int, int, int]
) -> tuple[int, int, int, int]:
    """The box (file pixels) in the pixels of a window of the decoded image, clipped to it."""
    left, top, right, bottom = window
    s = img.scale
    x1, y1, x2, y2 = (int(v) for v in box)
    if box_status((x1, y1, x2, y2), img.width, img.height) == BOX_IGNORED:
        return 0, 0, right - left, bottom - top
    w, h = right - left, bottom - top
    x1, y1 = min(max(0, x1 // s - left), w - 1), min(max(0, y1 // s - top), h - 1)
    x2, y2 = max(x1 + 1, min(w, -(-x2 // s) - left)), max(y1 + 1, min(h, -(-y2 // s) - top))
    return x1, y1, x2, y2


def transform(img: Decoded, box: Sequence[int], spec: PreprocessSpec) -> np.ndarray:
    """Crop a decoded image to the (grown) box and make the view (`finish`)."""
    window = decoded_window(img, box, spec.crop_margin)
    left, top, right, bottom = window
    crop = img.pixels[top:bottom, left:right]
    if spec.view == "fmnist":
        return finish(crop, spec, box_in_window(img, box, window))
    return finish(crop, spec)


@dataclass
class ImageFacts:
    """Per-image outcome of a preprocessing pass, aligned with the positions it was given."""

    good: np.ndarray  # bool: decoded (by either decoder)
    box_status: np.ndarray  # int8: BOX_OK / BOX_CLIPPED / BOX_IGNORED (BOX_OK for bad images)
    fallback: np.ndarray  # bool: decoded by Pillow because libjpeg-turbo could not
    half_size: np.ndarray  # bool: decoded at half size (dct_scaling)
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
    facts = ImageFacts(
        np.zeros(n, bool), np.zeros(n, np.int8), np.zeros(n, bool), np.zeros(n, bool), {}
    )
    boxes = np.asarray(boxes).tolist()  # Python ints for the per-image box arithmetic

    def run(rows: range) -> None:
        for row in rows:
            try:
                img = decode_rgb(paths[row], boxes[row], spec)
            except BadImage as exc:
                facts.errors[row] = str(exc)
                continue
            facts.good[row], facts.fallback[row] = True, img.fallback
            facts.half_size[row] = img.scale != 1
            facts.box_status[row] = box_status(boxes[row], img.width, img.height)
            if spec is not None and out is not None:
                out[row] = transform(img, boxes[row], spec)

    chunks = [range(i, min(i + _CHUNK, n)) for i in range(0, n, _CHUNK)]
    # Parallelism comes from the pool; torch's own intra-op threads on top of it oversubscribe the
    # cores (measured 20x slower per image on a busy 2-core machine), so they are off meanwhile.
    # OpenCV's (the fmnist view's) likewise.
    cv_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        with torch_threads(1), ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            list(pool.map(run, chunks))  # list() re-raises any unexpected error from a worker
    finally:
        cv2.setNumThreads(cv_threads)
    return facts
