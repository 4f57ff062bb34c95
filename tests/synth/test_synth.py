"""FashionSynth writes the exact Fashion-MNIST and DeepFashion formats, deterministically, once."""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashion_transfer.data.classes import FMNIST_CLASSES
from fashion_transfer.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from fashion_transfer.errors import UserError
from fashion_transfer.synth import cli
from fashion_transfer.synth import generate as synth

N_WILD, N_TRAIN, N_TEST = 40, 200, 50
LISTS = ("Anno/list_category_img.txt", "Anno/list_bbox.txt", "Eval/list_eval_partition.txt")
HEADERS = (
    "image_name  category_label",
    "image_name  x_1  y_1  x_2  y_2",
    "image_name  evaluation_status",
)
SIX = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Shirt"}


@pytest.fixture(scope="module")
def wild(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "wild"
    synth.generate_wild(root, N_WILD, seed=0)
    return root


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "studio"
    synth.generate_studio(root, N_TRAIN, N_TEST, seed=0)
    return root


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _rows(root: Path, rel: str) -> tuple[int, str, list[str]]:
    lines = (root / rel).read_text().split("\n")
    assert lines[-1] == "", f"{rel} must end with a newline"
    return int(lines[0]), lines[1], lines[2:-1]


def test_studio_is_fashion_mnist_idx(studio: Path) -> None:
    raw = studio / "FashionMNIST" / "raw"
    names = {
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    }
    assert {p.name for p in raw.iterdir()} == names
    for prefix, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        images = read_idx(raw / f"{prefix}-images-idx3-ubyte", IMAGES_MAGIC)
        labels = read_idx(raw / f"{prefix}-labels-idx1-ubyte", LABELS_MAGIC)
        assert images.shape == (n, 28, 28) and labels.shape == (n,)
        counts = np.bincount(labels, minlength=10)
        assert len(counts) == 10 and counts.max() - counts.min() <= 1, "classes must be balanced"
        assert ((images == 0).mean(axis=(1, 2)) > 0.1).all(), "background must be black"
        border = np.concatenate([images[:, [0, -1], :].ravel(), images[:, :, [0, -1]].ravel()])
        assert border.mean() < 30, "the garment is centred"
        assert (images.reshape(n, -1).max(1) > 60).all(), "every image shows a light garment"
    assert (raw / "train-images-idx3-ubyte").read_bytes()[:4] == IMAGES_MAGIC.to_bytes(4, "big")


def test_wild_list_files_are_deepfashion_format(wild: Path) -> None:
    names_per_list = []
    for rel, header in zip(LISTS, HEADERS, strict=True):
        count, head, rows = _rows(wild, rel)
        assert head == header and count == len(rows) == N_WILD
        for row in rows:
            assert row[70] == " " and row[71] != " ", (
                f"{rel}: value must start at column 72: {row!r}"
            )
        names_per_list.append([row[:71].rstrip() for row in rows])
    assert names_per_list[0] == names_per_list[1] == names_per_list[2]
    cloth = [line.split()[0] for line in _rows(wild, "Anno/list_category_cloth.txt")[2]]
    labels = [int(row[71:]) for row in _rows(wild, LISTS[0])[2]]
    assert all(1 <= lab <= 50 and cloth[lab - 1] in synth.WILD_CATEGORIES for lab in labels)
    for name, lab in zip(names_per_list[0], labels, strict=True):
        assert re.fullmatch(
            r"img/[A-Za-z_-]+_" + re.escape(cloth[lab - 1]) + r"/img_\d{8}\.jpg", name
        )


def test_wild_images_boxes_and_splits(wild: Path) -> None:
    names = [row[:71].rstrip() for row in _rows(wild, LISTS[0])[2]]
    boxes = [tuple(int(v) for v in row[71:].split()) for row in _rows(wild, LISTS[1])[2]]
    assert all(
        re.fullmatch(r"\d{3} \d{3} \d{3} \d{3}", row[71:]) for row in _rows(wild, LISTS[1])[2]
    )
    for name, (x1, y1, x2, y2) in zip(names, boxes, strict=True):
        with Image.open(wild / "Img" / name) as img:
            assert img.format == "JPEG" and img.mode == "RGB"
            assert max(img.size) == 300 and 200 <= min(img.size) <= 300
            assert 0 <= x1 < x2 < img.width and 0 <= y1 < y2 < img.height
    splits = [row[71:] for row in _rows(wild, LISTS[2])[2]]
    assert set(splits) == {"train", "val", "test"}
    item_splits = {(n.split("/")[1], s) for n, s in zip(names, splits, strict=True)}
    assert len(item_splits) == len({n.split("/")[1] for n in names}), "an item belongs to one split"
    assert Counter(splits)["train"] > N_WILD / 2


def test_cloth_list_matches_the_official_file(wild: Path) -> None:
    # FASHION_TRANSFER_SHARED names the shared data folder (../shared/data), as in tests/conftest.py
    shared = Path(
        os.environ.get("FASHION_TRANSFER_SHARED", Path(__file__).parents[3] / "shared" / "data")
    )
    official = shared / "DeepFashion" / "Anno" / "list_category_cloth.txt"
    if not official.is_file():
        pytest.skip(f"official list not available at {official} (set FASHION_TRANSFER_SHARED)")
    assert (wild / "Anno" / "list_category_cloth.txt").read_bytes() == official.read_bytes()


def test_categories_cover_the_shared_space() -> None:
    cloth = [name for name, _ in synth.CLOTH_CATEGORIES]
    assert len(cloth) == 50 and set(synth.WILD_CATEGORIES) <= set(cloth)
    assert {c for c in synth.WILD_TO_FMNIST.values() if c} == SIX <= set(FMNIST_CLASSES)
    assert (
        sum(c is None for c in synth.WILD_TO_FMNIST.values()) >= 3
        and len(synth.WILD_CATEGORIES) >= 12
    )
    _, categories = synth._plan_items(100, np.random.default_rng(0))
    assert set(categories) == set(synth.WILD_CATEGORIES)


def test_same_seed_same_bytes(tmp_path: Path, wild: Path, studio: Path) -> None:
    synth.generate_wild(tmp_path / "wild", N_WILD, seed=0)
    synth.generate_studio(tmp_path / "studio", N_TRAIN, N_TEST, seed=0)
    assert _hashes(tmp_path / "wild") == _hashes(wild)
    assert _hashes(tmp_path / "studio") == _hashes(studio)
    synth.generate_wild(tmp_path / "other", N_WILD, seed=1)
    assert _hashes(tmp_path / "other") != _hashes(wild)


def test_rerun_is_a_no_op_and_mismatch_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--out", str(tmp_path), "--studio-train", "20", "--studio-test", "10", "--wild", "8"]
    assert cli.main(args) == 0
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    capsys.readouterr()
    assert cli.main(args) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before
    assert cli.main([*args[:-1], "9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and str(tmp_path / "wild") in err
    assert "n_images=8 (wanted 9)" in err and "--out" in err


@pytest.mark.parametrize("damage", ["partial", "changed"])
def test_partial_or_changed_output_is_refused(tmp_path: Path, damage: str) -> None:
    root = tmp_path / "wild"
    synth.generate_wild(root, 6, seed=0)
    if damage == "partial":
        (root / synth.MANIFEST).unlink()
    else:
        (root / "Anno" / "list_bbox.txt").write_text("tampered\n")
    with pytest.raises(UserError, match=re.escape(str(root))):
        synth.generate_wild(root, 6, seed=0)
    assert (root / "Img" / "img").is_dir(), "refusing must never delete data"


def test_real_loaders_read_synth_without_special_cases(wild: Path, studio: Path) -> None:
    from fashion_transfer.data.deepfashion import load_deepfashion
    from fashion_transfer.data.fashion_mnist import load_fashion_mnist

    domain = load_deepfashion(wild, resolution=28, view="fmnist", workers=1, synthetic=True)
    report = domain.report
    assert report["clipped_boxes"] == report["ignored_boxes"] == 0 and report["bad_images"] == []
    splits = Counter(row[71:] for row in _rows(wild, LISTS[2])[2])
    assert report["splits"] == {s: splits[s] for s in ("train", "val", "test")}
    source = load_fashion_mnist(studio / "FashionMNIST", val_size=20, synthetic=True)
    assert len(source.train) + len(source.val) == N_TRAIN and len(source.test) == N_TEST
