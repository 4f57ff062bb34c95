"""The DeepFashion loader on FashionSynth roots: parsing, preprocessing, every bad input."""

from __future__ import annotations

import io
import json
import logging
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf
from PIL import Image

from fashion_transfer.conf import CONF_DIR
from fashion_transfer.data.deepfashion import load_deepfashion
from fashion_transfer.data.deepfashion_lists import SOURCE_URL, validate_layout
from fashion_transfer.data.transforms import Decoded, crop_window, make_spec, transform
from fashion_transfer.errors import ConfigError, DataError
from fashion_transfer.synth.generate import WILD_TO_FMNIST

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")
CONF = CONF_DIR
LISTS = {
    "cloth": "Anno/list_category_cloth.txt",
    "img": "Anno/list_category_img.txt",
    "bbox": "Anno/list_bbox.txt",
    "part": "Eval/list_eval_partition.txt",
}
N = 30  # images in the fixture root (conftest.N_IMAGES)


def load(root: Path, **kwargs):
    kwargs.setdefault("resolution", 32)
    kwargs.setdefault("workers", 1)
    return load_deepfashion(root, **kwargs)


def split_sizes(written: dict) -> dict[str, int]:
    return {s: written["splits"].count(s) for s in ("train", "val", "test")}


def image_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as img:
        return img.size


def first_of(written: dict, split: str) -> int:
    return written["splits"].index(split)


def test_parser_reads_the_official_layout(df_root: Path, written: dict) -> None:
    lists = validate_layout(str(df_root))
    assert len(lists.categories) == 50 and lists.categories[0] == "Anorak"
    assert lists.names == written["names"]
    assert (lists.labels + 1).tolist() == written["labels"]
    assert [tuple(b) for b in lists.boxes.tolist()] == written["boxes"]
    assert {s: len(p) for s, p in lists.splits.items()} == split_sizes(written)
    for i, name in enumerate(lists.names):  # FashionSynth names items after their category
        assert name.split("/")[1].endswith("_" + lists.categories[lists.labels[i]])
        with Image.open(lists.image_path(i)) as img:
            x1, y1, x2, y2 = lists.boxes[i]
            assert max(img.size) == 300 and 0 <= x1 < x2 <= img.width and 0 <= y1 < y2 <= img.height


def test_rgb_domain(df_root: Path, written: dict) -> None:
    domain = load(df_root, name="synth_wild", synthetic=True)
    assert domain.name == "synth_wild" and domain.report["synthetic"] is True
    assert len(domain.classes) == 50 and domain.channels == 3 and domain.resolution == 32
    n_train = split_sizes(written)["train"]
    assert domain.train.images.shape == (n_train, 3, 32, 32)
    assert domain.train.images.dtype == torch.uint8 and domain.train.labels.dtype == torch.int64
    assert domain.report["splits"] == split_sizes(written)
    used = {written["categories"][label - 1] for label in written["labels"]}
    assert set(domain.report["empty_categories"]) == set(written["categories"]) - used
    train_labels = [
        lab - 1 for lab, s in zip(written["labels"], written["splits"], strict=True) if s == "train"
    ]
    assert domain.train.labels.tolist() == train_labels
    assert json.loads(json.dumps(domain.report)) == domain.report  # goes verbatim into metrics.json


def test_fmnist_view_shape_range_and_dark_background(
    df_root: Path, written: dict, studio_photo
) -> None:
    """A light studio photo comes out as a bright garment on black, as in Fashion-MNIST."""
    row = first_of(written, "test")
    studio_photo(df_root / "Img" / written["names"][row], written["boxes"][row])
    domain = load(df_root, view="fmnist", resolution=28)
    x = domain.test.images
    assert x.shape == (split_sizes(written)["test"], 1, 28, 28) and x.dtype == torch.uint8
    assert domain.channels == 1 and domain.resolution == 28
    img = x[0, 0].float()
    border = torch.cat([img[0], img[-1], img[:, 0], img[:, -1]]).mean()
    assert border < 60 and img[10:18, 10:18].mean() > 150  # light background (225) became ~30
    plain = load(
        df_root, view="fmnist", resolution=28, invert_background=False, fmnist_background="keep"
    ).test.images
    assert plain[0, 0, 0].float().mean() > 150  # kept and not inverted: the light background stays


