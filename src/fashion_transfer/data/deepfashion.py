"""DeepFashion (and FashionSynth wild, same layout) as a Domain of preprocessed uint8 images.

The layout is validated and the lists parsed first (cheap, `validate_layout`); then the selected
images are decoded, cropped to their box, padded and resized once, in a thread pool, into one
uint8 array per split (or read from the memory-mapped cache). Problems in the data are reported,
never papered over: clipped and ignored boxes and undecodable images are counted, logged once and
put in `Domain.report`; a split with more than `max_bad_fraction` bad images is an error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from fashion_transfer.data import cache as cache_mod
from fashion_transfer.data import fmnist_view
from fashion_transfer.data.base import ArrayImages, Domain, Split, stratified_subset
from fashion_transfer.data.deepfashion_lists import (
    SPLITS,
    DeepFashionLists,
    check_paths,
    validate_layout,
)
from fashion_transfer.data.fashion_mnist import FMNIST_CLASSES
from fashion_transfer.data.label_map import LabelMap
from fashion_transfer.data.transforms import (
    ImageFacts,
    PreprocessSpec,
    count_facts,
    make_spec,
    preprocess_many,
)
from fashion_transfer.errors import ConfigError, DataError

log = logging.getLogger(__name__)
LABEL_SPACES = ("all", "shared")


class RowImages:
    """An ImageSource over chosen rows of a (memory-mapped) array: a subset without a copy."""

    def __init__(self, array: np.ndarray, rows: np.ndarray) -> None:
        self.array = array  # the whole underlying array, as ArrayImages.array
        self.rows = torch.from_numpy(np.asarray(rows, dtype=np.int64))
        self.source = ArrayImages(array)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: torch.Tensor) -> torch.Tensor:
        return self.source[self.rows[index]]


def check_layout(root: str | Path, synthetic: bool = False, **_: object) -> None:
    """Cheap check, before any training, that `root` has DeepFashion's layout (no file is read)."""
    check_paths(Path(root), synthetic)


def load_deepfashion(
    root: str | Path,
    resolution: int,
    view: str = "rgb",
    crop_margin: float = 0.1,
    pad_square: bool = True,
    invert_background: bool | str = "auto",
    dct_scaling: bool = True,
    fmnist_background: str = fmnist_view.DEFAULT_BACKGROUND,
    label_space: str = "all",
    train_fraction: float = 1.0,
    fraction_seed: int = 0,
    cache: bool = False,
    cache_dir: str | Path | None = None,
    max_bad_fraction: float = 0.01,
    label_map: Mapping | DictConfig | None = None,
    workers: int = 2,
    name: str = "deepfashion",
    synthetic: bool = False,
    augment: Mapping | None = None,
    load_splits: Sequence[str] = SPLITS,
) -> Domain:
    """The official train/val/test partition (options: conf/dataset/deepfashion.yaml). Only the
    splits in `load_splits` are read (the zero-shot score passes ("test",)); the others come back
    empty. A cache is still built whole, since other runs share it."""
    spec = make_spec(
        resolution, view, crop_margin, pad_square, invert_background, dct_scaling, fmnist_background
    )
    _check_options(label_space, train_fraction, max_bad_fraction, workers, cache, cache_dir)
    lists = validate_layout(root, synthetic)
    classes, label_of = _label_space(lists, label_space, label_map)
    selected = _select(lists, label_of, train_fraction, fraction_seed, load_splits)
    splits, facts, loading = _read_splits(
        lists, spec, selected, label_of, cache, cache_dir, workers
    )
    report = {
        "name": name,
        "synthetic": bool(synthetic),
        "root": str(lists.root),
        **_view_fields(spec),
        "label_space": label_space,
        "train_fraction": float(train_fraction),
        **_counts(lists, splits, classes, load_splits),
        **loading,
        **_quality(lists, selected, facts, name, max_bad_fraction),
    }
    if spec.view == "fmnist":  # how close the view is to Fashion-MNIST (fmnist_view.view_stats)
        report["view_stats"] = _view_stats(splits)
    _log_summary(report)
    if label_space == "shared":
        report["dropped_unmapped"] = int(sum((label_of[lists.splits[s]] < 0).sum() for s in SPLITS))
    return Domain(
        name=name,
        classes=classes,
        **splits,  # train, val, test
        channels=spec.channels,
        resolution=spec.resolution,
        report=report,
        augment=_plain(augment),
    )


