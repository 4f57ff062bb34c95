"""The DeepFashion loader on tiny official-layout roots: parsing, preprocessing, every bad input."""

from __future__ import annotations

import io
import logging
import shutil
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf
from PIL import Image

from fashion_transfer.data.deepfashion import load_deepfashion
from fashion_transfer.data.deepfashion_lists import SOURCE_URL, validate_layout
from fashion_transfer.errors import ConfigError, DataError

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")
CONF = Path(__file__).resolve().parents[2] / "conf"
LISTS = {
    "cloth": "Anno/list_category_cloth.txt",
    "img": "Anno/list_category_img.txt",
    "bbox": "Anno/list_bbox.txt",
    "part": "Eval/list_eval_partition.txt",
}


def load(root: Path, **kwargs) -> object:
    kwargs.setdefault("resolution", 32)
    kwargs.setdefault("workers", 1)
    return load_deepfashion(root, **kwargs)


def set_field(lines: list[str], lineno: int, field: int, value: str) -> list[str]:
    """Replace one whitespace-separated field of a 1-based line, keeping the name padding."""
    name, *rest = lines[lineno - 1].split()
    fields = [name, *rest]
    fields[field] = value
    lines[lineno - 1] = fields[0].ljust(71) + " ".join(fields[1:])
    return lines


def test_parser_reads_the_official_layout(df_root: Path, written: dict) -> None:
    lists = validate_layout(str(df_root))
    assert len(lists.categories) == 50 and lists.categories[0] == "Anorak"
    assert lists.names == written["names"]
    assert (lists.labels + 1).tolist() == written["labels"]
    assert [tuple(b) for b in lists.boxes.tolist()] == written["boxes"]
    assert {s: len(p) for s, p in lists.splits.items()} == {"train": 18, "val": 6, "test": 6}


def test_rgb_domain(df_root: Path) -> None:
    domain = load(df_root, name="synth_wild", synthetic=True)
    assert domain.name == "synth_wild" and domain.report["synthetic"] is True
    assert len(domain.classes) == 50 and domain.channels == 3 and domain.resolution == 32
    assert domain.train.images.shape == (18, 3, 32, 32) and domain.train.images.dtype == torch.uint8
    assert domain.report["splits"] == {"train": 18, "val": 6, "test": 6}
    assert (
        "Anorak" in domain.report["empty_categories"]
        and "Tee" not in domain.report["empty_categories"]
    )
    assert len(domain.report["empty_categories"]) == 44
    assert domain.train.labels.dtype == torch.int64
    assert domain.classes[int(domain.train.labels[0])] == "Tee"


def test_fmnist_view_is_dark_background_gray_28(df_root: Path) -> None:
    domain = load(df_root, view="fmnist", resolution=28)
    x = domain.test.images
    assert x.shape == (6, 1, 28, 28) and x.dtype == torch.uint8 and domain.channels == 1
    x = x.float()
    border = torch.cat([x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]], dim=-1).mean()
    centre = x[..., 10:18, 10:18].mean()
    assert border < 60 and centre > border + 80  # garment bright on black, as in Fashion-MNIST
    assert x.max() > 150 and x.min() < 30


def test_fmnist_view_without_inversion_keeps_light_background(df_root: Path) -> None:
    x = load(df_root, view="fmnist", resolution=28, invert_background=False).test.images.float()
    assert x[..., 0, :].mean() > 150


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
    with pytest.raises(DataError, match="fashion_transfer.data.synth"):
        load(tmp_path / "wild", synthetic=True)


@pytest.mark.parametrize(
    ("key", "change", "line", "words"),
    [
        ("img", lambda ls: ["31", *ls[1:]], 1, "count line says 31"),
        ("bbox", lambda ls: ls[:-1], 1, "count line says 30 entries but 29"),
        ("cloth", lambda ls: ["49", *ls[1:]], 1, "says 49"),
        ("img", lambda ls: set_field(ls, 7, 1, "51"), 7, "outside 1..50"),
        ("img", lambda ls: set_field(ls, 4, 1, "0"), 4, "outside 1..50"),
        ("img", lambda ls: set_field(ls, 5, 1, "x"), 5, "not an integer"),
        ("bbox", lambda ls: [*ls[:9], ls[9] + " 12", *ls[10:]], 10, "expected 5 fields"),
        ("part", lambda ls: [*ls[:2], ls[2].split()[0], *ls[3:]], 3, "expected 2 fields"),
        ("part", lambda ls: set_field(ls, 12, 1, "validation"), 12, "evaluation_status"),
        ("bbox", lambda ls: [ls[0], "image_name x1 y1 x2 y2", *ls[2:]], 2, "expected header"),
        ("bbox", lambda ls: set_field(ls, 6, 0, "img/Other/img_00000001.jpg"), 6, "missing from"),
        ("img", lambda ls: [*ls[:3], ls[2], *ls[4:]], 4, "already listed at line 3"),
        ("cloth", lambda ls: set_field(ls, 5, 1, "4"), 5, "category_type"),
    ],
)
def test_malformed_lists_name_file_and_line(
    df_root: Path, edit_lines, key, change, line, words
) -> None:
    path = df_root / LISTS[key]
    edit_lines(path, change)
    with pytest.raises(DataError) as err:
        load(df_root)
    message = str(err.value)
    assert f"{path} line {line}:" in message and words in message and "\n" not in message