@pytest.mark.parametrize("background", ["keep", "flatten", "segment"])
def test_auto_inversion_rule(background: str) -> None:
    spec = make_spec(28, "fmnist", 0.0, True, "auto", fmnist_background=background)
    yy, xx = np.mgrid[:60, :40]
    disc = (yy - 30) ** 2 / 14**2 + (xx - 20) ** 2 / 12**2 <= 1
    light = np.full((60, 40, 3), 220, dtype=np.uint8)  # decoded layout: (H, W, C)
    light[disc] = 30
    dark = 255 - light
    for img in (light, dark):  # either way the background ends up dark, the garment bright
        out = transform(Decoded.of(img), (4, 4, 36, 56), spec)[0].astype(float)
        corners = out[[0, 0, -1, -1], [0, -1, 0, -1]]
        assert out.shape == (28, 28) and corners.max() < 40 and out[14, 14] > 150


def test_load_splits_decodes_only_those(
    df_root: Path, written: dict, monkeypatch, tmp_path: Path
) -> None:
    """The zero-shot score reads only test: train and val are neither decoded nor returned."""
    import fashion_transfer.data.deepfashion as dfmod

    decoded = []
    real = dfmod.preprocess_many
    monkeypatch.setattr(
        dfmod, "preprocess_many", lambda paths, *a: decoded.extend(paths) or real(paths, *a)
    )
    domain = load(df_root, load_splits=("test",))
    full = load(df_root)
    assert len(decoded) == split_sizes(written)["test"] + sum(split_sizes(written).values())
    assert len(domain.train) == len(domain.val) == 0
    assert torch.equal(domain.test.images, full.test.images)
    assert domain.report["loaded_splits"] == ["test"] and domain.report["splits"]["train"] == 0
    cached = load(df_root, load_splits=("test",), cache=True, cache_dir=tmp_path / "cache")
    assert len(cached.train) == len(cached.val) == 0
    assert torch.equal(cached.test.batch(torch.arange(len(cached.test)))[0], full.test.images)
    with pytest.raises(ValueError, match="load_splits"):
        load(df_root, load_splits=("tset",))


def test_fmnist_view_refuses_another_resolution(df_root: Path) -> None:
    with pytest.raises(ConfigError, match="dataset.resolution=28"):
        load(df_root, view="fmnist", resolution=64)


