"""FashionSynth's generator: both domains written to disk, byte-identical for a seed.

`SYNTH.json` (parameters + file hashes) is written last: a folder without it is incomplete, and
`is_complete` judges a folder before anything is rewritten.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from fashion_transfer import atomic
from fashion_transfer.data.idx import write_idx
from fashion_transfer.errors import ConfigError, UserError
from fashion_transfer.synth.fabric import choose, sample_fabric
from fashion_transfer.synth.render import render_studio, render_wild
from fashion_transfer.synth.shapes import sample_model

GENERATOR_VERSION = 1
MANIFEST = "SYNTH.json"
# Studio class -> garment styles it is drawn from (the same models the wild categories use).
STUDIO_STYLES: tuple[dict[str, float], ...] = (
    {"Tee": 0.75, "Tank": 0.25}, {"Jeans": 0.75, "Joggers": 0.25},
    {"Sweater": 0.85, "Hoodie": 0.15},
    {"Dress": 0.7, "Sundress": 0.3}, {"Coat": 0.8, "Parka": 0.2}, {"Sandal": 1.0},
    {"Button-Down": 0.75, "Blouse": 0.25}, {"Sneaker": 1.0}, {"Bag": 1.0}, {"Ankle boot": 1.0},
)  # fmt: skip
# DeepFashion's list_category_cloth.txt: all 50 categories in order (type 1 upper, 2 lower, 3 full).
CLOTH_CATEGORIES: tuple[tuple[str, int], ...] = tuple(
    (name, kind)
    for kind, names in (
        (1, "Anorak Blazer Blouse Bomber Button-Down Cardigan Flannel Halter Henley Hoodie Jacket "
            "Jersey Parka Peacoat Poncho Sweater Tank Tee Top Turtleneck"),
        (2, "Capris Chinos Culottes Cutoffs Gauchos Jeans Jeggings Jodhpurs Joggers Leggings "
            "Sarong Shorts Skirt Sweatpants Sweatshorts Trunks"),
        (3, "Caftan Cape Coat Coverup Dress Jumpsuit Kaftan Kimono Nightdress Onesie Robe Romper "
            "Shirtdress Sundress"),
    )
    for name in names.split()
)  # fmt: skip
# The wild categories and their Fashion-MNIST class (None: no counterpart; left out of the
# shared-space score). conf/label_map/deepfashion_to_fmnist.yaml agrees with this.
WILD_TO_FMNIST: dict[str, str | None] = {
    "Tee": "T-shirt/top", "Tank": "T-shirt/top", "Button-Down": "Shirt", "Blouse": "Shirt",
    "Sweater": "Pullover", "Hoodie": "Pullover", "Coat": "Coat", "Parka": "Coat",
    "Dress": "Dress", "Sundress": "Dress", "Jeans": "Trouser", "Joggers": "Trouser",
    "Skirt": None, "Shorts": None, "Romper": None,
}  # fmt: skip
WILD_CATEGORIES: tuple[str, ...] = tuple(WILD_TO_FMNIST)

_CHUNK = 500  # studio images rendered per batch (fixed, so batching never changes a pixel)
_PATTERN_WORDS = {
    "solid": ("Classic", "Basic", "Essential", "Everyday", "Soft", "Relaxed", "Slim", "Boxy"),
    "stripes": ("Striped", "Stripe", "Breton"), "vstripes": ("Pinstriped", "Pinstripe", "Striped"),
    "checks": ("Plaid", "Checked", "Gingham", "Tartan"),
    "dots": ("Dotted", "Polka_Dot", "Dot_Print"),
    "blotch": ("Floral", "Printed", "Abstract_Print", "Camo"),
    "denim": ("Washed", "Distressed", "Faded", "Dark_Wash"),
    "ribs": ("Ribbed", "Cable_Knit", "Knit"), "heather": ("Heathered", "Marled", "Melange"),
}  # fmt: skip
_WORDS = (
    "Cotton", "Linen", "Jersey", "Chiffon", "Woven", "Fleece", "Wool", "Twill", "Satin", "Crepe",
    "Lace-Trimmed", "Mesh", "Pocket", "Drawstring", "Zip-Up", "Belted", "Button-Front", "V-Neck",
    "Crew_Neck", "Pleated", "Tiered", "Cropped", "Longline", "Fitted", "Side-Slit", "Ruffled",
)  # fmt: skip


def cloth_list_text() -> str:
    """list_category_cloth.txt exactly as DeepFashion writes it (names padded to 15 columns)."""
    lines = [str(len(CLOTH_CATEGORIES)), "category_name  category_type"]
    return "\n".join(lines + [f"{name:<15}{kind}" for name, kind in CLOTH_CATEGORIES]) + "\n"


def _list_text(header: str, rows: list[tuple[str, str]]) -> str:
    """A DeepFashion list file: count line, header, names padded so values start at column 72."""
    return "".join([f"{len(rows)}\n{header}\n", *(f"{name:<70} {value}\n" for name, value in rows)])


def generate_studio(root: Path, n_train: int, n_test: int, seed: int) -> None:
    """Write the studio domain as `root/FashionMNIST/raw/{train,t10k}-{images,labels}-idx*`."""
    if min(n_train, n_test) < 1:
        raise ConfigError(
            f"FashionSynth studio needs at least 1 train and 1 test image, got {n_train}/{n_test}"
        )
    params = {"n_train": n_train, "n_test": n_test, "seed": seed}
    if is_complete(root, "studio", params):
        return
    raw = root / "FashionMNIST" / "raw"
    for split, (prefix, n) in enumerate((("train", n_train), ("t10k", n_test))):
        labels = (
            np.random.default_rng([seed, 0, split]).permutation(np.arange(n) % 10).astype(np.uint8)
        )
        images = np.empty((n, 28, 28), dtype=np.uint8)
        for start in range(0, n, _CHUNK):
            rngs = [
                np.random.default_rng([seed, 1, split, i])
                for i in range(start, min(n, start + _CHUNK))
            ]
            styles = [
                choose(rng, STUDIO_STYLES[int(labels[start + k])]) for k, rng in enumerate(rngs)
            ]
            images[start : start + len(rngs)] = render_studio(styles, rngs)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    _write_manifest(root, "studio", params)


def generate_wild(
    root: Path, n_images: int, seed: int, val_fraction: float = 0.15, test_fraction: float = 0.15
) -> None:
    """Write the wild domain in DeepFashion's layout: Anno/, Eval/ and Img/img/<item>/img_*.jpg.

    Splits get whole items (2-6 photos each): a very small `n_images` can leave val or test empty.
    """
    if n_images < 1 or min(val_fraction, test_fraction) < 0 or val_fraction + test_fraction >= 1:
        raise ConfigError(
            "FashionSynth wild needs n_images >= 1 and val/test fractions >= 0 summing below 1, "
            f"got {n_images}, {val_fraction}, {test_fraction}"
        )
    params = {
        "n_images": n_images,
        "seed": seed,
        "val_fraction": val_fraction,
        "test_fraction": test_fraction,
    }
    if is_complete(root, "wild", params):
        return
    counts, categories = _plan_items(n_images, np.random.default_rng([seed, 1]))
    splits = _assign_splits(
        counts, categories, np.random.default_rng([seed, 2]), val_fraction, test_fraction
    )
    label = {name: i + 1 for i, (name, _) in enumerate(CLOTH_CATEGORIES)}
    used: set[str] = set()
    rows: dict[str, list[tuple[str, str]]] = {"img": [], "bbox": [], "eval": []}
    for item, (count, category) in enumerate(zip(counts, categories, strict=True)):
        rng = np.random.default_rng([seed, 3, item])
        model, fabric = sample_model(category, rng), sample_fabric(category, rng)
        folder = _item_folder(category, fabric.pattern, rng, used)
        (root / "Img" / "img" / folder).mkdir(parents=True, exist_ok=True)
        for k in range(count):
            name = f"img/{folder}/img_{k + 1:08d}.jpg"
            image, (x1, y1, x2, y2) = render_wild(
                model, fabric, np.random.default_rng([seed, 4, item, k])
            )
            image.save(root / "Img" / name, format="JPEG", quality=90)
            rows["img"].append((name, str(label[category])))
            rows["bbox"].append((name, f"{x1:03d} {y1:03d} {x2:03d} {y2:03d}"))
            rows["eval"].append((name, splits[item]))
    _write_text(root / "Anno" / "list_category_cloth.txt", cloth_list_text())
    _write_text(
        root / "Anno" / "list_category_img.txt",
        _list_text("image_name  category_label", rows["img"]),
    )
    _write_text(
        root / "Anno" / "list_bbox.txt", _list_text("image_name  x_1  y_1  x_2  y_2", rows["bbox"])
    )
    _write_text(
        root / "Eval" / "list_eval_partition.txt",
        _list_text("image_name  evaluation_status", rows["eval"]),
    )
    _write_manifest(root, "wild", params)


def _plan_items(n_images: int, rng: np.random.Generator) -> tuple[list[int], list[str]]:
    """Items of 2-6 photos each; categories cycle in shuffled rounds, so all are near balanced."""
    counts: list[int] = []
    categories: list[str] = []
    while sum(counts) < n_images:
        for c in rng.permutation(len(WILD_CATEGORIES)).tolist():
            if sum(counts) >= n_images:
                break
            counts.append(min(int(rng.integers(2, 7)), n_images - sum(counts)))
            categories.append(WILD_CATEGORIES[c])
    return counts, categories


def _assign_splits(
    counts: list[int], categories: list[str], rng: np.random.Generator, val: float, test: float
) -> list[str]:
    """Whole items to train/val/test, as the official partition groups by item.

    Items are visited category by category (random order within), each going to the split that is
    least filled relative to its share, so every category is split in about the same proportions.
    """
    total = sum(counts)
    shares = (("train", 1 - val - test), ("val", val), ("test", test))
    targets = {k: f * total for k, f in shares if f > 0}
    have = dict.fromkeys(targets, 0)
    splits = [""] * len(counts)
    codes = [WILD_CATEGORIES.index(c) for c in categories]
    for i in np.lexsort((rng.random(len(counts)), codes)).tolist():
        split = min(targets, key=lambda k: have[k] / targets[k])
        splits[i] = split
        have[split] += counts[i]
    return splits


def _item_folder(category: str, pattern: str, rng: np.random.Generator, used: set[str]) -> str:
    """A unique DeepFashion-style item name such as `Striped_Cotton_Tee`, from the item's fabric."""
    lead = _PATTERN_WORDS[pattern]
    for attempt in range(30):
        words = [lead[int(rng.integers(len(lead)))], _WORDS[int(rng.integers(len(_WORDS)))]]
        if attempt >= 10:
            words.insert(1, _WORDS[int(rng.integers(len(_WORDS)))])
        name = "_".join([*words, category])
        if name not in used:
            break
    while name in used:
        name = f"{name}_{len(used)}"
    used.add(name)
    return name


