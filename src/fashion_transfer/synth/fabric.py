"""FashionSynth fabrics: colours and patterns that wild items (and studio shading) are made of.

Real categories have typical looks (jeans are denim, parkas olive or khaki, sundresses floral), so a
wild item draws its colours and pattern from its category's weights. Patterns are functions of
garment coordinates, so stripes and checks bend and turn with the garment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

PATTERNS = ("solid", "stripes", "vstripes", "checks", "dots", "blotch", "denim", "ribs", "heather")

_PALETTES = {
    "neutral": [(0.95, 0.95, 0.93), (0.1, 0.1, 0.1), (0.5, 0.5, 0.5), (0.85, 0.78, 0.65), (0.2, 0.22, 0.35), (0.35, 0.3, 0.28)],
    "denim": [(0.25, 0.35, 0.6), (0.15, 0.2, 0.4), (0.45, 0.55, 0.75), (0.1, 0.12, 0.2)],
    "earth": [(0.4, 0.42, 0.25), (0.65, 0.55, 0.35), (0.45, 0.3, 0.2), (0.3, 0.33, 0.3), (0.55, 0.25, 0.2)],
    "pastel": [(0.95, 0.8, 0.85), (0.8, 0.9, 0.95), (0.9, 0.95, 0.8), (0.95, 0.9, 0.75), (0.85, 0.8, 0.95)],
    "bright": [(0.85, 0.15, 0.15), (0.1, 0.5, 0.85), (0.95, 0.75, 0.1), (0.2, 0.65, 0.3), (0.9, 0.4, 0.6), (0.95, 0.5, 0.1)],
}  # fmt: skip
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
STUDIO_PATTERNS = {
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
    """What an item is made of: two colours mixed by a pattern; trim, print, stitch colours."""

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
