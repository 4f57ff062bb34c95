"""FashionSynth renderers: one garment model drawn as a studio image or as a wild photo.

Studio mimics Fashion-MNIST: centred, upright, gray garment on black, drawn at 56 px and box-filtered
to 28 px for soft edges. Wild mimics DeepFashion: RGB fabric with a pattern that follows the
garment, a background, scale/position/rotation jitter, sometimes a wearer and an occluder.
Everything is numpy over whole arrays plus PIL polygons; randomness comes only from the
`np.random.Generator` passed in, so a seed fixes every pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from fashion_transfer.data.synth_shapes import (
    BODY,
    DARK,
    FUR,
    Drawing,
    GarmentModel,
    build,
    pose,
    sample_model,
)

STUDIO_CANVAS = 56  # drawn at twice Fashion-MNIST's size, then box-filtered to 28
PATTERNS = ("solid", "stripes", "vstripes", "checks", "dots", "blotch", "denim", "ribs", "heather")

_PALETTES = {
    "neutral": [(0.95, 0.95, 0.93), (0.1, 0.1, 0.1), (0.5, 0.5, 0.5), (0.85, 0.78, 0.65), (0.2, 0.22, 0.35), (0.35, 0.3, 0.28)],
    "denim": [(0.25, 0.35, 0.6), (0.15, 0.2, 0.4), (0.45, 0.55, 0.75), (0.1, 0.12, 0.2)],
    "earth": [(0.4, 0.42, 0.25), (0.65, 0.55, 0.35), (0.45, 0.3, 0.2), (0.3, 0.33, 0.3), (0.55, 0.25, 0.2)],
    "pastel": [(0.95, 0.8, 0.85), (0.8, 0.9, 0.95), (0.9, 0.95, 0.8), (0.95, 0.9, 0.75), (0.85, 0.8, 0.95)],
    "bright": [(0.85, 0.15, 0.15), (0.1, 0.5, 0.85), (0.95, 0.75, 0.1), (0.2, 0.65, 0.3), (0.9, 0.4, 0.6), (0.95, 0.5, 0.1)],
}  # fmt: skip
_SKIN = [
    (0.96, 0.8, 0.69),
    (0.87, 0.67, 0.53),
    (0.76, 0.57, 0.45),
    (0.55, 0.38, 0.26),
    (0.36, 0.24, 0.17),
]

# category -> (palette weights, pattern weights): real categories have typical colours and fabrics
_LOOKS: dict[str, tuple[dict[str, float], dict[str, float]]] = {
    "Tee": ({"bright": 4, "neutral": 4, "pastel": 2}, {"solid": 5, "stripes": 3, "heather": 2}),
    "Tank": ({"bright": 3, "neutral": 4, "pastel": 3}, {"solid": 5, "stripes": 2, "ribs": 3}),
    "Button-Down": ({"neutral": 4, "pastel": 3, "denim": 3}, {"checks": 4.5, "vstripes": 2.5, "solid": 3}),
    "Blouse": ({"pastel": 5, "bright": 2, "neutral": 3}, {"blotch": 3.5, "dots": 3, "solid": 3.5}),
    "Sweater": ({"earth": 3, "neutral": 4, "bright": 3}, {"ribs": 5, "heather": 3, "stripes": 2}),
    "Hoodie": ({"neutral": 5, "bright": 3, "earth": 2}, {"heather": 6, "solid": 4}),
    "Coat": ({"neutral": 5, "earth": 5}, {"solid": 5, "checks": 2, "heather": 3}),
    "Parka": ({"earth": 6, "neutral": 4}, {"solid": 6, "blotch": 2, "heather": 2}),
    "Dress": ({"bright": 3, "neutral": 4, "pastel": 3}, {"solid": 5, "blotch": 2.5, "dots": 2.5}),
    "Sundress": ({"pastel": 5, "bright": 5}, {"blotch": 5, "dots": 2, "stripes": 1.5, "checks": 1.5}),
    "Jeans": ({"denim": 8.5, "neutral": 1.5}, {"denim": 1}),
    "Joggers": ({"neutral": 6, "earth": 2, "bright": 2}, {"heather": 7, "solid": 3}),
    "Shorts": ({"denim": 4, "earth": 3, "bright": 3}, {"solid": 4, "denim": 3, "checks": 3}),
    "Skirt": ({"neutral": 3, "pastel": 3, "bright": 2, "denim": 2}, {"solid": 4, "checks": 2, "blotch": 2, "dots": 2}),
    "Romper": ({"pastel": 4, "bright": 4, "neutral": 2}, {"blotch": 4, "solid": 4, "stripes": 2}),
}  # fmt: skip
_STUDIO_PATTERNS = {
    "solid": 4.5,
    "stripes": 1.2,
    "checks": 0.8,
    "dots": 0.6,
    "blotch": 1,
    "heather": 1.2,
    "ribs": 0.7,
}


@dataclass
class Fabric:
    """What an item is made of: two colours mixed by a pattern, plus trim, print and stitch colours."""

    pattern: str
    colours: np.ndarray  # (8, 3) float in [0, 1], one row per part role (0: pattern's 2nd colour)
    freq: float
    phase: float
    contrast: float


def choose(rng: np.random.Generator, weights: dict[str, float]) -> str:
    """One key, drawn with probability proportional to its weight (one uniform draw)."""
    cum = np.cumsum(list(weights.values()))
    return list(weights)[int(np.searchsorted(cum, rng.random() * cum[-1], side="right"))]


def _colour(rng: np.random.Generator, palette: str) -> np.ndarray:
    options = _PALETTES[palette]
    base = np.array(options[int(rng.integers(len(options)))])
    return np.clip(base + rng.normal(0, 0.05, 3), 0, 1)


def sample_fabric(category: str, rng: np.random.Generator) -> Fabric:
    """An item's fabric, drawn from its category's typical colours and patterns."""
    palettes, patterns = _LOOKS[category]
    kind = choose(rng, patterns)
    c1 = _colour(rng, choose(rng, palettes))
    c2 = _colour(rng, choose(rng, palettes)) if rng.random() < 0.6 else 1 - c1 * rng.uniform(0.6, 1)
    trim = (
        c1 * rng.uniform(0.7, 0.9)
        if rng.random() < 0.7
        else _colour(rng, choose(rng, dict.fromkeys(_PALETTES, 1.0)))
    )
    stitch = np.array([0.8, 0.55, 0.2]) if kind == "denim" else c1 * 0.55
    colours = np.stack(
        [
            c2,
            c1,
            trim,
            c1 * 0.3,
            _colour(rng, "bright"),
            stitch,
            _colour(rng, "neutral"),
            _colour(rng, "neutral") * 0.3 + 0.65,
        ]
    )
    freq = {"denim": 45.0, "ribs": 18.0, "dots": 7.0}.get(kind, 4.0) * rng.uniform(0.7, 1.5)
    return Fabric(kind, colours, freq, float(rng.random()), float(rng.uniform(0.5, 1.0)))


def smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Low-frequency noise in [0, 1]: a few random values upsampled bilinearly (fast, no loops)."""
    small = Image.fromarray(rng.random((cells, cells), dtype=np.float32))
    return np.asarray(small.resize((width, height), Image.Resampling.BILINEAR))


