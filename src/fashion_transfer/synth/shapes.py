"""FashionSynth garment models: parametrised silhouettes shared by the studio and wild renderers.

A garment model is a style (a DeepFashion category or a studio-only item such as a Sneaker) plus
sampled proportions. `build` turns it into polygons in garment units (x centred on 0, y down), so
the same model can be drawn at 56 px in gray or at 300 px in colour. Wild categories are variants
of the studio shapes: one builder with other ranges (a Tank is a Tee without sleeves, a Parka a
long Coat with a hood), which is what makes the studio-to-wild transfer meaningful.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fashion_transfer.synth import items
from fashion_transfer.synth.drawing import (
    BODY,
    DARK,
    DOT,
    FUR,
    LINE,
    PRINT,
    TRIM,
    Drawing,
    Limb,
    Part,
    Pt,
    bezier,
    ellipse,
    flag,
    mirror,
    symmetric,
)


@dataclass
class GarmentModel:
    """A style and its sampled proportions and flags; `build` draws it, `pose` re-poses it."""

    style: str
    builder: str
    p: dict[str, float]


_TOP = {
    "neck_w": (0.17, 0.24), "neck_d": (0.06, 0.12), "shoulder_w": (0.46, 0.54),
    "shoulder_drop": (0.04, 0.09), "sleeve_len": (0.32, 0.45), "sleeve_w": (0.26, 0.34),
    "sleeve_angle": (22, 42), "sleeve_flare": (0, 0), "body_w": (0.44, 0.52),
    "armpit_y": (0.34, 0.42), "waist": (0.0, 0.06), "waist_y": (0.65, 0.8),
    "body_len": (1.15, 1.4), "flare": (1.0, 1.08), "hem_curve": (0.0, 0.04),
    "strap": (0.07, 0.12), "rib": (0.08, 0.12), "hood_h": (0.42, 0.52), "print_w": (0.3, 0.48),
}  # fmt: skip
_BOTTOM = {
    "waist_w": (0.4, 0.48), "hip_w": (0.46, 0.54), "rise": (0.55, 0.75), "leg_len": (1.8, 2.3),
    "hem_out": (0.38, 0.5), "hem_in": (0.06, 0.14), "band": (0.06, 0.1), "cuff": (0.12, 0.18),
    "hem_w": (0.6, 1.1), "skirt_len": (0.8, 1.9),
}  # fmt: skip
_ROMPER = {**_TOP, **_BOTTOM, "waist_y": (0.7, 0.85), "rise": (0.45, 0.6), "leg_len": (0.7, 0.95),
           "hem_out": (0.52, 0.64), "hem_in": (0.03, 0.1), "sleeve_len": (0.0, 0.3)}  # fmt: skip
_ITEM = {"length": (0.9, 1.1), "height": (0.8, 1.2), "heel": (0.0, 0.25), "shaft": (0.75, 1.0),
         "handle": (0.25, 0.5), "taper": (0.0, 0.2), "straps": (2, 4.99)}  # fmt: skip
_BASE = {"top": _TOP, "bottom": _BOTTOM, "skirt": _BOTTOM, "romper": _ROMPER,
         "sandal": _ITEM, "sneaker": _ITEM, "boot": _ITEM, "bag": _ITEM}  # fmt: skip

_LONG = {"sleeve_len": (1.15, 1.4), "sleeve_angle": (55, 72), "sleeve_w": (0.22, 0.28)}
# style -> (builder, range overrides, flag probabilities)
STYLES: dict[str, tuple[str, dict, dict]] = {
    "Tee": ("top", {"sleeve_len": (0.28, 0.55), "body_len": (1.1, 1.45)}, {"graphic": 0.45}),
    "Tank": ("top", {"sleeve_len": (0, 0), "neck_d": (0.18, 0.3), "armpit_y": (0.4, 0.5),
                     "body_len": (1.2, 1.45)}, {"graphic": 0.2}),
    "Button-Down": ("top", {**_LONG, "sleeve_len": (0.35, 1.35), "sleeve_angle": (30, 70),
                            "body_len": (1.3, 1.6), "hem_curve": (0.05, 0.12)},
                    {"collar": 0.9, "buttons": 0.85, "cuffs": 0.6, "pocket": 0.3}),
    "Blouse": ("top", {"sleeve_len": (0.7, 1.15), "sleeve_angle": (40, 62),
                       "sleeve_flare": (0.1, 0.28), "neck_w": (0.2, 0.27), "neck_d": (0.15, 0.3),
                       "waist": (0.06, 0.14), "flare": (1.05, 1.25), "body_len": (1.1, 1.35)},
               {"vneck": 0.7, "belt": 0.2}),
    "Sweater": ("top", {**_LONG, "body_w": (0.5, 0.56), "shoulder_w": (0.52, 0.58),
                        "body_len": (1.2, 1.55), "waist": (-0.02, 0.02), "flare": (0.92, 1.0)},
                {"rib_hem": 0.75, "cuffs": 0.75, "vneck": 0.2}),
    "Hoodie": ("top", {**_LONG, "body_w": (0.5, 0.56), "shoulder_w": (0.52, 0.58),
                       "body_len": (1.25, 1.45), "waist": (-0.02, 0.02), "flare": (0.92, 1.0)},
               {"rib_hem": 1, "cuffs": 1, "hood": 1, "kangaroo": 0.85, "zip": 0.3}),
    "Coat": ("top", {**_LONG, "body_len": (1.5, 2.5), "waist_y": (0.75, 0.9),
                     "waist": (0.02, 0.1), "flare": (1.05, 1.25)},
             {"lapel": 0.7, "zip": 0.35, "buttons": 0.6, "double": 0.4, "belt": 0.3, "pocket": 0.6}),
    "Parka": ("top", {**_LONG, "body_len": (1.5, 2.2), "waist_y": (0.8, 0.95),
                      "body_w": (0.52, 0.6), "sleeve_w": (0.26, 0.32), "flare": (1.0, 1.1)},
              {"hood": 1, "fur": 0.7, "zip": 1, "quilted": 0.5, "pocket": 0.9, "cuffs": 0.5}),
    "Dress": ("top", {"sleeve_len": (0.0, 0.45), "body_len": (1.6, 2.4), "waist_y": (0.5, 0.62),
                      "waist": (0.12, 0.22), "flare": (1.25, 1.8)}, {"belt": 0.3}),
    "Sundress": ("top", {"sleeve_len": (0, 0), "neck_d": (0.15, 0.3), "body_len": (1.7, 2.3),
                         "waist_y": (0.45, 0.55), "waist": (0.15, 0.25), "flare": (1.7, 2.6),
                         "strap": (0.04, 0.07)}, {"tiers": 0.5}),
    "Jeans": ("bottom", {"hem_out": (0.4, 0.5), "hem_in": (0.1, 0.16)}, {"pockets": 1, "fly": 1}),
    "Joggers": ("bottom", {"hem_out": (0.3, 0.36), "hem_in": (0.08, 0.14), "band": (0.1, 0.14),
                           "hip_w": (0.5, 0.58)}, {"cuffed": 1, "drawstring": 1}),
    "Shorts": ("bottom", {"leg_len": (0.75, 1.05), "hem_out": (0.55, 0.7), "hem_in": (0.02, 0.1),
                          "rise": (0.5, 0.65)}, {"cuffed": 0.3, "pockets": 0.5, "fly": 0.6}),
    "Skirt": ("skirt", {}, {"pleats": 0.4}),
    "Romper": ("romper", {}, {"belt": 0.5}),
    "Sandal": ("sandal", {}, {}),
    "Sneaker": ("sneaker", {"heel": (0.0, 0.0)}, {}),
    "Ankle boot": ("boot", {}, {"zip": 0.5}),
    "Bag": ("bag", {}, {"flap": 0.5, "strap": 0.4}),
}  # fmt: skip


def sample_model(style: str, rng: np.random.Generator) -> GarmentModel:
    """Draw one garment of `style`: every proportion varies per sample within the style's ranges."""
    builder, overrides, flags = STYLES[style]
    ranges = {**_BASE[builder], **overrides}
    lo, hi = np.array(list(ranges.values()), dtype=np.float64).T
    values = lo + (hi - lo) * rng.random(len(ranges))
    p = dict(zip(ranges, values.tolist(), strict=True))
    draws = rng.random(len(flags))
    p.update({k: float(d < prob) for (k, prob), d in zip(flags.items(), draws, strict=True)})
    return GarmentModel(style, builder, p)