def test_image_missing_from_a_list_names_the_other_list(df_root: Path, edit_lines) -> None:
    """Drop one entry (and fix the count) from the partition: the image list's line is named."""
    edit_lines(df_root / LISTS["part"], lambda ls: ["29", *ls[1:7], *ls[8:]])
    with pytest.raises(DataError) as err:
        load(df_root)
    assert f"{df_root / LISTS['img']} line 8:" in str(err.value)
    assert str(df_root / LISTS["part"]) in str(err.value)


def test_clipped_and_ignored_boxes_are_counted_and_logged_once(
    df_root: Path, edit_lines, caplog: pytest.LogCaptureFixture
) -> None:
    def damage(ls: list[str]) -> list[str]:
        for lineno in (3, 4):  # two boxes past the right/bottom edge
            ls = set_field(ls, lineno, 3, "900")
        ls = set_field(ls, 5, 3, "010")  # inverted: x_2 < x_1
        return set_field(ls, 6, 4, ls[5].split()[2])  # empty: y_2 == y_1

    edit_lines(df_root / LISTS["bbox"], damage)
    with caplog.at_level(logging.WARNING, logger="fashion_transfer.data"):
        report = load(df_root).report
    assert report["clipped_boxes"] == 2 and report["ignored_boxes"] == 2
    messages = [r.getMessage() for r in caplog.records]
    assert (
        sum("clipped" in m for m in messages) == 1
        and sum("whole image" in m for m in messages) == 1
    )
    assert any("2 bounding boxes extend past" in m for m in messages)


def test_ignored_box_uses_the_whole_image(df_root: Path, edit_lines) -> None:
    before = load(df_root, crop_margin=0.0).train.images[0]
    edit_lines(df_root / LISTS["bbox"], lambda ls: set_field(ls, 3, 3, "000"))
    after = load(df_root, crop_margin=0.0).train.images[0]
    with Image.open(df_root / "Img" / validate_layout(df_root).names[0]) as img:
        w, h = img.size
    edit_lines(
        df_root / LISTS["bbox"], lambda ls: set_field(set_field(ls, 3, 1, "0"), 3, 3, str(w))
    )
    edit_lines(
        df_root / LISTS["bbox"], lambda ls: set_field(set_field(ls, 3, 2, "0"), 3, 4, str(h))
    )
    whole = load(df_root, crop_margin=0.0).train.images[0]
    assert not torch.equal(before, after) and torch.equal(after, whole)


def test_corrupt_jpeg_is_skipped_reported_and_logged(
    df_root: Path, written: dict, caplog: pytest.LogCaptureFixture
) -> None:
    name = written["names"][0]  # a train image
    path = df_root / "Img" / name
    path.write_bytes(path.read_bytes()[:600])
    with caplog.at_level(logging.WARNING, logger="fashion_transfer.data"):
        domain = load(df_root, max_bad_fraction=0.1)
    assert domain.report["bad_images"] == [f"Img/{name}"]
    assert domain.report["bad_per_split"]["train"] == 1 and len(domain.train) == 17
    assert any(f"Img/{name}" in r.getMessage() for r in caplog.records)


def test_too_many_bad_images_fail_naming_split_and_option(df_root: Path, written: dict) -> None:
    (df_root / "Img" / written["names"][0]).write_bytes(b"not a jpeg at all")
    with pytest.raises(DataError) as err:
        load(df_root)  # default 1%: one bad image of 18 is too many
    message = str(err.value)
    assert "1 of 18 images of split train" in message and "dataset.max_bad_fraction=0.01" in message


def test_pillow_fallback_decodes_what_libjpeg_rejects(df_root: Path, written: dict) -> None:
    path = df_root / "Img" / written["names"][-1]
    with Image.open(path) as img:
        buffer = io.BytesIO()
        img.save(buffer, "PNG")  # a PNG named .jpg: torchvision refuses, Pillow reads it
    path.write_bytes(buffer.getvalue())
    report = load(df_root).report
    assert report["pillow_fallback"] == 1 and report["bad_images"] == []


def test_train_fraction_is_stratified_and_seeded(df_root: Path) -> None:
    full = load(df_root)
    half = load(df_root, train_fraction=0.5, fraction_seed=3)
    again = load(df_root, train_fraction=0.5, fraction_seed=3)
    counts = torch.bincount(half.train.labels, minlength=50)
    assert (
        counts[torch.bincount(full.train.labels, minlength=50) > 0] == 2
    ).all()  # round(0.5 * 3)
    assert torch.equal(half.train.images, again.train.images)
    assert torch.equal(half.val.images, full.val.images) and torch.equal(
        half.test.labels, full.test.labels
    )


def test_shared_label_space_drops_unmapped(df_root: Path) -> None:
    label_map = OmegaConf.load(CONF / "label_map" / "deepfashion_to_fmnist.yaml")
    domain = load(df_root, label_space="shared", label_map=label_map)
    assert domain.classes == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Shirt"]
    assert domain.report["splits"] == {"train": 15, "val": 5, "test": 5}  # Skirt left out
    assert domain.report["dropped_unmapped"] == 5
    assert sorted(torch.unique(domain.train.labels).tolist()) == [0, 1, 3, 4, 5]
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