def _read_splits(
    lists: DeepFashionLists,
    spec: PreprocessSpec,
    selected: dict[str, np.ndarray],
    label_of: np.ndarray,
    cache: bool,
    cache_dir: str | Path | None,
    workers: int,
) -> tuple[dict[str, Split], dict[str, ImageFacts], dict]:
    """Each split's good images and their labels, what decoding found, and the report's cache
    facts and seconds (read from the cache, built first where missing, or preprocessed on the fly)."""
    start = time.perf_counter()
    key, hit = None, None
    if cache:
        cached, key, hit = cache_mod.load_or_build(lists, spec, cache_dir, workers)
        parts = {s: _from_cache(lists, cached[s], s, selected[s]) for s in SPLITS}
    else:
        parts = {s: _preprocess(lists, spec, selected[s], workers) for s in SPLITS}
    seconds = time.perf_counter() - start
    splits, facts = {}, {}
    for s in SPLITS:
        images, facts[s] = parts[s]
        good = selected[s][facts[s].good]
        splits[s] = Split(images, torch.from_numpy(label_of[good]))
    cache_report = {
        "enabled": bool(cache),
        "key": key,
        "hit": hit,
        "dir": str(cache_dir) if cache else None,
    }
    return splits, facts, {"cache": cache_report, "preprocess_seconds": round(seconds, 3)}


def _view_fields(spec: PreprocessSpec) -> dict:
    return {
        "view": spec.view,
        "fmnist_background": spec.fmnist_background if spec.view == "fmnist" else None,
        "resolution": spec.resolution,
    }


def _plain(augment: Mapping | None) -> dict:
    """The augmentation settings as a plain dict (a config node comes resolved)."""
    if isinstance(augment, DictConfig):
        augment = OmegaConf.to_container(augment, resolve=True)
    return dict(augment or {})


def _counts(
    lists: DeepFashionLists,
    splits: dict[str, Split],
    classes: list[str],
    load_splits: Sequence[str],
) -> dict:
    """The report's sizes: images per split and per class, listed per category, empty ones."""
    listed = _listed_per_category(lists)
    return {
        "splits": {s: len(splits[s]) for s in SPLITS},
        "loaded_splits": [s for s in SPLITS if s in load_splits],
        "class_counts": {s: _class_counts(splits[s].labels, classes) for s in SPLITS},
        "listed_per_category": listed,
        "empty_categories": [c for c, n in listed.items() if n == 0],
    }


def _check_options(
    label_space: str,
    train_fraction: float,
    max_bad_fraction: float,
    workers: int,
    cache: bool,
    cache_dir,
) -> None:
    if label_space not in LABEL_SPACES:
        raise ConfigError(
            f"dataset.label_space={label_space!r}: choose one of {', '.join(LABEL_SPACES)}"
        )
    if not 0.0 < float(train_fraction) <= 1.0:
        raise ConfigError(f"dataset.train_fraction={train_fraction}: must be in (0, 1]")
    if not 0.0 <= float(max_bad_fraction) <= 1.0:
        raise ConfigError(f"dataset.max_bad_fraction={max_bad_fraction}: must be in [0, 1]")
    if int(workers) < 1:
        raise ConfigError(f"dataset.workers={workers}: must be at least 1")
    if cache and not cache_dir:
        raise ConfigError("dataset.cache=true needs dataset.cache_dir (e.g. ${paths.cache_dir})")


def _label_space(
    lists: DeepFashionLists, label_space: str, label_map: Mapping | DictConfig | None
) -> tuple[list[str], np.ndarray]:
    """Class names and each listed image's label in that space (-1: not used)."""
    if label_space == "all":
        return list(lists.categories), lists.labels
    if label_map is None:
        raise ConfigError(
            "dataset.label_space=shared needs dataset.label_map (compose label_map=deepfashion_to_fmnist)"
        )
    mapping = LabelMap.from_config(label_map, lists.categories, FMNIST_CLASSES)
    return mapping.shared_classes, mapping.target_to_shared.numpy()[lists.labels]


def _select(
    lists: DeepFashionLists,
    label_of: np.ndarray,
    train_fraction: float,
    seed: int,
    load_splits: Sequence[str],
) -> dict[str, np.ndarray]:
    """Positions to load per split: labelled in the space; train thinned by a stratified subset;
    none for a split outside `load_splits`.

    The subset is drawn over listed images (before decoding), so it is the same with and
    without the cache; undecodable images are dropped from it afterwards.
    """
    if not set(load_splits) <= set(SPLITS):
        raise ValueError(f"load_splits={list(load_splits)}: choose from {', '.join(SPLITS)}")
    selected = {s: lists.splits[s][label_of[lists.splits[s]] >= 0] for s in SPLITS}
    train = selected["train"]
    keep = stratified_subset(torch.from_numpy(label_of[train]), float(train_fraction), seed)
    selected["train"] = train[keep.numpy()]
    return {s: rows if s in load_splits else rows[:0] for s, rows in selected.items()}


def _preprocess(
    lists: DeepFashionLists, spec: PreprocessSpec, positions: np.ndarray, workers: int
) -> tuple[torch.Tensor, ImageFacts]:
    """Decode the chosen images into one in-memory uint8 array; keep the decodable rows."""
    out = np.zeros(
        (len(positions), spec.channels, spec.resolution, spec.resolution), dtype=np.uint8
    )
    paths = [lists.image_path(p) for p in positions]
    facts = preprocess_many(paths, lists.boxes[positions], spec, out, workers)
    images = out if facts.good.all() else out[facts.good]
    return torch.from_numpy(images), facts


