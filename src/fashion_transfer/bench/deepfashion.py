"""DeepFashion cases on FashionSynth wild data: decoding per core, preprocessing, cache, training.

The suite's path is the real loader (`load_deepfashion` through conf/dataset/synth_wild.yaml) and
the real epoch function; the reference is the loop tutorials write: a `Dataset` that opens each
JPEG with Pillow, crops to the box and resizes with torchvision transforms, and a `DataLoader`.
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms
from torchvision.io import ImageReadMode, decode_jpeg, read_file

from fashion_transfer.bench.device_decode import device_decode_case
from fashion_transfer.bench.setup import loader_case, make_state, model_only_case, suite_case
from fashion_transfer.bench.timing import Case, measure, timed
from fashion_transfer.data.base import Domain
from fashion_transfer.data.deepfashion_lists import DeepFashionLists, validate_layout
from fashion_transfer.data.transforms import (
    PreprocessSpec,
    decode_rgb,
    decoded_window,
    finish,
    make_spec,
    transform,
)
from fashion_transfer.synth.generate import generate_wild
from fashion_transfer.utils import torch_threads


class PillowCrops(Dataset):
    """The tutorial reader: Pillow opens the JPEG, crops to the box; Resize and ToTensor follow."""

    def __init__(self, lists: DeepFashionLists, split: str, resolution: int) -> None:
        self.lists = lists
        self.positions = lists.splits[split]
        self.transform = transforms.Compose(
            [transforms.Resize((resolution, resolution)), transforms.ToTensor()]
        )

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        p = self.positions[i]
        with Image.open(self.lists.image_path(p)) as img:
            crop = img.convert("RGB").crop(tuple(int(v) for v in self.lists.boxes[p]))
        return self.transform(crop), int(self.lists.labels[p])


@dataclass
class Prepared:
    """The wild data set loaded both ways, and what loading cost."""

    lists: DeepFashionLists
    on_the_fly: Domain
    cached: Domain
    preprocess_s: list[float]  # seconds of each on-the-fly loading pass (all splits)
    cache_build_s: float
    cache_open_s: float

    @property
    def images(self) -> int:
        d = self.on_the_fly
        return len(d.train) + len(d.val) + len(d.test)


def synth_root(out: Path, n_images: int) -> Path:
    """FashionSynth wild with `n_images`, generated once under `out` and reused (deterministic)."""
    synth = out / f"synth-{n_images}"
    generate_wild(synth / "wild", n_images, seed=0)
    return synth


def prepare(cfg: DictConfig, passes: int) -> Prepared:
    """Load on the fly `passes` times (timed), then build the cache (timed) and open it (timed).

    `cfg.target.cache_dir` must be a fresh folder, so that the first cached load builds.
    """
    lists = validate_layout(cfg.target.root, synthetic=True)
    seconds, fly = [], None
    for _ in range(passes):
        fly, s = timed(lambda: instantiate(cfg.target, cache=False))
        seconds.append(s)
    built, build_s = timed(lambda: instantiate(cfg.target, cache=True))
    cached, open_s = timed(lambda: instantiate(cfg.target, cache=True))
    if built.report["cache"]["hit"] or not cached.report["cache"]["hit"]:
        raise RuntimeError(f"cache {cfg.target.cache_dir}: the bench needs a build, then a hit")
    return Prepared(lists, fly, cached, seconds, build_s, open_s)


def training_cases(
    cfg: DictConfig, data: Prepared, device: torch.device, steps: int, tag: str
) -> list[Case]:
    """resnet (the strategy's backbone) at the batch size of the target stage, five data paths."""
    res = int(cfg.target.resolution)
    batch = int(cfg.strategy.stages.target.batch_size)
    train = data.cached.train

    def state():
        return make_state(cfg, "target", data.cached, device)

    cases = [
        model_only_case(f"{tag}/model_only/b{batch}", state(), train, steps),
        suite_case(
            f"{tag}/suite_cache/b{batch}",
            state(),
            train,
            steps,
            "train_one_epoch on the memory-mapped cache (prefetch thread, augment)",
        ),
        suite_case(
            f"{tag}/suite_in_memory/b{batch}",
            state(),
            data.on_the_fly.train,
            steps,
            "train_one_epoch on the arrays the on-the-fly pass decoded (training part only)",
        ),
    ]
    cases.append(
        device_decode_case(
            f"{tag}/device_decode/b{batch}",
            state(),
            data.lists,
            res,
            float(cfg.target.crop_margin),
            steps,
        )
    )
    for workers in (0, 2):
        loader = DataLoader(
            PillowCrops(data.lists, "train", res),
            batch_size=batch,
            shuffle=True,
            num_workers=workers,
        )
        cases.append(
            loader_case(
                f"{tag}/reference/b{batch}_w{workers}",
                state(),
                loader,
                steps,
                f"Pillow open+crop, Resize+ToTensor, DataLoader(num_workers={workers})",
            )
        )
    return cases


def lite0_case(cfg: DictConfig, data: Prepared, device: torch.device, steps: int, tag: str) -> Case:
    """The model-only step of `cfg`'s backbone (EfficientNet-Lite0 here) at the target stage's batch.

    The bench times it with `backbone.prepad_depthwise` true and false: the ratio is what
    pre-padding the depthwise convolutions gains (`PrePaddedConv2d`).
    """
    state = make_state(cfg, "target", data.cached, device)
    return model_only_case(f"{tag}/b{state.batch_size}", state, data.cached.train, steps)


def target_spec(cfg: DictConfig) -> PreprocessSpec:
    t = cfg.target
    return make_spec(
        int(t.resolution),
        t.view,
        t.crop_margin,
        t.pad_square,
        t.invert_background,
        t.dct_scaling,
        t.fmnist_background,
    )


def _spread(values: list[float]) -> dict[str, float]:
    a = np.asarray(values)
    return {"mean": float(a.mean()), "p99": float(np.percentile(a, 99)), "max": float(a.max())}


def half_size_difference(cfg: DictConfig, lists: DeepFashionLists) -> dict:
    """What decoding at half size changes in the pixels, per image that gets it (gray levels).

    Two comparisons: a full-size decode of the same (widened) window isolates the decode; the
    `dct_scaling=false` output, whose window is up to a pixel narrower per side, is what a user
    switching it off gets.
    """
    spec = target_spec(cfg)
    exact = dataclasses.replace(spec, dct_scaling=False)
    same, unwidened = [], []
    for p in range(len(lists.names)):
        path, box = lists.image_path(p), lists.boxes[p].tolist()
        half = decode_rgb(path, box, spec)
        if half.scale == 1:
            continue
        full = decode_rgb(path)
        left, top, right, bottom = (
            v * half.scale for v in decoded_window(half, box, spec.crop_margin)
        )
        out = transform(half, box, spec).astype(np.int16)
        same.append(np.abs(out - finish(full.pixels[top:bottom, left:right], spec)).mean())
        unwidened.append(np.abs(out - transform(full, box, exact)).mean())
    result = {"images": len(lists.names), "half_size": len(same), "dct_scaling": spec.dct_scaling}
    if same:
        result["vs_full_size_same_window"] = _spread(same)
        result["vs_dct_scaling_false"] = _spread(unwidened)
    return result


def decode_per_core(cfg: DictConfig, lists: DeepFashionLists, n: int, repeats: int) -> list[Case]:
    """Images/second of one thread: the suite's decode+crop+resize(+pad) against Pillow's.

    The decoders alone are timed too: the suite can be no faster than its decoder, so the ratio of
    that to Pillow's whole read is the most any crop and resize could reach.
    """
    spec = target_spec(cfg)
    positions = lists.splits["train"][:n]
    paths = [lists.image_path(p) for p in positions]
    boxes = lists.boxes[positions].tolist()  # Python ints, as preprocess_many passes them
    reference = PillowCrops(lists, "train", spec.resolution)

    def suite() -> int:
        for path, box in zip(paths, boxes, strict=True):
            transform(decode_rgb(path, box, spec), box, spec)
        return len(paths)

    def suite_decode() -> int:
        for path, box in zip(paths, boxes, strict=True):
            decode_rgb(path, box, spec)
        return len(paths)

    def suite_decode_full() -> int:
        for path in paths:
            decode_rgb(path)
        return len(paths)

    def torchvision_decode() -> int:
        for path in paths:
            decode_jpeg(read_file(str(path)), mode=ImageReadMode.RGB)
        return len(paths)

    def pillow() -> int:
        for i in range(len(positions)):
            reference[i]
        return len(positions)

    def pillow_decode() -> int:
        for path in paths:
            with Image.open(path) as img:
                img.convert("RGB")
        return len(paths)

    cases = [
        ("suite_per_core", suite, "decode_rgb + transform, 1 thread"),
        ("pillow_per_core", pillow, "PillowCrops.__getitem__, 1 thread"),
        ("suite_decode_only_per_core", suite_decode, "decode_rgb alone, at the size the suite "
         "picks (target.dct_scaling)"),
        ("suite_decode_full_only_per_core", suite_decode_full, "decode_rgb alone, every image at "
         "full size"),
        ("pillow_decode_only_per_core", pillow_decode, "Pillow decode alone"),
        ("torchvision_decode_only_per_core", torchvision_decode, "torchvision.io.decode_jpeg "
         "alone (the decoder the suite used before)"),
    ]  # fmt: skip
    with torch_threads(1):
        return measure(
            [Case(f"decode/{name}", run, note=note) for name, run, note in cases],
            repeats,
            torch.device("cpu"),
        )


def loading_summary(data: Prepared) -> dict:
    """The one-shot costs: on-the-fly preprocessing (all splits, dataset.workers threads), cache."""
    n = data.images
    median_s = statistics.median(data.preprocess_s)
    return {
        "images": n,
        "preprocess_s": [round(s, 3) for s in data.preprocess_s],
        "preprocess_images_per_s": n / median_s,
        "cache_build_s": data.cache_build_s,
        "cache_build_images_per_s": n / data.cache_build_s,
        "cache_open_s": data.cache_open_s,
    }