def pattern(
    kind: str, u: np.ndarray, v: np.ndarray, freq: float, phase: float, noise: np.ndarray
) -> np.ndarray:
    """Weight of a fabric's second colour at garment coordinates (u, v); it follows the garment."""
    fu, fv = u * freq + phase, v * freq + phase
    if kind == "stripes":
        return (np.mod(fv, 1.0) < 0.5).astype(np.float32)
    if kind == "vstripes":
        return (np.mod(fu, 1.0) < 0.3).astype(np.float32)
    if kind == "checks":
        return 0.5 * ((np.mod(fu, 1.0) < 0.5).astype(np.float32) + (np.mod(fv, 1.0) < 0.5))
    if kind == "dots":
        row = np.floor(fv)
        du, dv = np.mod(fu + 0.5 * row, 1.0) - 0.5, np.mod(fv, 1.0) - 0.5
        return (du * du + dv * dv < 0.07).astype(np.float32)
    if kind == "blotch":
        return (noise > 0.55).astype(np.float32)
    if kind == "denim":
        return (0.25 + 0.25 * np.sin(2 * np.pi * (fu + fv)) + 0.5 * noise).astype(np.float32)
    if kind == "ribs":
        return (0.5 + 0.5 * np.sin(2 * np.pi * fu)).astype(np.float32)
    if kind == "heather":
        return noise.astype(np.float32)
    return np.zeros_like(u, dtype=np.float32)