def pose(model: GarmentModel, rng: np.random.Generator) -> GarmentModel:
    """The same garment photographed again: sleeves and proportions move a little."""
    p = dict(model.p)
    if "sleeve_angle" in p:
        p["sleeve_angle"] += float(rng.uniform(-12, 12))
    for key, f in zip(
        ("body_w", "body_len", "hem_out", "hem_w", "flare"), rng.uniform(0.94, 1.06, 5), strict=True
    ):
        if key in p:
            p[key] *= float(f)
    return GarmentModel(model.style, model.builder, p)


def build(model: GarmentModel) -> Drawing:
    """Polygons and limbs of a garment model in garment units."""
    return _BUILDERS[model.builder](model.p)


def _half_width(p: dict[str, float], y: float) -> float:
    """Half width of the torso outline at height y (armpit, waist and hem knots)."""
    ys = [p["armpit_y"], p["waist_y"], p["body_len"]]
    xs = [p["body_w"], p["body_w"] * (1 - p["waist"]), p["body_w"] * p["flare"]]
    return float(np.interp(y, ys, xs))


def _upper_right(p: dict[str, float], d: Drawing) -> list[Pt]:
    """Right half from the neck to the armpit: shoulder and sleeve, or strap and armhole."""
    nw, bw, ay = p["neck_w"], p["body_w"], p["armpit_y"]
    if p["sleeve_len"] < 0.05:
        so = min(nw + p["strap"], bw - 0.08)
        ctrl = [(so + 0.02, ay * 0.7), (bw - 0.1, ay)]
        d.limbs.append(Limb("arm", ((so + bw) / 2, ay * 0.6), (0.3, 1.0), 0.15))
        return [(nw, 0.0), (so, 0.0), *bezier((so, 0.0), *ctrl, (bw, ay))]
    s = np.array([p["shoulder_w"], p["shoulder_drop"]])
    a = math.radians(p["sleeve_angle"])
    dvec, nvec = np.array([math.cos(a), math.sin(a)]), np.array([-math.sin(a), math.cos(a)])
    end = s + p["sleeve_len"] * dvec
    top = end - nvec * p["sleeve_w"] * p["sleeve_flare"] / 2
    bottom = end + nvec * p["sleeve_w"] * (1 + p["sleeve_flare"] / 2)
    if flag(p, "cuffs"):
        r = p["rib"] * 0.8
        symmetric(
            d, [tuple(top), tuple(bottom), tuple(bottom - r * dvec), tuple(top - r * dvec)], TRIM
        )
    mid = (top + bottom) / 2
    d.limbs.append(Limb("arm", tuple(mid), tuple(dvec), p["sleeve_w"] * 0.7))
    return [(nw, 0.0), tuple(s), tuple(top), tuple(bottom), (bw, ay)]


