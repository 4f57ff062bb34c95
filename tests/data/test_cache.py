"""The preprocessed cache: same pixels as on the fly, stale caches rebuilt, concurrent builders safe."""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from fashion_transfer.conf import CONF_DIR
from fashion_transfer.data import cache as cache_mod
from fashion_transfer.data.deepfashion import load_deepfashion
from fashion_transfer.data.deepfashion_lists import validate_layout
from fashion_transfer.data.transforms import make_spec

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")
MAP_FILE = CONF_DIR / "label_map" / "deepfashion_to_fmnist.yaml"


def load(root: Path, cache_dir: Path | None, **kwargs):
    kwargs.setdefault("resolution", 24)
    return load_deepfashion(
        root, cache=cache_dir is not None, cache_dir=cache_dir, workers=1, **kwargs
    )


def everything(domain, split: str) -> torch.Tensor:
    s = getattr(domain, split)
    return s.images[torch.arange(len(s))]


def assert_same(a, b) -> None:
    for split in ("train", "val", "test"):
        assert torch.equal(everything(a, split), everything(b, split))
        assert torch.equal(getattr(a, split).labels, getattr(b, split).labels)
    assert a.classes == b.classes


@pytest.mark.parametrize(
    "options",
    [{}, {"view": "fmnist", "resolution": 28}, {"train_fraction": 0.5, "label_space": "shared"}],
)
def test_cached_images_equal_on_the_fly(df_root: Path, tmp_path: Path, options: dict) -> None:
    if options.get("label_space") == "shared":
        options = {**options, "label_map": OmegaConf.load(MAP_FILE)}
    fresh = load(df_root, None, **options)
    built = load(df_root, tmp_path / "cache", **options)
    reread = load(df_root, tmp_path / "cache", **options)
    assert built.report["cache"]["hit"] is False and reread.report["cache"]["hit"] is True
    assert_same(fresh, built)
    assert_same(fresh, reread)
    assert isinstance(reread.train.images.array, np.memmap)  # read from disk, not decoded again


def test_cache_keeps_bad_image_report(df_root: Path, written: dict, tmp_path: Path) -> None:
    (df_root / "Img" / written["names"][0]).write_bytes(b"\xff\xd8garbage")
    fresh = load(df_root, None, max_bad_fraction=0.5)
    load(df_root, tmp_path / "c", max_bad_fraction=0.5)
    reread = load(df_root, tmp_path / "c", max_bad_fraction=0.5)
    assert (
        reread.report["bad_images"] == fresh.report["bad_images"] == [f"Img/{written['names'][0]}"]
    )
    assert_same(fresh, reread)


def test_settings_and_list_files_change_the_key(df_root: Path, tmp_path: Path, edit_lines) -> None:
    lists = validate_layout(df_root)
    base = cache_mod.cache_key(lists.digest, make_spec(24, "rgb", 0.1, True, "auto"))
    assert base == cache_mod.cache_key(
        lists.digest, make_spec(24, "rgb", 0.1, True, False)
    )  # rgb ignores it
    assert base != cache_mod.cache_key(lists.digest, make_spec(24, "rgb", 0.2, True, "auto"))
    assert base != cache_mod.cache_key(lists.digest, make_spec(32, "rgb", 0.1, True, "auto"))
    assert base != cache_mod.cache_key(
        lists.digest, make_spec(24, "rgb", 0.1, True, "auto", dct_scaling=False)
    )
    edit_lines(
        df_root / "Anno/list_bbox.txt", lambda ls: [*ls[:2], ls[2].replace(" 0", " 1", 1), *ls[3:]]
    )
    assert validate_layout(df_root).digest != lists.digest


def _break_marker(folder: Path) -> None:
    (folder / cache_mod.MARKER).unlink()


def _truncate_array(folder: Path) -> None:
    path = folder / "train.npy"
    path.write_bytes(path.read_bytes()[:-100])


def _wrong_version(folder: Path) -> None:
    index = json.loads((folder / "index.json").read_text())
    index["version"] = cache_mod.FORMAT_VERSION - 1
    (folder / "index.json").write_text(json.dumps(index))


def _wrong_shape(folder: Path) -> None:
    np.save(folder / "val.npy", np.zeros((6, 3, 8, 8), np.uint8))


@pytest.mark.parametrize("damage", [_break_marker, _truncate_array, _wrong_version, _wrong_shape])
def test_stale_or_partial_cache_is_rebuilt_not_read(
    df_root: Path, tmp_path: Path, damage, caplog: pytest.LogCaptureFixture
) -> None:
    fresh = load(df_root, None)
    built = load(df_root, tmp_path / "c")
    folder = tmp_path / "c" / built.report["cache"]["key"]
    damage(folder)
    with caplog.at_level(logging.WARNING, logger="fashion_transfer.data.cache"):
        rebuilt = load(df_root, tmp_path / "c")
    assert rebuilt.report["cache"]["hit"] is False
    assert any("rebuilding stale cache" in r.getMessage() for r in caplog.records)
    assert_same(fresh, rebuilt)
    assert load(df_root, tmp_path / "c").report["cache"]["hit"] is True
    assert [p.name for p in (tmp_path / "c").iterdir() if p.is_dir()] == [folder.name]


def test_publish_keeps_a_valid_cache_that_won_the_race(df_root: Path, tmp_path: Path) -> None:
    """Without a working lock the loser of the rename discards its copy and uses the winner's."""
    lists = validate_layout(df_root)
    spec = make_spec(24, "rgb", 0.1, True, "auto")
    key = cache_mod.cache_key(lists.digest, spec)
    cache_mod.load_or_build(lists, spec, tmp_path / "c", workers=1)
    loser = tmp_path / "c" / f".{key}.building-x"
    shutil.copytree(tmp_path / "c" / key, loser)
    cache_mod._publish(loser, tmp_path / "c" / key, key, lists, spec)
    assert (tmp_path / "c" / key / cache_mod.MARKER).is_file()
    _, _, hit = cache_mod.load_or_build(lists, spec, tmp_path / "c", workers=1)
    assert hit is True


def _build_in_child(root: str, cache_dir: str, barrier, results) -> None:
    barrier.wait()  # both start building at the same moment
    domain = load_deepfashion(root, resolution=24, cache=True, cache_dir=cache_dir, workers=1)
    results.put((domain.report["cache"]["hit"], everything(domain, "train").numpy().tobytes()))


@contextlib.contextmanager
def _no_lock(path: Path):
    yield False  # as on a file system without flock: only the atomic rename protects


@pytest.mark.parametrize("locking", [True, False])
def test_two_processes_building_at_once_both_succeed(
    df_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, locking: bool
) -> None:
    """Real processes (forked: torch is already imported, so they start in milliseconds)."""
    if not locking:
        monkeypatch.setattr(cache_mod, "_lock", _no_lock)
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    args = (str(df_root), str(tmp_path / "c"), barrier, results)
    procs = [ctx.Process(target=_build_in_child, args=args) for _ in range(2)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    fresh = everything(load(df_root, None), "train").numpy().tobytes()
    assert all(pixels == fresh for _, pixels in outcomes)
    if locking:
        assert sorted(hit for hit, _ in outcomes) == [False, True]  # one built, one waited and read
    folders = [p.name for p in (tmp_path / "c").iterdir() if p.is_dir()]
    assert len(folders) == 1 and not folders[0].startswith(".")  # no leftover temporary folders
    assert load(df_root, tmp_path / "c").report["cache"]["hit"] is True
