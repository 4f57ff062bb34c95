"""The Fashion-MNIST view: a photo's box crop converted the way Zalando made Fashion-MNIST.

Zalando documents the conversion in the Fashion-MNIST paper (Xiao, Rasul and Vollgraf, 2017,
arXiv:1708.07747, section 2; reproduced in the data set card of the Hugging Face `fashion_mnist`
data set; the fashion-mnist repository's README, "Get the Data", gives only the files): product
photos on a light-gray backdrop (#fdfdfd), as 51x73 thumbnails, go through

    1. PNG (lossless from here on: arrays here);
    2. trim the edges close to the colour of the corner pixels, closeness being a distance within
       5% of the largest possible intensity in RGB space;
    3. resize the longest edge to 28 by subsampling: some rows and columns are skipped over;
    4. sharpen with a Gaussian operator of radius and standard deviation 1.0, "with increasing
       effect near outlines";
    5. extend the shortest edge to 28 and put the image in the centre of the canvas;
    6. negate the intensities;
    7. convert to 8-bit gray.

`convert` implements these steps, each in its own function named after its step. Photos are not
product shots on a backdrop, so a background step comes first (`BACKGROUNDS`):

- `keep`: the photo's own background, as it is; the canvas of step 5 takes its corner colour and
  step 6 negates only a garment darker than its background (`invert`), as the view always did;
- `flatten`: the background level (median gray of the crop's 1-px border) becomes the backdrop:
  each pixel's contrast to it (garment darker than the background: level - gray, else gray -
  level), clipped at 0 and stretched so the garment's 99th percentile is full contrast, is drawn
  on white, so the steps above put the background at 0 and the garment in Fashion-MNIST's range;
- `segment`: OpenCV's GrabCut, initialised with the bounding box (inside: probably garment;
  outside: background), separates the garment; it is stretched as in `flatten` and drawn on the
  white backdrop, so everything but the garment ends at exactly 0.

Steps 2-7 then run unchanged. The photo's box crop is first resampled (antialiased, OpenCV's
area filter) to the thumbnails' longest edge, 73 px, since step 3's subsampling was made for
inputs of that size. The view's fidelity is measured, not assumed: `view_stats` gives the
numbers `python -m fashion_transfer.data.check ROOT --view-stats` prints next to Fashion-MNIST's.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

BACKGROUNDS = ("keep", "flatten", "segment")
#: The default: the choice whose statistics on FashionSynth wild are within FIDELITY_BOUNDS of
#: Fashion-MNIST's (README, "The Fashion-MNIST view"); chosen by fidelity, not by accuracy.
DEFAULT_BACKGROUND = "segment"
FMNIST_SIDE = 28
THUMBNAIL_SIDE = 73  # the 51x73 thumbnails Zalando converted
TRIM_TOLERANCE = 0.05  # step 2: within 5% of the largest distance in RGB space
SHARPEN_RADIUS, SHARPEN_SIGMA = 1, 1.0  # step 4
BACKDROP = 255  # the white a product shot's background becomes; 0 after step 6
STRETCH_PERCENTILE = 99.0  # flatten/segment: this percentile of the view -> Fashion-MNIST's
GRABCUT_ITERATIONS = 5
# segment: the mask's outline is softened by this Gaussian (thumbnail pixels); 0.8 px puts the
# view's border level on FashionSynth wild at Fashion-MNIST's (README, "The Fashion-MNIST view").
OUTLINE_SIGMA = 0.8
GRAY_WEIGHTS = np.array([0.2989, 0.587, 0.114])  # ITU-R 601 luma, as torchvision's rgb_to_grayscale

#: Fashion-MNIST's own view statistics (train set, 60,000 images; `view_stats` of the idx file,
#: checked against the real data by tests/data/test_fmnist_view.py where it is present).
FMNIST_STATS = {
    "mean": 72.94,
    "std": 90.02,
    "zero_fraction": 0.502,
    "border_mean": 11.9,
    "p99": 231.6,
}
#: How close to Fashion-MNIST the default view must be (issue 14): a statistic and its bound.
FIDELITY_BOUNDS = {"zero_fraction": (">=", 0.30), "border_mean": ("<=", 15.0)}
FIDELITY_BOUNDS |= {"std": (">=", 75.0), "p99": (">=", 215.0)}


def thumbnail(rgb: np.ndarray, box: Sequence[int]) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The crop resampled so its longest edge is 73 px, and the box (x1, y1, x2, y2) scaled with it.

    The box is in the crop's pixels, exclusive at x2/y2; it is clipped to the crop.
    """
    h, w = rgb.shape[:2]
    scale = THUMBNAIL_SIDE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # OpenCV: (width, height)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(np.ascontiguousarray(rgb), size, interpolation=interpolation)
    x1, y1, x2, y2 = (float(v) * scale for v in box)
    x1, y1 = min(max(0, round(x1)), size[0] - 1), min(max(0, round(y1)), size[1] - 1)
    x2, y2 = max(x1 + 1, min(size[0], round(x2))), max(y1 + 1, min(size[1], round(y2)))
    return small, (x1, y1, x2, y2)


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """Float luma (H, W) of a uint8 or float (H, W, 3) image."""
    return rgb.astype(np.float64) @ GRAY_WEIGHTS