def _neckline(p: dict[str, float]) -> list[Pt]:
    nw, nd = p["neck_w"], p["neck_d"]
    if flag(p, "vneck") or flag(p, "lapel"):
        return [(0.0, nd)]
    return [
        (-nw * 0.7, nd * 0.6),
        (-nw * 0.35, nd * 0.92),
        (0.0, nd),
        (nw * 0.35, nd * 0.92),
        (nw * 0.7, nd * 0.6),
    ]


def _hood(p: dict[str, float], d: Drawing) -> None:
    nw, h = p["neck_w"], p["hood_h"]
    d.add(ellipse(0.0, -h * 0.4 + 0.04, nw + 0.12, h * 0.55), BODY)
    if flag(p, "fur"):
        d.add(ellipse(0.0, -h * 0.3, nw * 1.05, h * 0.42, n=28, jag=0.12), FUR)
    d.add(ellipse(0.0, -h * 0.28, nw * 0.8, h * 0.34), DARK)


def _top(p: dict[str, float]) -> Drawing:
    """Tops, dresses, coats: one outline whose sleeves, length, waist and flare vary."""
    d = Drawing()
    if flag(p, "hood"):
        _hood(p, d)
    nw, length, curve = p["neck_w"], p["body_len"], p["hem_curve"]
    hem = _half_width(p, length)
    over = Drawing()  # cuffs and limbs found while tracing the sleeve go on top of the outline
    right = _upper_right(p, over)
    right += [(_half_width(p, p["waist_y"]), p["waist_y"]), (hem, length - curve)]
    right += [(hem * 0.55, length - curve * 0.3), (0.0, length)]
    d.add(right + mirror(right)[1:] + _neckline(p), BODY)
    d.parts += over.parts
    d.limbs += over.limbs
    if not flag(p, "hood"):
        back = [(-nw, 0.0), (-nw * 0.5, -0.035), (0.0, -0.045), (nw * 0.5, -0.035), (nw, 0.0)]
        d.add(back + _neckline(p)[::-1], DARK)
    _top_details(p, d, hem)
    d.limbs.append(Limb("head", (0.0, -0.05), (0.0, -1.0), nw * 1.3))
    d.limbs.append(Limb("leg", (hem * 0.4, length), (0.05, 1.0), 0.16))
    d.limbs.append(Limb("leg", (-hem * 0.4, length), (-0.05, 1.0), 0.16))
    return d


