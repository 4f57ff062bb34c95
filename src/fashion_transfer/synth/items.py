"""FashionSynth's footwear and bags: drawn flat in garment units like the garments, no wearer."""

from __future__ import annotations

from fashion_transfer.synth.drawing import (
    BODY,
    DOT,
    LINE,
    TRIM,
    Drawing,
    ellipse,
    flag,
)


def shoe(p: dict[str, float], shaft: float, heel: float) -> Drawing:
    """Side view, toe to the left: sole, optional heel, upper rising to `shaft`."""
    d = Drawing()
    n, h = p["length"], p["height"] * 0.42
    sole = [(0.0, -0.02), (0.02, -0.09), (0.7 * n, -0.09 - heel * 0.5), (n, -0.09 - heel), (n, 0.0),
            (0.8 * n, 0.0), (0.78 * n, -heel * 0.8), (0.6 * n, -heel * 0.4), (0.05, 0.01)]  # fmt: skip
    upper = [(0.02, -0.09), (0.06, -0.2), (0.3 * n, -0.26 - heel * 0.3), (0.5 * n, -h - heel * 0.5),
             (0.56 * n, -max(shaft, h + 0.08) - heel), (0.97 * n, -max(shaft, h + 0.04) - heel),
             (n, -0.09 - heel)]  # fmt: skip
    d.add(upper, BODY)
    d.add(sole, TRIM)
    return d


def sneaker(p: dict[str, float]) -> Drawing:
    d = shoe(p, p["height"] * 0.47, 0.0)
    for i in range(4):
        x = (0.34 + 0.05 * i) * p["length"]
        d.add([(x, -0.27 - 0.04 * i), (x + 0.07, -0.3 - 0.04 * i)], LINE, 0.025)
    d.add([(0.25, -0.14), (0.55, -0.2), (0.85, -0.15)], LINE, 0.03)
    return d


def boot(p: dict[str, float]) -> Drawing:
    d = shoe(p, p["shaft"], p["heel"] * 0.6)
    if flag(p, "zip"):
        d.add([(0.62 * p["length"], -p["shaft"] + 0.05), (0.62 * p["length"], -0.3)], LINE, 0.02)
    else:
        d.add(
            [(0.6, -p["shaft"] + 0.02), (0.66, -0.35), (0.84, -0.35), (0.88, -p["shaft"] + 0.02)],
            TRIM,
        )
    return d


def sandal(p: dict[str, float]) -> Drawing:
    """Thin sole, optional heel, a few straps: sparse, like Fashion-MNIST's sandals."""
    d = Drawing()
    n, heel = p["length"], p["heel"] * 1.6
    d.add([(0.0, -0.03), (0.7 * n, -0.05 - heel * 0.4), (n, -0.06 - heel), (n, -heel * 0.8 + 0.0),
           (0.92 * n, 0.0), (0.85 * n, -heel * 0.7), (0.7 * n, -0.02 - heel * 0.35), (0.02, 0.01)], BODY)  # fmt: skip
    for i in range(int(p["straps"])):
        x = (0.12 + 0.22 * i) * n
        top = -0.2 - 0.08 * i - heel * (0.15 + 0.25 * i)
        d.add(
            [(x, -0.04 - heel * 0.3 * i), (x + 0.06, top), (x + 0.16, -0.05 - heel * 0.35 * i)],
            TRIM,
            0.05,
        )
    d.add(
        [
            (0.78 * n, -0.06 - heel * 0.8),
            (0.8 * n, -0.42 - heel),
            (0.95 * n, -0.42 - heel),
            (0.97 * n, -0.06 - heel),
        ],
        TRIM,
        0.05,
    )
    return d


def bag(p: dict[str, float]) -> Drawing:
    d = Drawing()
    w, h, t = 0.5 * p["length"], 0.75 * p["height"], p["taper"]
    d.add([(-w * (1 - t), -h), (w * (1 - t), -h), (w, 0.0), (-w, 0.0)], BODY)
    if flag(p, "strap"):
        d.add(
            [(-w * 0.9, -h), (-w * 0.6, -h - 0.5), (w * 0.6, -h - 0.5), (w * 0.9, -h)], TRIM, 0.04
        )
    else:
        hh = p["handle"]
        d.add([(-0.22, -h), (-0.18, -h - hh), (0.18, -h - hh), (0.22, -h)], TRIM, 0.06)
    if flag(p, "flap"):
        d.add(
            [(-w * (1 - t), -h), (w * (1 - t), -h), (w * 0.95, -h * 0.55), (-w * 0.95, -h * 0.55)],
            TRIM,
        )
    d.add(ellipse(0.0, -h * 0.55, 0.05, 0.04, n=8), DOT)
    return d