def _from_cache(
    lists: DeepFashionLists, cached: cache_mod.CachedSplit, split: str, positions: np.ndarray
) -> tuple[ArrayImages | RowImages, ImageFacts]:
    """The chosen rows of a cached split (rows follow lists.splits[split]), as a view of the memmap."""
    rows = np.searchsorted(lists.splits[split], positions)
    f = cached.facts
    facts = ImageFacts(
        f.good[rows],
        f.box_status[rows],
        f.fallback[rows],
        f.half_size[rows],
        {i: f.errors[r] for i, r in enumerate(rows) if r in f.errors},
    )
    good_rows = rows[facts.good]
    if len(good_rows) == len(cached.images):
        return ArrayImages(cached.images), facts
    return RowImages(cached.images, good_rows), facts


def _view_stats(splits: dict[str, Split]) -> dict[str, float]:
    """The fmnist view's statistics on the test split (or the first loaded split)."""
    split = next((splits[s] for s in ("test", *SPLITS) if len(splits[s])), None)
    if split is None:
        return {}
    images = split.batch(torch.arange(len(split)))[0].numpy()
    return {k: round(v, 3) for k, v in fmnist_view.view_stats(images).items()}


def _class_counts(labels: torch.Tensor, classes: list[str]) -> dict[str, int]:
    counts = torch.bincount(labels, minlength=len(classes)).tolist()
    return dict(zip(classes, counts, strict=True))


def _listed_per_category(lists: DeepFashionLists) -> dict[str, int]:
    counts = np.bincount(lists.labels, minlength=len(lists.categories)).tolist()
    return dict(zip(lists.categories, counts, strict=True))


def _quality(
    lists: DeepFashionLists,
    selected: dict[str, np.ndarray],
    facts: dict[str, ImageFacts],
    name: str,
    max_bad_fraction: float,
) -> dict:
    """Count boxes and bad images over the loaded images, log each kind once, enforce the limit."""
    bad, bad_per_split = [], {}
    for s in SPLITS:
        rows = sorted(facts[s].errors)
        bad += [(lists.relpath(selected[s][r]), facts[s].errors[r]) for r in rows]
        bad_per_split[s] = len(rows)
    counts = count_facts(facts.values())
    counts["half_size_decodes"] = int(sum(f.half_size.sum() for f in facts.values()))
    _log_once(name, counts, bad)
    for s in SPLITS:
        n = len(selected[s])
        if n and bad_per_split[s] / n > max_bad_fraction:
            raise DataError(
                f"{name}: {bad_per_split[s]} of {n} images of split {s} are undecodable, more than "
                f"dataset.max_bad_fraction={max_bad_fraction}; list them with "
                f"`python -m fashion_transfer.data.check {lists.root}` and re-download, "
                "or raise dataset.max_bad_fraction"
            )
    return {
        **counts,
        "bad_images": [path for path, _ in bad],
        "bad_per_split": bad_per_split,
    }


def _log_summary(report: dict) -> None:
    cache = report["cache"]
    log.info(
        "%s: %s train/val/test images at %dx%d (%s view, %s labels) in %.1f s%s",
        report["name"],
        "/".join(str(n) for n in report["splits"].values()),
        report["resolution"],
        report["resolution"],
        report["view"],
        report["label_space"],
        report["preprocess_seconds"],
        f", cache {'hit' if cache['hit'] else 'built'} {cache['key']}" if cache["enabled"] else "",
    )


def _log_once(name: str, counts: dict[str, int], bad: list[tuple[str, str]]) -> None:
    """One message per kind of problem, with its count (never one per image)."""
    if counts["clipped_boxes"]:
        log.warning(
            "%s: %d bounding boxes extend past their image and were clipped to it",
            name,
            counts["clipped_boxes"],
        )
    if counts["ignored_boxes"]:
        log.warning(
            "%s: %d bounding boxes are empty, inverted or outside the image; whole image used",
            name,
            counts["ignored_boxes"],
        )
    if counts["pillow_fallback"]:
        log.info(
            "%s: %d images decoded by Pillow because libjpeg-turbo rejected them",
            name,
            counts["pillow_fallback"],
        )
    if counts["half_size_decodes"]:
        log.info(
            "%s: %d images decoded at half size (crop window >= 2x output; the data set's "
            "dct_scaling=false turns it off)",
            name,
            counts["half_size_decodes"],
        )
    if bad:
        lines = "\n  ".join(f"{path} ({why})" for path, why in bad)
        log.warning("%s: skipped %d undecodable images:\n  %s", name, len(bad), lines)