def _top_details(p: dict[str, float], d: Drawing, hem: float) -> None:
    nw, nd, length, ay = p["neck_w"], p["neck_d"], p["body_len"], p["armpit_y"]
    lw = 0.02
    if flag(p, "rib_hem"):
        r = p["rib"]
        d.add([(-hem, length - r), (hem, length - r), (hem, length), (-hem, length)], TRIM)
    if flag(p, "collar") or flag(p, "lapel"):
        depth = nd + (0.14 if flag(p, "collar") else 0.45)
        d.add([(-nw - 0.02, 0.01), (-nw * 0.6, -0.06), (nw * 0.6, -0.06), (nw + 0.02, 0.01)], TRIM)
        symmetric(d, [(nw + 0.03, -0.01), (0.02, nd + 0.02), (nw * 0.5 + 0.04, depth)], TRIM)
    opening = nd + (0.45 if flag(p, "lapel") else 0.0)
    if flag(p, "buttons") or flag(p, "zip") or flag(p, "lapel"):
        d.add([(0.0, opening), (0.0, length - 0.02)], LINE, lw)
    if flag(p, "buttons"):
        xs = (-0.12, 0.12) if flag(p, "double") else (0.035,)
        stop = min(length - 0.1, opening + (0.6 if flag(p, "double") else 2.0))
        for y in np.arange(opening + 0.06, stop, 0.17).tolist():
            for x in xs:
                d.add(ellipse(x, y, 0.025, 0.025, n=8), DOT)
    if flag(p, "belt"):
        wy, ww = p["waist_y"], _half_width(p, p["waist_y"]) + 0.01
        d.add([(-ww, wy - 0.045), (ww, wy - 0.045), (ww, wy + 0.045), (-ww, wy + 0.045)], TRIM)
        d.add(ellipse(0.0, wy, 0.06, 0.05, n=8), DOT)
    if flag(p, "kangaroo"):
        y0, y1 = length * 0.58, length - p["rib"] - 0.03
        d.add([(-0.27, y0), (0.27, y0), (0.35, y1), (-0.35, y1), (-0.27, y0)], LINE, lw)
    if flag(p, "pocket"):
        y0 = length * 0.6 if length > 1.6 else ay + 0.02
        s = 0.2 if length > 1.6 else 0.13
        symmetric(
            d,
            [(0.16, y0), (0.16 + s, y0), (0.16 + s, y0 + s), (0.16, y0 + s), (0.16, y0)],
            LINE,
            lw,
        )
    if flag(p, "hood") and not flag(p, "zip"):
        symmetric(d, [(0.08, nd * 0.5), (0.09, nd + 0.3)], LINE, lw)
    if flag(p, "quilted"):
        for y in np.arange(ay + 0.15, length - 0.08, 0.24).tolist():
            w = _half_width(p, y) - 0.03
            d.add([(-w, y), (w, y)], LINE, lw)
    if flag(p, "tiers"):
        for y in np.linspace(p["waist_y"], length, 4)[1:-1].tolist():
            w = _half_width(p, y) - 0.03
            d.add([(-w, y), (w, y)], LINE, lw)
    if flag(p, "graphic"):
        w = p["print_w"]
        d.add([(-w / 2, ay), (w / 2, ay), (w / 2, ay + w * 0.7), (-w / 2, ay + w * 0.7)], PRINT)


def _legs(p: dict[str, float], y0: float) -> list[Pt]:
    """Right half of a pair of legs hanging from a waist at y0: hip, hems, crotch."""
    ww, hip, rise, leg = p["waist_w"], p["hip_w"], p["rise"], p["leg_len"]
    return [
        (ww, y0),
        (hip, y0 + rise * 0.6),
        (p["hem_out"], y0 + leg),
        (p["hem_in"], y0 + leg),
        (0.0, y0 + rise),
    ]