def _affine(
    drawing: Drawing, long_side: float, angle: float, flip: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Matrix A and centre c mapping garment units to pixels (x_img = A (x - c) + origin), and extent."""
    pts = np.concatenate([p.points for p in drawing.parts])
    c = (pts.min(0) + pts.max(0)) / 2
    a = np.radians(angle)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    mat = rot @ np.diag([-1.0 if flip else 1.0, 1.0])
    extent = np.abs((pts - c) @ mat.T).max(0) * 2
    scale = long_side / extent.max()
    return mat * scale, c, extent * scale


def draw_roles(
    drawing: Drawing, mat: np.ndarray, c: np.ndarray, origin: np.ndarray, size: tuple[int, int]
) -> Image.Image:
    """Rasterise the parts into an 'L' image whose value is each pixel's part role (0: background)."""
    canvas = Image.new("L", size, 0)
    draw = ImageDraw.Draw(canvas)
    scale = float(np.sqrt(abs(mat[0, 0] * mat[1, 1] - mat[0, 1] * mat[1, 0])))
    pts = (
        ((np.concatenate([p.points for p in drawing.parts]) - c) @ mat.T + origin).ravel().tolist()
    )
    start = 0
    for part in drawing.parts:
        stop = start + 2 * len(part.points)
        xy = pts[start:stop]
        start = stop
        if part.width > 0:
            draw.line(xy, fill=part.role, width=max(1, round(part.width * scale)))
        else:
            draw.polygon(xy, fill=part.role)
    return canvas


def _garment_coords(
    mat: np.ndarray, c: np.ndarray, origin: np.ndarray, x0: int, y0: int, h: int, w: int
) -> tuple[np.ndarray, np.ndarray]:
    """Garment units (u, v) of the pixel centres of a (h, w) window at (x0, y0)."""
    inv = np.linalg.inv(mat).astype(np.float32)
    xs = np.arange(x0, x0 + w, dtype=np.float32) + 0.5 - origin[0]
    ys = np.arange(y0, y0 + h, dtype=np.float32)[:, None] + 0.5 - origin[1]
    return inv[0, 0] * xs + inv[0, 1] * ys + c[0], inv[1, 0] * xs + inv[1, 1] * ys + c[1]


def _upsample(cells: int, size: int) -> np.ndarray:
    """(size, cells) bilinear interpolation matrix: M @ small @ M.T upsamples a batch at once."""
    pos = np.clip((np.arange(size) + 0.5) * cells / size - 0.5, 0, cells - 1)
    lo = np.minimum(np.floor(pos).astype(int), cells - 2)
    frac = (pos - lo).astype(np.float32)
    mat = np.zeros((size, cells), dtype=np.float32)
    mat[np.arange(size), lo] = 1 - frac
    mat[np.arange(size), lo + 1] = frac
    return mat


_STUDIO_NOISE = {"blotch": 9, "heather": 28, "light": 4}


def _studio_draw(style: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    """The per-image part of a studio render: roles raster plus the scalars of its texture."""
    drawing = build(sample_model(style, rng))
    mat, c, _ = _affine(drawing, rng.uniform(50, STUDIO_CANVAS), rng.uniform(-3, 3), False)
    origin = STUDIO_CANVAS / 2 + rng.uniform(-1, 1, 2)
    roles = np.asarray(draw_roles(drawing, mat, c, origin, (STUDIO_CANVAS, STUDIO_CANVAS)))
    inv = np.array([[mat[1, 1], -mat[0, 1]], [-mat[1, 0], mat[0, 0]]]) / np.linalg.det(mat)
    geometry = np.array([*inv.ravel(), *origin, *c], dtype=np.float32)
    shade = [0, 1, rng.uniform(0.7, 1.2), 0.45, rng.choice([0.4, 1.5]), 0.6, 0.5, 1.2]
    tex = {
        "kind": choose(rng, _STUDIO_PATTERNS), "freq": rng.uniform(3, 7), "phase": rng.random(),
        "contrast": rng.uniform(0.12, 0.45), "base": rng.uniform(0.3, 1.0), "grad": rng.uniform(-0.25, 0.25),
        "shade": shade, **{k: rng.random((n, n), dtype=np.float32) for k, n in _STUDIO_NOISE.items()},
    }  # fmt: skip
    return roles, geometry, tex


def render_studio(styles: list[str], rngs: list[np.random.Generator]) -> np.ndarray:
    """28x28 uint8 Fashion-MNIST-like images, one per (style, generator): gray garment on black.

    Shapes are drawn one by one at 56 px; textures, shading and the 2x2 box filter that softens
    the edges run on the whole batch, so the cost per image is mostly the polygon drawing.
    """
    draws = [_studio_draw(style, rng) for style, rng in zip(styles, rngs, strict=True)]
    roles = np.stack([d[0] for d in draws])
    g = np.stack([d[1] for d in draws])[:, :, None, None]
    tex = {k: np.array([d[2][k] for d in draws]) for k in draws[0][2]}
    n = STUDIO_CANVAS
    xs = np.arange(n, dtype=np.float32)[None, None, :] + 0.5 - g[:, 4]
    ys = np.arange(n, dtype=np.float32)[None, :, None] + 0.5 - g[:, 5]
    u, v = g[:, 0] * xs + g[:, 1] * ys + g[:, 6], g[:, 2] * xs + g[:, 3] * ys + g[:, 7]
    noise = {k: _upsample(c, n) @ tex[k] @ _upsample(c, n).T for k, c in _STUDIO_NOISE.items()}
    mix = np.zeros_like(u)
    for kind in np.unique(tex["kind"]).tolist():
        i = tex["kind"] == kind
        grain = noise["blotch" if kind == "blotch" else "heather"][i]
        mix[i] = pattern(
            kind, u[i], v[i], tex["freq"][i, None, None], tex["phase"][i, None, None], grain
        )
    light = 1 + tex["grad"][:, None, None] * (v - g[:, 7]) + 0.15 * (noise["light"] - 0.5)
    shade = np.take_along_axis(
        tex["shade"].astype(np.float32), roles.reshape(len(roles), -1), axis=1
    )
    value = (tex["base"] * 255)[:, None, None] * (1 - tex["contrast"][:, None, None] * mix) * light
    value = value * shade.reshape(roles.shape)
    small = value.reshape(len(roles), 28, 2, 28, 2).mean(axis=(2, 4))
    return np.clip(np.rint(small), 0, 255).astype(np.uint8)


def _background(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A product-shot gradient, a room, clutter, or a textured surface."""
    kind = int(rng.choice(4, p=[0.3, 0.25, 0.3, 0.15]))
    corners = (
        rng.uniform(0.75, 1.0, (2, 2, 1)) * rng.uniform(0.9, 1.0, 3)
        if kind == 0
        else rng.random((2, 2, 3))
    )
    img = Image.fromarray((corners * 255).astype(np.uint8)).resize(
        (w, h), Image.Resampling.BILINEAR
    )
    draw = ImageDraw.Draw(img)
    if kind == 1:
        horizon = int(h * rng.uniform(0.55, 0.85))
        draw.rectangle([0, horizon, w, h], fill=_rgb(rng.random(3) * 0.7))
        for _ in range(int(rng.integers(1, 4))):
            x, y = rng.uniform(0, w), rng.uniform(0, horizon)
            draw.rectangle(
                [x, y, x + rng.uniform(20, 120), y + rng.uniform(30, 150)], fill=_rgb(rng.random(3))
            )
    elif kind == 2:
        for _ in range(int(rng.integers(8, 30))):
            x, y, s = rng.uniform(-20, w), rng.uniform(-20, h), rng.uniform(10, 0.4 * w, 2)
            shape = draw.rectangle if rng.random() < 0.5 else draw.ellipse
            shape([x, y, x + s[0], y + s[1]], fill=_rgb(rng.random(3)))
        img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 2.5))))
    elif kind == 3:
        tex = Image.fromarray((rng.random((12, 12, 3)) * 255).astype(np.uint8)).resize(
            (w, h), Image.Resampling.BICUBIC
        )
        img = Image.blend(img, tex, float(rng.uniform(0.3, 0.7)))
    return img


def _rgb(colour: np.ndarray) -> tuple[int, int, int]:
    r, g, b = (np.clip(colour, 0, 1) * 255).astype(int).tolist()
    return r, g, b


def _draw_wearer(
    img: Image.Image,
    drawing: Drawing,
    mat: np.ndarray,
    c: np.ndarray,
    origin: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Head, arms, legs or a torso of someone wearing the garment, drawn behind it."""
    draw = ImageDraw.Draw(img)
    skin = _rgb(np.array(_SKIN[int(rng.integers(len(_SKIN)))]) * rng.uniform(0.9, 1.05))
    other = _rgb(rng.random(3))
    scale = float(np.sqrt(abs(np.linalg.det(mat))))
    for limb in drawing.limbs:
        p = (np.array(limb.point) - c) @ mat.T + origin
        direction = np.array(limb.direction) @ mat.T
        direction = direction / np.linalg.norm(direction)
        width = limb.width * scale
        if limb.kind == "head":
            head = p + direction * width * 1.1
            draw.line([*p, *head], fill=skin, width=int(width * 0.6))
            r = width * 0.85
            draw.ellipse(
                [head[0] - r, head[1] - r * 1.2, head[0] + r, head[1] + r * 1.1], fill=skin
            )
            draw.ellipse(
                [head[0] - r, head[1] - r * 1.35, head[0] + r, head[1] - r * 0.1],
                fill=_rgb(rng.random(3) * 0.4),
            )
        elif limb.kind == "torso":
            end = p + direction * scale * 1.2
            draw.line([*p, *end], fill=other, width=int(width * 1.05))
        else:
            length = scale * (1.0 if limb.kind == "arm" else 1.3)
            end = p + direction * length
            draw.line([*p, *end], fill=skin, width=max(2, int(width)))
            foot = other if limb.kind == "leg" else skin
            draw.ellipse(
                [
                    end[0] - width * 0.6,
                    end[1] - width * 0.5,
                    end[0] + width * 0.6,
                    end[1] + width * 0.5,
                ],
                fill=foot,
            )


def _occlude(img: Image.Image, box: tuple[int, int, int, int], rng: np.random.Generator) -> None:
    """Something in front of the garment: a bag, a hand, a prop."""
    draw = ImageDraw.Draw(img)
    bw, bh = box[2] - box[0], box[3] - box[1]
    x, y = rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3])
    sx, sy = bw * rng.uniform(0.15, 0.4), bh * rng.uniform(0.15, 0.4)
    colour = _rgb(rng.random(3))
    shape = int(rng.integers(3))
    if shape == 0:
        draw.rectangle([x - sx / 2, y - sy / 2, x + sx / 2, y + sy / 2], fill=colour)
    elif shape == 1:
        draw.ellipse([x - sx / 2, y - sy / 2, x + sx / 2, y + sy / 2], fill=colour)
    else:
        draw.line(
            [x - sx, y - sy, x + sx, y + sy],
            fill=_rgb(np.array(_SKIN[int(rng.integers(5))])),
            width=int(max(4, sx * 0.3)),
        )


def render_wild(
    model: GarmentModel, fabric: Fabric, rng: np.random.Generator
) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """One photo of an item: RGB, long side 300, and its box (x_1, y_1, x_2, y_2), inclusive, in the image."""
    short = int(rng.integers(200, 301))
    w, h = (short, 300) if rng.random() < 0.75 else (300, short)
    img = _background(rng, w, h)
    drawing = build(pose(model, rng))
    angle = rng.uniform(-20, 20) if rng.random() < 0.7 else rng.uniform(-4, 4)
    mat, c, extent = _affine(drawing, 1.0, angle, bool(rng.random() < 0.5))
    fit = rng.uniform(0.5, 0.95) * min(w / extent[0], h / extent[1])
    mat, room = mat * fit, np.maximum(np.array([w, h]) - extent * fit, 0)
    origin = np.array([w, h]) / 2 + rng.uniform(-1, 1, 2) * (room / 2 + 0.08 * w)
    if model.builder != "bag" and rng.random() < 0.55:
        _draw_wearer(img, drawing, mat, c, origin, rng)
    roles_img = draw_roles(drawing, mat, c, origin, (w, h))
    left, top, right, bottom = roles_img.getbbox()
    x0, y0, x1, y1 = max(0, left - 2), max(0, top - 2), min(w, right + 2), min(h, bottom + 2)
    roles = np.asarray(roles_img.crop((x0, y0, x1, y1)))
    _paste_fabric(
        img, roles, fabric, _garment_coords(mat, c, origin, x0, y0, y1 - y0, x1 - x0), (x0, y0), rng
    )
    if rng.random() < 0.3:
        _occlude(img, (left, top, right, bottom), rng)
    margin = rng.integers(1, 6, 4)
    box = (
        max(0, left - int(margin[0])),
        max(0, top - int(margin[1])),
        min(w - 1, right - 1 + int(margin[2])),
        min(h - 1, bottom - 1 + int(margin[3])),
    )
    return _camera(img, rng), box


def _paste_fabric(
    img: Image.Image,
    roles: np.ndarray,
    fabric: Fabric,
    uv: tuple[np.ndarray, np.ndarray],
    at: tuple[int, int],
    rng: np.random.Generator,
) -> None:
    """Colour the garment's pixels (pattern, trims, shading) and blend them in with a soft edge."""
    h, w = roles.shape
    noise = smooth_noise(rng, h, w, 6 if fabric.pattern == "blotch" else max(8, w // 3))
    mix = (
        fabric.contrast
        * pattern(fabric.pattern, uv[0], uv[1], fabric.freq, fabric.phase, noise)[..., None]
    )
    colours = fabric.colours.astype(np.float32)
    body = colours[BODY] * (1 - mix) + colours[0] * mix
    out = np.where((roles <= BODY)[..., None], body, colours[roles])
    fur = roles == FUR
    out[fur] *= 0.75 + 0.5 * noise[fur, None]
    folds = (
        0.72
        + 0.4 * smooth_noise(rng, h, w, 5)
        + rng.uniform(-0.15, 0.15) * np.linspace(-1, 1, w, dtype=np.float32)
    )
    out = np.where((roles == DARK)[..., None], out, out * folds[..., None])
    alpha = Image.fromarray(((roles > 0) * 255).astype(np.uint8)).filter(ImageFilter.BoxBlur(0.6))
    img.paste(Image.fromarray((np.clip(out, 0, 1) * 255).astype(np.uint8)), at, alpha)


def _camera(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Exposure, colour cast and (luminance) sensor noise of the whole photo."""
    gain = rng.uniform(0.8, 1.15) * rng.uniform(0.92, 1.08, 3)
    ramp = np.arange(256)[None, :] * gain[:, None] + rng.uniform(-20, 20)
    img = img.point(np.clip(ramp, 0, 255).astype(np.uint8).ravel().tolist())
    if rng.random() < 0.5:
        return img
    w, h = img.size
    noise = rng.integers(-8, 9, (h, w, 1), dtype=np.int16) * rng.uniform(0.3, 1)
    return Image.fromarray(
        np.clip(np.asarray(img) + noise.astype(np.int16), 0, 255).astype(np.uint8)
    )
