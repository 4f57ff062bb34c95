"""FashionSynth "wild" roots (DeepFashion's official layout) made in the test's tmp dir.

A clean 30-image root is generated once per session and copied for each test, so a test may
damage its own copy. `read_lists` is a deliberately naive reader, independent of the loader's
parser, that tests use as the expected values.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from fashion_transfer.synth.generate import CLOTH_CATEGORIES, WILD_TO_FMNIST, generate_wild

N_IMAGES, SEED = 30, 6  # seed 6: every split non-empty, unmapped categories in train and val
NAME_WIDTH = 71  # labels begin at column 72 in the official files


def read_lists(root: Path) -> dict:
    """What the list files say, read naively: names in list order, 1-based labels, boxes, splits."""

    def entries(rel: str) -> dict[str, list[str]]:
        return {
            f[0]: f[1:]
            for f in (line.split() for line in (root / rel).read_text().splitlines()[2:])
        }

    labels = entries("Anno/list_category_img.txt")
    boxes, parts = entries("Anno/list_bbox.txt"), entries("Eval/list_eval_partition.txt")
    names = list(labels)
    return {
        "names": names,
        "labels": [int(labels[n][0]) for n in names],
        "boxes": [tuple(int(v) for v in boxes[n]) for n in names],
        "splits": [parts[n][0] for n in names],
        "categories": [name for name, _ in CLOTH_CATEGORIES],
    }


@pytest.fixture(scope="session")
def clean_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("synth") / "wild"
    generate_wild(root, N_IMAGES, SEED)
    written = read_lists(root)
    used = {written["categories"][label - 1] for label in written["labels"]}
    assert set(written["splits"]) == {"train", "val", "test"}, "fixture needs all three splits"
    assert any(WILD_TO_FMNIST.get(c) is None for c in used), "fixture needs an unmapped category"
    return root, written


@pytest.fixture
def df_root(clean_root: tuple[Path, dict], tmp_path: Path) -> Path:
    """A private copy of the clean fixture root that the test may damage."""
    root = tmp_path / "DeepFashion"
    shutil.copytree(clean_root[0], root)
    return root


@pytest.fixture
def written(clean_root: tuple[Path, dict]) -> dict:
    return clean_root[1]


@pytest.fixture
def fixture_categories() -> list[str]:
    """The 50 category names of list_category_cloth.txt, as FashionSynth writes them."""
    return [name for name, _ in CLOTH_CATEGORIES]


@pytest.fixture
def edit_lines() -> Callable[[Path, Callable[[list[str]], list[str]]], None]:
    """Rewrite a list file through a function of its lines (count and header included)."""

    def edit(path: Path, change: Callable[[list[str]], list[str]]) -> None:
        path.write_text("\n".join(change(path.read_text().splitlines())) + "\n")

    return edit


def set_field(lines: list[str], lineno: int, field: int, value: str) -> list[str]:
    """Replace one whitespace-separated field of a 1-based line, keeping the official padding."""
    fields = lines[lineno - 1].split()
    fields[field] = value
    lines[lineno - 1] = fields[0].ljust(NAME_WIDTH) + " ".join(fields[1:])
    return lines


@pytest.fixture
def set_fields() -> Callable[..., list[str]]:
    return set_field


@pytest.fixture
def studio_photo() -> Callable[[Path, tuple[int, int, int, int]], None]:
    """Overwrite an image with a studio shot: dark garment filling `box` on a light background."""

    def write(path: Path, box: tuple[int, int, int, int]) -> None:
        with Image.open(path) as old:
            size = old.size
        rng = np.random.default_rng(0)
        pixels = np.clip(225 + rng.normal(0, 5, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
        img = Image.fromarray(pixels)
        ImageDraw.Draw(img).ellipse(box, fill=(40, 50, 70))
        img.save(path, "JPEG", quality=90)

    return write