def _leg_x(p: dict[str, float], y: float, outer: bool) -> float:
    top = (p["hip_w"], p["rise"] * 0.6) if outer else (0.0, p["rise"])
    bottom = (p["hem_out"] if outer else p["hem_in"], p["leg_len"])
    return top[0] + (bottom[0] - top[0]) * (y - top[1]) / (bottom[1] - top[1])


def _bottom(p: dict[str, float]) -> Drawing:
    """Trousers, joggers and shorts: two legs, waistband, fly, pockets, cuffs."""
    d = Drawing()
    right = _legs(p, 0.0)
    d.add(mirror(right) + right, BODY)
    ww, band, leg, lw = p["waist_w"], p["band"], p["leg_len"], 0.02
    d.add([(-ww, 0.0), (ww, 0.0), (ww + 0.01, band), (-ww - 0.01, band)], TRIM)
    if flag(p, "fly"):
        d.add([(0.05, band), (0.05, p["rise"] * 0.7), (0.0, p["rise"] * 0.85)], LINE, lw)
    if flag(p, "pockets"):
        symmetric(
            d, [(ww * 0.45, band), (ww * 0.6, band + 0.12), (ww * 0.95, band + 0.2)], LINE, lw
        )
    if flag(p, "drawstring"):
        symmetric(d, [(0.04, band * 0.5), (0.07, band + 0.25)], LINE, lw)
    if flag(p, "cuffed"):
        y = leg - p["cuff"] * (0.7 if leg < 1.2 else 1.0)
        x_in, x_out = _leg_x(p, y, False), _leg_x(p, y, True)
        symmetric(d, [(x_in, y), (x_out, y), (p["hem_out"], leg), (p["hem_in"], leg)], TRIM)
    mid = (p["hem_out"] + p["hem_in"]) / 2
    d.limbs.append(Limb("torso", (0.0, 0.0), (0.0, -1.0), ww * 2))
    d.limbs += [Limb("leg", (s * mid, leg), (0.0, 1.0), 0.15) for s in (1, -1)]
    return d


def _skirt(p: dict[str, float]) -> Drawing:
    d = Drawing()
    ww, hw, length, band = p["waist_w"], p["hem_w"], p["skirt_len"], p["band"]
    d.add(
        [
            (-ww, 0.0),
            (ww, 0.0),
            (hw, length),
            (hw * 0.5, length + 0.03),
            (-hw * 0.5, length + 0.03),
            (-hw, length),
        ],
        BODY,
    )
    d.add([(-ww, 0.0), (ww, 0.0), (ww + 0.01, band), (-ww - 0.01, band)], TRIM)
    if flag(p, "pleats"):
        for t in np.linspace(-0.8, 0.8, 7).tolist():
            d.add([(t * ww, band), (t * hw, length - 0.02)], LINE, 0.015)
    d.limbs.append(Limb("torso", (0.0, 0.0), (0.0, -1.0), ww * 2))
    d.limbs += [Limb("leg", (s * hw * 0.35, length), (0.0, 1.0), 0.15) for s in (1, -1)]
    return d


def _romper(p: dict[str, float]) -> Drawing:
    """A top and a pair of shorts cut in one piece."""
    d = Drawing()
    right = _upper_right(p, d) + _legs(p, p["waist_y"])
    d.parts.insert(0, Part(np.asarray(right + mirror(right)[1:] + _neckline(p)), BODY))
    if flag(p, "belt"):
        wy, ww = p["waist_y"], p["waist_w"] + 0.01
        d.add([(-ww, wy - 0.04), (ww, wy - 0.04), (ww, wy + 0.04), (-ww, wy + 0.04)], TRIM)
    bottom = p["waist_y"] + p["leg_len"]
    mid = (p["hem_out"] + p["hem_in"]) / 2
    d.limbs.append(Limb("head", (0.0, -0.05), (0.0, -1.0), p["neck_w"] * 1.3))
    d.limbs += [Limb("leg", (s * mid, bottom), (0.0, 1.0), 0.15) for s in (1, -1)]
    return d


_BUILDERS = {
    "top": _top, "bottom": _bottom, "skirt": _skirt, "romper": _romper, "sandal": items.sandal,
    "sneaker": items.sneaker, "boot": items.boot, "bag": items.bag,
}  # fmt: skip
