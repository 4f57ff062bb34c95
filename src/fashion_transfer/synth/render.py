"""FashionSynth renderers: one garment model drawn as a studio image or as a wild photo.

Studio mimics Fashion-MNIST: centred, upright, gray garment on black, drawn at 56 px and
box-filtered to 28 px for soft edges. Wild mimics DeepFashion: RGB fabric with a pattern that
follows the garment, a background (light product-shot backdrops in half the photos, as in shop
images), scale/position/rotation jitter, sometimes a wearer and an occluder.
Everything is numpy over whole arrays plus PIL polygons; randomness comes only from the
`np.random.Generator` passed in, so a seed fixes every pixel.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from fashion_transfer.synth.fabric import (
    STUDIO_PATTERNS,
    Fabric,
    choose,
    pattern,
    smooth_noise,
)
from fashion_transfer.synth.shapes import (
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
_SKIN = [
    (0.96, 0.8, 0.69),
    (0.87, 0.67, 0.53),
    (0.76, 0.57, 0.45),
    (0.55, 0.38, 0.26),
    (0.36, 0.24, 0.17),
]


def _affine(
    drawing: Drawing, long_side: float, angle: float, flip: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Matrix A and centre c mapping garment units to pixels (A (x - c) + origin), and extent."""
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
    """Rasterise the parts into an 'L' image of part roles (0: background)."""
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
    detail = rng.uniform(0.5, 0.95)  # how visible seams and buttons are at 28 px
    shade = [0, 1, rng.uniform(0.7, 1.2), 0.45, rng.choice([0.4, 1.5]), detail, detail, 1.2]
    tex = {
        "kind": choose(rng, STUDIO_PATTERNS), "freq": rng.uniform(3, 7), "phase": rng.random(),
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
    """A light product-shot backdrop (as in most shop photos), a room, clutter, or a texture."""
    kind = int(rng.choice(4, p=[0.5, 0.2, 0.18, 0.12]))
    corners = (
        rng.uniform(0.86, 1.0, (2, 2, 1)) * rng.uniform(0.94, 1.0, 3)
        if kind == 0
        else _muted(rng, (2, 2))
    )
    img = Image.fromarray((corners * 255).astype(np.uint8)).resize(
        (w, h), Image.Resampling.BILINEAR
    )
    draw = ImageDraw.Draw(img)
    if kind == 1:
        horizon = int(h * rng.uniform(0.55, 0.85))
        draw.rectangle([0, horizon, w, h], fill=_rgb(_muted(rng) * 0.7))
        for _ in range(int(rng.integers(1, 4))):
            x, y = rng.uniform(0, w), rng.uniform(0, horizon)
            draw.rectangle(
                [x, y, x + rng.uniform(20, 120), y + rng.uniform(30, 150)], fill=_rgb(_muted(rng))
            )
    elif kind == 2:
        for _ in range(int(rng.integers(8, 30))):
            x, y, s = rng.uniform(-20, w), rng.uniform(-20, h), rng.uniform(10, 0.4 * w, 2)
            shape = draw.rectangle if rng.random() < 0.5 else draw.ellipse
            shape([x, y, x + s[0], y + s[1]], fill=_rgb(_muted(rng)))
        img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 2.5))))
    elif kind == 3:
        tex = Image.fromarray((rng.random((12, 12, 3)) * 255).astype(np.uint8)).resize(
            (w, h), Image.Resampling.BICUBIC
        )
        img = Image.blend(img, tex, float(rng.uniform(0.3, 0.7)))
    return img


def _muted(rng: np.random.Generator, shape: tuple[int, ...] = ()) -> np.ndarray:
    """Scene colours: random hues pulled halfway to a random gray, as real rooms and streets are."""
    return 0.5 * rng.random((*shape, 3)) + 0.5 * rng.random((*shape, 1))


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
    """One photo of an item: RGB, long side 300, and its inclusive box (x_1, y_1, x_2, y_2)."""
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
    gain = rng.uniform(0.88, 1.12) * rng.uniform(0.94, 1.06, 3)
    ramp = np.arange(256)[None, :] * gain[:, None] + rng.uniform(-12, 12)
    img = img.point(np.clip(ramp, 0, 255).astype(np.uint8).ravel().tolist())
    if rng.random() < 0.5:
        return img
    w, h = img.size
    noise = rng.integers(-8, 9, (h, w, 1), dtype=np.int16) * rng.uniform(0.3, 1)
    return Image.fromarray(
        np.clip(np.asarray(img) + noise.astype(np.int16), 0, 255).astype(np.uint8)
    )