def _write_text(path: Path, text: str) -> None:
    atomic.write_text(path, text, encoding="ascii")


def _hashes(root: Path) -> dict[str, str]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST)
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files
    }


def _write_manifest(root: Path, domain: str, params: dict) -> None:
    """Written last, atomically: its presence means every other file is complete."""
    manifest = {
        "generator": "FashionSynth",
        "version": GENERATOR_VERSION,
        "domain": domain,
        "params": params,
        "files": _hashes(root),
    }
    atomic.write_text(root / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def is_complete(root: Path, domain: str, params: dict) -> bool:
    """True if `root` already holds this exact data set, False if it is absent or empty.

    Anything else (other parameters, an interrupted run, changed files, foreign data) is a
    UserError: generated data is never overwritten or deleted silently.
    """
    if not root.exists() or (root.is_dir() and not any(root.iterdir())):
        return False
    fix = "delete it or pick another output folder (--out)"
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        raise UserError(
            f"{root} exists but holds no complete FashionSynth {domain} data "
            f"(no valid {MANIFEST}); {fix}"
        ) from None
    wanted = {"generator": "FashionSynth", "version": GENERATOR_VERSION, "domain": domain, **params}
    found = {"generator": manifest.get("generator"), "version": manifest.get("version"),
             "domain": manifest.get("domain"), **(manifest.get("params") or {})}  # fmt: skip
    if found != wanted:
        diff = ", ".join(
            f"{k}={found.get(k)} (wanted {wanted.get(k)})"
            for k in sorted(set(found) | set(wanted))
            if found.get(k) != wanted.get(k)
        )
        raise UserError(f"{root} holds other FashionSynth data: {diff}; {fix}")
    if _hashes(root) != manifest.get("files"):
        raise UserError(
            f"{root} holds FashionSynth {domain} data whose files were changed, added or "
            f"removed; {fix}"
        )
    return True