@pytest.mark.parametrize(
    ("option", "value", "key"),
    [
        ("view", "grey", "dataset.view"),
        ("label_space", "fmnist", "dataset.label_space"),
        ("train_fraction", 0.0, "dataset.train_fraction"),
        ("invert_background", "maybe", "dataset.invert_background"),
        ("fmnist_background", "blur", "dataset.fmnist_background"),
        ("crop_margin", -0.1, "dataset.crop_margin"),
        ("cache", True, "dataset.cache_dir"),
    ],
)
def test_bad_options_name_the_key(df_root: Path, option: str, value: object, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load(df_root, **{option: value})


@pytest.mark.parametrize("missing", ["", *LISTS.values(), "Img/img"])
def test_missing_paths_are_one_line_errors(df_root: Path, missing: str) -> None:
    target = df_root / missing
    if missing == "":
        target = df_root.parent / "absent"
    elif target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink()
    with pytest.raises(DataError) as err:
        load(target if missing == "" else df_root)
    message = str(err.value)
    assert "\n" not in message and str(target) in message and SOURCE_URL in message
    assert "Anno/list_category_img.txt, Anno/list_bbox.txt, Eval/list_eval_partition.txt" in message


def test_missing_synthetic_root_says_how_to_generate(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="python -m fashion_transfer.synth --out"):
        load(tmp_path / "wild", synthetic=True)


def _box(lines: list[str], lineno: int) -> list[int]:
    return [int(v) for v in lines[lineno - 1].split()[1:]]


@pytest.mark.parametrize(
    ("key", "change", "line", "words"),
    [
        ("img", lambda ls, f: [str(N + 1), *ls[1:]], 1, f"count line says {N + 1} entries but {N}"),
        ("bbox", lambda ls, f: ls[:-1], 1, f"count line says {N} entries but {N - 1}"),
        ("cloth", lambda ls, f: ["49", *ls[1:]], 1, "says 49"),
        ("img", lambda ls, f: f(ls, 7, 1, "51"), 7, "outside 1..50"),
        ("img", lambda ls, f: f(ls, 4, 1, "0"), 4, "outside 1..50"),
        ("img", lambda ls, f: f(ls, 5, 1, "x"), 5, "not an integer"),
        ("bbox", lambda ls, f: [*ls[:9], ls[9] + " 12", *ls[10:]], 10, "expected 5 fields"),
        ("bbox", lambda ls, f: f(ls, 11, 2, "1.5"), 11, "not an integer"),
        ("part", lambda ls, f: [*ls[:2], ls[2].split()[0], *ls[3:]], 3, "expected 2 fields"),
        ("part", lambda ls, f: f(ls, 12, 1, "validation"), 12, "evaluation_status"),
        ("bbox", lambda ls, f: [ls[0], "image_name x1 y1 x2 y2", *ls[2:]], 2, "expected header"),
        ("bbox", lambda ls, f: f(ls, 6, 0, "img/Other/img_00000001.jpg"), 6, "missing from"),
        ("img", lambda ls, f: [*ls[:3], ls[2], *ls[4:]], 4, "already listed at line 3"),
        ("cloth", lambda ls, f: f(ls, 5, 1, "4"), 5, "category_type"),
    ],
)
def test_malformed_lists_name_file_and_line(
    df_root: Path, edit_lines, set_fields, key, change, line, words
) -> None:
    path = df_root / LISTS[key]
    edit_lines(path, lambda ls: change(ls, set_fields))
    with pytest.raises(DataError) as err:
        load(df_root)
    message = str(err.value)
    assert f"{path} line {line}:" in message and words in message and "\n" not in message


def test_image_missing_from_a_list_names_the_other_list(df_root: Path, edit_lines) -> None:
    """Drop one entry (and fix the count) from the partition: the image list's line is named."""
    edit_lines(df_root / LISTS["part"], lambda ls: [str(N - 1), *ls[1:7], *ls[8:]])
    with pytest.raises(DataError) as err:
        load(df_root)
    assert f"{df_root / LISTS['img']} line 8:" in str(err.value)
    assert str(df_root / LISTS["part"]) in str(err.value)


def test_clipped_and_ignored_boxes_are_counted_and_logged_once(
    df_root: Path, edit_lines, set_fields, caplog: pytest.LogCaptureFixture
) -> None:
    def damage(ls: list[str]) -> list[str]:
        for lineno in (3, 4):  # two boxes past the right edge
            ls = set_fields(ls, lineno, 3, "900")
        ls = set_fields(ls, 5, 3, str(_box(ls, 5)[0]))  # empty: x_2 == x_1
        return set_fields(set_fields(ls, 6, 2, "050"), 6, 4, "010")  # inverted: y_2 < y_1

    edit_lines(df_root / LISTS["bbox"], damage)
    with caplog.at_level(logging.WARNING, logger="fashion_transfer.data"):
        report = load(df_root).report
    assert report["clipped_boxes"] == 2 and report["ignored_boxes"] == 2
    messages = [r.getMessage() for r in caplog.records]
    assert sum("clipped" in m for m in messages) == 1
    assert sum("whole image" in m for m in messages) == 1
    assert any("2 bounding boxes extend past" in m for m in messages)


def test_ignored_box_uses_the_whole_image(
    df_root: Path, written: dict, edit_lines, set_fields
) -> None:
    train = [i for i, s in enumerate(written["splits"]) if s == "train"]
    sizes = [image_size(df_root / "Img" / written["names"][i]) for i in train]
    areas = [
        (x2 - x1) * (y2 - y1) / (w * h)
        for (w, h), (x1, y1, x2, y2) in zip(
            sizes, (written["boxes"][i] for i in train), strict=True
        )
    ]
    row = min(range(len(train)), key=areas.__getitem__)  # the box furthest from the whole image
    line, (w, h) = train[row] + 3, sizes[row]
    bbox = df_root / LISTS["bbox"]
    before = load(df_root, crop_margin=0.0).train.images[row]
    edit_lines(bbox, lambda ls: set_fields(ls, line, 3, str(_box(ls, line)[0])))  # empty box
    after = load(df_root, crop_margin=0.0).train.images[row]
    for field, value in ((1, 0), (2, 0), (3, w), (4, h)):
        edit_lines(bbox, lambda ls, fi=field, v=value: set_fields(ls, line, fi, str(v)))
    whole = load(df_root, crop_margin=0.0).train.images[row]
    assert not torch.equal(before, after) and torch.equal(after, whole)


def test_corrupt_jpeg_is_skipped_reported_and_logged(
    df_root: Path, written: dict, caplog: pytest.LogCaptureFixture
) -> None:
    name = written["names"][first_of(written, "train")]
    path = df_root / "Img" / name
    path.write_bytes(path.read_bytes()[:600])  # truncated
    with caplog.at_level(logging.WARNING, logger="fashion_transfer.data"):
        domain = load(df_root, max_bad_fraction=0.1)
    n_train = split_sizes(written)["train"]
    assert domain.report["bad_images"] == [f"Img/{name}"]
    assert domain.report["bad_per_split"]["train"] == 1 and len(domain.train) == n_train - 1
    assert domain.report["splits"]["train"] == n_train - 1
    assert sum(f"Img/{name}" in r.getMessage() for r in caplog.records) == 1


def test_too_many_bad_images_fail_naming_split_and_option(df_root: Path, written: dict) -> None:
    (df_root / "Img" / written["names"][first_of(written, "train")]).write_bytes(b"not a jpeg")
    with pytest.raises(DataError) as err:
        load(df_root)  # default 1%: one bad image of ~20 is too many
    message = str(err.value)
    n_train = split_sizes(written)["train"]
    assert f"1 of {n_train} images of split train" in message
    assert "dataset.max_bad_fraction=0.01" in message and "fashion_transfer.data.check" in message


def test_pillow_fallback_decodes_what_libjpeg_rejects(df_root: Path, written: dict) -> None:
    path = df_root / "Img" / written["names"][-1]
    with Image.open(path) as img:
        buffer = io.BytesIO()
        img.save(buffer, "PNG")  # a PNG named .jpg: libjpeg-turbo refuses, Pillow reads it
    path.write_bytes(buffer.getvalue())
    report = load(df_root).report
    assert report["pillow_fallback"] == 1 and report["bad_images"] == []


def test_report_counts_half_size_decodes(df_root: Path, written: dict, tmp_path: Path) -> None:
    """At 32 px every window >= 64 px is decoded at half size, in a pass and in a cache alike."""
    expected = 0
    for name, box in zip(written["names"], written["boxes"], strict=True):
        width, height = image_size(df_root / "Img" / name)
        left, top, right, bottom = crop_window(box, width, height, 0.1)
        expected += max(right - left, bottom - top) >= 64
    assert expected > 0
    assert load(df_root).report["half_size_decodes"] == expected
    cached = load(df_root, cache=True, cache_dir=tmp_path / "c")
    assert cached.report["half_size_decodes"] == expected
    assert (
        load(df_root, cache=True, cache_dir=tmp_path / "c").report["half_size_decodes"] == expected
    )
    exact = load(df_root, dct_scaling=False)
    assert exact.report["half_size_decodes"] == 0
    assert not torch.equal(exact.train.images[:], load(df_root).train.images[:])


def test_train_fraction_is_stratified_and_seeded(df_root: Path) -> None:
    full = load(df_root)
    half = load(df_root, train_fraction=0.5, fraction_seed=3)
    again = load(df_root, train_fraction=0.5, fraction_seed=3)
    other = load(df_root, train_fraction=0.5, fraction_seed=4)
    per_class = Counter(full.train.labels.tolist())
    assert Counter(half.train.labels.tolist()) == {
        c: max(1, round(0.5 * n)) for c, n in per_class.items()
    }
    assert torch.equal(half.train.images, again.train.images)
    assert not torch.equal(half.train.images, other.train.images)
    assert torch.equal(half.val.images, full.val.images) and torch.equal(
        half.test.labels, full.test.labels
    )
    assert half.report["train_fraction"] == 0.5


def test_shared_label_space_drops_unmapped(df_root: Path, written: dict) -> None:
    label_map = OmegaConf.load(CONF / "label_map" / "deepfashion_to_fmnist.yaml")
    domain = load(df_root, label_space="shared", label_map=label_map)
    shared = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Shirt"]
    assert domain.classes == shared
    mapped = [WILD_TO_FMNIST[written["categories"][lab - 1]] for lab in written["labels"]]
    expected = {s: sum(m is not None for m, sp in zip(mapped, written["splits"], strict=True) if sp == s)
                for s in ("train", "val", "test")}  # fmt: skip
    assert domain.report["splits"] == expected
    assert domain.report["dropped_unmapped"] == sum(m is None for m in mapped) > 0
    train = [
        shared.index(m)
        for m, sp in zip(mapped, written["splits"], strict=True)
        if sp == "train" and m
    ]
    assert domain.train.labels.tolist() == train
    with pytest.raises(ConfigError, match="dataset.label_map"):
        load(df_root, label_space="shared")


@pytest.mark.parametrize("dataset", ["deepfashion", "synth_wild"])
def test_dataset_configs_instantiate(df_root: Path, tmp_path: Path, dataset: str) -> None:
    """The group files compose (synth_wild extends deepfashion) and instantiate, shared space."""
    wild = tmp_path / "synth" / "wild"
    wild.parent.mkdir()
    wild.symlink_to(df_root)
    overrides = [
        f"+dataset@target={dataset}",
        "+label_map=deepfashion_to_fmnist",
        "+paths=default",
        f"paths.data_dir={tmp_path}",
        f"paths.synth_dir={tmp_path / 'synth'}",
        f"paths.cache_dir={tmp_path / 'cache'}",
        "target.resolution=16",
        "target.workers=1",
        "target.label_space=shared",
    ]
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(config_name=None, overrides=overrides)
    domain = instantiate(cfg.target)
    assert domain.name == dataset and domain.report["synthetic"] is (dataset == "synth_wild")
    assert len(domain.classes) == 6 and domain.report["cache"]["enabled"] is True
    assert domain.augment["hflip"] is True
