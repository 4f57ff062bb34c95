"""Tiny DeepFashion roots in the exact official layout, written into each test's tmp dir.

The layout writer is a small stand-in for FashionSynth's `generate_wild` (same files, same padding)
so these tests depend only on the loader; a clean root is built once per session and copied, so
each test may damage its own copy.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

# list_category_cloth.txt of the real benchmark: name, type (1 upper, 2 lower, 3 full body).
CATEGORIES = [
    ("Anorak", 1), ("Blazer", 1), ("Blouse", 1), ("Bomber", 1), ("Button-Down", 1), ("Cardigan", 1),
    ("Flannel", 1), ("Halter", 1), ("Henley", 1), ("Hoodie", 1), ("Jacket", 1), ("Jersey", 1),
    ("Parka", 1), ("Peacoat", 1), ("Poncho", 1), ("Sweater", 1), ("Tank", 1), ("Tee", 1), ("Top", 1),
    ("Turtleneck", 1), ("Capris", 2), ("Chinos", 2), ("Culottes", 2), ("Cutoffs", 2), ("Gauchos", 2),
    ("Jeans", 2), ("Jeggings", 2), ("Jodhpurs", 2), ("Joggers", 2), ("Leggings", 2), ("Sarong", 2),
    ("Shorts", 2), ("Skirt", 2), ("Sweatpants", 2), ("Sweatshorts", 2), ("Trunks", 2), ("Caftan", 3),
    ("Cape", 3), ("Coat", 3), ("Coverup", 3), ("Dress", 3), ("Jumpsuit", 3), ("Kaftan", 3),
    ("Kimono", 3), ("Nightdress", 3), ("Onesie", 3), ("Robe", 3), ("Romper", 3), ("Shirtdress", 3),
    ("Sundress", 3),
]  # fmt: skip
CATEGORY_NAMES = [name for name, _ in CATEGORIES]
USED = ["Tee", "Jeans", "Dress", "Skirt", "Coat", "Blouse"]  # five mapped, one unmapped
PER_SPLIT = {"train": 3, "val": 1, "test": 1}  # images per used category: 30 in all
NAME_WIDTH = 71  # labels begin at column 72 in the official files


def _image(
    rng: np.random.Generator, size: tuple[int, int], box: tuple[int, int, int, int]
) -> Image.Image:
    """A dark garment-like shape on a light, slightly noisy studio background."""
    w, h = size
    background = rng.integers(200, 240, size=3)
    pixels = np.clip(background + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)
    img = Image.fromarray(pixels)
    colour = tuple(int(c) for c in rng.integers(20, 90, size=3))
    ImageDraw.Draw(img).ellipse(box, fill=colour)
    return img


def write_list(path: Path, header: str, rows: list[tuple[str, str]]) -> None:
    """Count line, header line, then left-justified, space-padded names as in the official files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [str(len(rows)), header] + [name.ljust(NAME_WIDTH) + rest for name, rest in rows]
    path.write_text("\n".join(lines) + "\n")


def write_root(root: Path, seed: int = 0) -> dict:
    """Write a 30-image DeepFashion root; returns what was written (names, labels, boxes, splits)."""
    rng = np.random.default_rng(seed)
    written = {"names": [], "labels": [], "boxes": [], "splits": []}
    for category in USED:
        label = CATEGORY_NAMES.index(category) + 1
        item = f"img/Plain_{category}"
        for split, count in PER_SPLIT.items():
            for _ in range(count):
                number = len([n for n in written["names"] if n.startswith(item + "/")]) + 1
                name = f"{item}/img_{number:08d}.jpg"
                size = (
                    (300, int(rng.integers(200, 301)))
                    if rng.random() < 0.5
                    else (int(rng.integers(200, 301)), 300)
                )
                x1, y1 = int(rng.integers(20, 70)), int(rng.integers(20, 70))
                box = (
                    x1,
                    y1,
                    x1 + int(rng.integers(90, size[0] - x1 - 10)),
                    y1 + int(rng.integers(90, size[1] - y1 - 10)),
                )
                path = root / "Img" / name
                path.parent.mkdir(parents=True, exist_ok=True)
                _image(rng, size, box).save(path, "JPEG", quality=90)
                for key, value in zip(written, (name, label, box, split), strict=True):
                    written[key].append(value)
    names = written["names"]
    write_list(root / "Anno/list_category_cloth.txt", "category_name  category_type",
               [(name, str(kind)) for name, kind in CATEGORIES])  # fmt: skip
    write_list(root / "Anno/list_category_img.txt", "image_name  category_label",
               [(n, str(lab)) for n, lab in zip(names, written["labels"], strict=True)])  # fmt: skip
    write_list(root / "Anno/list_bbox.txt", "image_name  x_1  y_1  x_2  y_2",
               [(n, " ".join(f"{v:03d}" for v in b)) for n, b in zip(names, written["boxes"], strict=True)])  # fmt: skip
    write_list(root / "Eval/list_eval_partition.txt", "image_name  evaluation_status",
               list(zip(names, written["splits"], strict=True)))  # fmt: skip
    return written


@pytest.fixture(scope="session")
def clean_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("deepfashion_clean") / "DeepFashion"
    return root, write_root(root)


@pytest.fixture
def df_root(clean_root: tuple[Path, dict], tmp_path: Path) -> Path:
    """A private copy of the clean fixture root that the test may damage."""
    root = tmp_path / "DeepFashion"
    shutil.copytree(clean_root[0], root)
    return root


@pytest.fixture
def fixture_categories() -> list[str]:
    """The 50 category names, in list_category_cloth.txt order, as the fixture roots write them."""
    return list(CATEGORY_NAMES)


@pytest.fixture
def written(clean_root: tuple[Path, dict]) -> dict:
    return clean_root[1]


@pytest.fixture
def edit_lines() -> Callable[[Path, Callable[[list[str]], list[str]]], None]:
    """Rewrite a list file through a function of its lines (count and header included)."""

    def edit(path: Path, change: Callable[[list[str]], list[str]]) -> None:
        path.write_text("\n".join(change(path.read_text().splitlines())) + "\n")

    return edit