def border_ring(img: np.ndarray) -> np.ndarray:
    """The outermost ring of pixels of an (H, W, ...) image (corners twice)."""
    return np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])


def garment_is_darker(gray: np.ndarray, mask: np.ndarray | None = None) -> bool:
    """Whether the garment is darker than its background, as in a product shot on white.

    With a mask, the garment's mean against the rest's; without one, the centre half's mean
    against the border ring's (a border brighter than mid-gray counts as a product backdrop).
    """
    if mask is not None and mask.any() and not mask.all():
        return bool(gray[mask].mean() <= gray[~mask].mean())
    h, w = gray.shape
    border = float(border_ring(gray).mean())
    centre = float(gray[h // 4 : h - h // 4, w // 4 : w - w // 4].mean())
    return border > centre or border > 127


def stretch(img: np.ndarray, target: float = FMNIST_STATS["p99"]) -> np.ndarray:
    """Scale a view (0: background) so its 99th percentile is Fashion-MNIST's mean one; clip.

    Fashion-MNIST's range: its images' 99th percentile averages 231.6 (FMNIST_STATS). A view
    with nothing above 0 stays black.
    """
    top = float(np.percentile(img, STRETCH_PERCENTILE))
    if top <= 0:
        top = float(img.max())
    if top <= 0:
        return img
    return np.clip(img * (target / top), 0, 255)


def on_backdrop(contrast: np.ndarray) -> np.ndarray:
    """A contrast map (0..255, 0: background) as a product shot: darker garment on white, RGB."""
    shot = BACKDROP - contrast
    return np.repeat(shot[..., None], 3, axis=2)


def contrast_to(gray: np.ndarray, level: float, darker: bool) -> np.ndarray:
    """Each pixel's contrast to the background level, in the garment's direction, clipped at 0."""
    return np.clip(level - gray if darker else gray - level, 0, 255)


def flatten(rgb: np.ndarray, invert: bool | str) -> np.ndarray:
    """The background level (median gray of the crop's border) to the backdrop; contrast kept."""
    gray = to_gray(rgb)
    level = float(np.median(border_ring(gray)))
    darker = garment_is_darker(gray) if invert == "auto" else bool(invert)
    return on_backdrop(contrast_to(gray, level, darker))


def grabcut_mask(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Boolean garment mask from GrabCut initialised with the box; the box itself if it finds none.

    GrabCut's k-means draws from OpenCV's per-thread random generator: it is seeded before every
    call so an image's mask does not depend on which thread made it, or after which image.
    """
    h, w = rgb.shape[:2]
    x1, y1, x2, y2 = box
    if x1 == 0 and y1 == 0 and x2 == w and y2 == h:  # no pixel outside: no background model
        x1, y1, x2, y2 = min(1, w - 1), min(1, h - 1), max(w - 1, 1), max(h - 1, 1)
    rect_mask = np.zeros((h, w), dtype=bool)
    rect_mask[y1:y2, x1:x2] = True
    if rect_mask.all() or min(h, w) < 3:
        return rect_mask
    mask = np.zeros((h, w), dtype=np.uint8)
    models = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    cv2.grabCut(
        bgr, mask, (x1, y1, x2 - x1, y2 - y1), *models, GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_RECT
    )
    garment = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    return garment if garment.any() else rect_mask


def segment(rgb: np.ndarray, box: tuple[int, int, int, int], invert: bool | str) -> np.ndarray:
    """Only the garment (GrabCut) on the backdrop, by its contrast to the background it found.

    The background level is the median gray outside the mask: a part of the background that
    GrabCut left inside the mask is close to it, so it stays dark rather than becoming garment.
    """
    mask = grabcut_mask(rgb, box)
    gray = to_gray(rgb)
    outside = gray[~mask] if not mask.all() else border_ring(gray)
    darker = garment_is_darker(gray, mask) if invert == "auto" else bool(invert)
    contrast = contrast_to(gray, float(np.median(outside)), darker)
    return on_backdrop(contrast * soft_edge(mask))


def soft_edge(mask: np.ndarray) -> np.ndarray:
    """The mask as an alpha with an antialiased outline (Gaussian, sigma OUTLINE_SIGMA px).

    A product's outline in a thumbnail resampled from a 762x1000 shot is soft; a mask made at
    thumbnail size is not, and its hard edge alone would leave the trimmed image's outer rows
    at full garment intensity.
    """
    return cv2.GaussianBlur(mask.astype(np.float32), (0, 0), OUTLINE_SIGMA).astype(np.float64)


def corner_colour(img: np.ndarray) -> np.ndarray:
    """The median of the four corner pixels (of a product shot: its backdrop's colour)."""
    corners = np.stack([img[0, 0], img[0, -1], img[-1, 0], img[-1, -1]]).astype(np.float64)
    return np.median(corners, axis=0)


def trim(img: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Step 2: drop edge rows/columns whose every pixel is within 5% of the corner colour.

    The distance is Euclidean in RGB, the largest possible being 255 * sqrt(3).
    """
    limit = TRIM_TOLERANCE * 255.0 * np.sqrt(3.0)
    close = np.linalg.norm(img.astype(np.float64) - colour, axis=2) <= limit
    rows, cols = np.flatnonzero(~close.all(axis=1)), np.flatnonzero(~close.all(axis=0))
    if rows.size == 0:  # nothing but background: keep it whole rather than return nothing
        return img
    return img[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def subsample(img: np.ndarray, side: int = FMNIST_SIDE) -> np.ndarray:
    """Step 3: the longest edge to `side` by taking every (n/side)-th row and column (no filter).

    The pixel at each output cell's centre is kept, as ImageMagick's -sample picks it.
    """
    h, w = img.shape[:2]
    scale = side / max(h, w)
    out_h, out_w = max(1, round(h * scale)), max(1, round(w * scale))
    rows = np.minimum(((np.arange(out_h) + 0.5) * h / out_h).astype(int), h - 1)
    cols = np.minimum(((np.arange(out_w) + 0.5) * w / out_w).astype(int), w - 1)
    return img[rows][:, cols]


def sharpen_kernel(radius: int = SHARPEN_RADIUS, sigma: float = SHARPEN_SIGMA) -> np.ndarray:
    """Step 4's operator: a (2r+1)^2 kernel, negative Gaussian weights around a centre making it sum to 1.

    The neighbours take -G(u, v) and the centre 2 * sum(G), the whole divided by its sum (the
    sharpen kernel of ImageMagick's `-sharpen RxS`, whose radius and sigma the paper names): flat
    areas are left as they are and the effect grows with the contrast at an outline.
    """
    u = np.arange(-radius, radius + 1)
    gauss = np.exp(-(u[:, None] ** 2 + u[None, :] ** 2) / (2.0 * sigma**2)) / (
        2.0 * np.pi * sigma**2
    )
    kernel = -gauss
    kernel[radius, radius] = 2.0 * gauss.sum()
    return kernel / kernel.sum()


def sharpen(img: np.ndarray) -> np.ndarray:
    """Step 4: the sharpen kernel on every channel, edges replicated, clipped to 0..255."""
    out = cv2.filter2D(
        img.astype(np.float32), -1, sharpen_kernel().astype(np.float32),
        borderType=cv2.BORDER_REPLICATE,
    )  # fmt: skip
    return np.clip(out, 0, 255)


def extend(img: np.ndarray, colour: np.ndarray, side: int = FMNIST_SIDE) -> np.ndarray:
    """Step 5: centre the image on a `side` x `side` canvas of the background colour."""
    h, w = img.shape[:2]
    canvas = np.empty((side, side, img.shape[2]), dtype=np.float32)
    canvas[...] = colour
    top, left = (side - h) // 2, (side - w) // 2
    canvas[top : top + h, left : left + w] = img
    return canvas


def negate(img: np.ndarray) -> np.ndarray:
    """Step 6."""
    return 255.0 - img


def gray8(img: np.ndarray) -> np.ndarray:
    """Step 7: ITU-R 601 luma (of RGB; a one-channel image is gray already), rounded to uint8."""
    gray = to_gray(img) if img.shape[-1] == 3 else img[..., 0]
    return np.clip(np.rint(gray), 0, 255).astype(np.uint8)


def convert(
    rgb: np.ndarray, box: Sequence[int], background: str, invert: bool | str = "auto"
) -> np.ndarray:
    """A uint8 (H, W, 3) box crop (box in its pixels, x2/y2 exclusive) -> uint8 (1, 28, 28).

    `invert` says whether the garment is darker than its background (true), lighter (false), or
    decides it per image (auto): Fashion-MNIST's garments are dark ones, negated onto black.
    """
    if background not in BACKGROUNDS:
        raise ValueError(f"background={background!r}: choose one of {', '.join(BACKGROUNDS)}")
    small, small_box = thumbnail(rgb, box)
    if background == "segment":
        shot, negated = segment(small, small_box, invert), True
    elif background == "flatten":
        shot, negated = flatten(small, invert), True
    else:
        shot = small.astype(np.float64)
        negated = garment_is_darker(to_gray(shot)) if invert == "auto" else bool(invert)
    # A drawn backdrop is white by construction (a garment may touch a corner of it)
    colour = corner_colour(shot) if background == "keep" else np.full(3, float(BACKDROP))
    out = extend(sharpen(subsample(trim(shot, colour))), colour)
    out = negate(out) if negated else out
    if background != "keep":
        out = stretch(to_gray(out))[..., None]
    return gray8(out)[None]


def view_stats(images: np.ndarray) -> dict[str, float]:
    """The view's fidelity numbers over uint8 (N, [1,] 28, 28) images.

    mean, std (over all pixels), zero_fraction (pixels exactly 0), border_mean (the 1-px ring)
    and p99 (each image's 99th percentile, averaged over images).
    """
    x = np.asarray(images).reshape(len(images), FMNIST_SIDE, FMNIST_SIDE)
    if len(x) == 0:
        return {k: float("nan") for k in FMNIST_STATS}
    ring = np.concatenate([x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]], axis=1)
    return {
        "mean": float(x.mean()),
        "std": float(x.std()),
        "zero_fraction": float((x == 0).mean()),
        "border_mean": float(ring.mean()),
        "p99": float(np.percentile(x.reshape(len(x), -1), 99, axis=1).mean()),
    }


def within_bounds(stats: dict[str, float]) -> dict[str, bool]:
    """Per statistic of FIDELITY_BOUNDS: whether `stats` meets its bound."""
    return {
        key: bool(stats[key] >= bound if op == ">=" else stats[key] <= bound)
        for key, (op, bound) in FIDELITY_BOUNDS.items()
    }
