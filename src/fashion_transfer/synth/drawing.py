"""FashionSynth's drawing primitives: parts, limbs and the small geometry the garment builders share.

Coordinates are garment units (x centred on 0, y down); `shapes.py` builds garments from these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Part roles: the renderers map each to a shade (studio) or a colour (wild). 0 is background.
BODY, TRIM, DARK, PRINT, LINE, DOT, FUR = 1, 2, 3, 4, 5, 6, 7

Pt = tuple[float, float]


@dataclass
class Part:
    """A filled polygon, or an open polyline when `width` > 0 (seams, straps, handles)."""

    points: np.ndarray
    role: int
    width: float = 0.0


@dataclass
class Limb:
    """Where a wearer's body shows (head, arm, leg, torso), for photos of worn garments."""

    kind: str
    point: Pt
    direction: Pt
    width: float


@dataclass
class Drawing:
    """A garment in garment units: parts in painting order, and where a wearer would show."""

    parts: list[Part] = field(default_factory=list)
    limbs: list[Limb] = field(default_factory=list)

    def add(self, points: list[Pt], role: int, width: float = 0.0) -> None:
        self.parts.append(Part(np.asarray(points, dtype=np.float64), role, width))


def flag(p: dict[str, float], key: str) -> bool:
    return p.get(key, 0.0) > 0.5


def mirror(points: list[Pt]) -> list[Pt]:
    return [(-x, y) for x, y in reversed(points)]


_CIRCLES: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def ellipse(
    cx: float, cy: float, rx: float, ry: float, n: int = 16, jag: float = 0.0
) -> np.ndarray:
    """An n-gon ellipse; `jag` > 0 alternates the radius (fur)."""
    if n not in _CIRCLES:
        t = np.linspace(0, 2 * np.pi, n, endpoint=False)
        _CIRCLES[n] = (np.stack([np.cos(t), np.sin(t)], axis=1), (np.arange(n) % 2)[:, None])
    unit, odd = _CIRCLES[n]
    return unit * (1.0 + jag * odd) * (rx, ry) + (cx, cy)


def symmetric(d: Drawing, right: list[Pt], role: int, width: float = 0.0) -> None:
    """Add a part and its mirror image (pockets, collar flaps, cuffs)."""
    d.add(right, role, width)
    d.add(mirror(right), role, width)


def bezier(p0: Pt, p1: Pt, p2: Pt, p3: Pt, n: int = 6) -> list[Pt]:
    t = np.linspace(0, 1, n + 1)[1:, None]
    pts = np.array([p0, p1, p2, p3])
    curve = (1 - t) ** 3 * pts[0] + 3 * (1 - t) ** 2 * t * pts[1] + 3 * (1 - t) * t**2 * pts[2]
    return [tuple(q) for q in (curve + t**3 * pts[3]).tolist()]
