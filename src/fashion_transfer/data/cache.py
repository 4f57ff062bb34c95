"""Preprocessed DeepFashion cache: one pass writes every split's uint8 images to memory-mapped .npy.

Layout: `cache_dir/<key>/{train,val,test}.npy`, `index.json` (names, labels, per-image facts,
bad images, build report) and a `COMPLETE` marker written last. The key hashes the four list files'
bytes, every preprocessing setting and FORMAT_VERSION, so a changed input gets a new folder.

Concurrency: builders take an exclusive lock per key (filelock) and build in a private temporary
folder that is renamed into place in one step, so readers (who take no lock) see either no cache or
a complete one, and a second builder waits and then reads the first one's result. Where locking
is not supported (some network file systems) the atomic rename alone still guarantees one valid
cache: the loser of the rename discards its copy. A cache without marker, with a wrong version or
key, or with arrays of the wrong shape or size is stale: it is moved aside and rebuilt, never read.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock
from numpy.lib.format import open_memmap

from fashion_transfer.data.deepfashion_lists import SPLITS, DeepFashionLists
from fashion_transfer.data.transforms import ImageFacts, PreprocessSpec, preprocess_many

log = logging.getLogger(__name__)

FORMAT_VERSION = 4  # bump whenever the file layout or the pixels produced change
MARKER = "COMPLETE"
INDEX = "index.json"


@dataclass
class CachedSplit:
    """A split's images (rows aligned with lists.splits[split]) and what decoding found."""

    images: np.ndarray  # uint8 (n, C, R, R); a read-only memmap when opened from disk
    facts: ImageFacts


def cache_key(lists_digest: str, spec: PreprocessSpec) -> str:
    payload = {"version": FORMAT_VERSION, "lists": lists_digest, **spec.key_fields()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def load_or_build(
    lists: DeepFashionLists, spec: PreprocessSpec, cache_dir: str | Path, workers: int
) -> tuple[dict[str, CachedSplit], str, bool]:
    """The cached splits, the key, and whether the cache already existed (hit)."""
    cache_dir = Path(cache_dir)
    key = cache_key(lists.digest, spec)
    final = cache_dir / key
    opened, _ = _open(final, key, lists, spec)
    if opened is not None:
        return opened, key, True
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _lock(cache_dir / f".{key}.lock") as locked:
        opened, reason = _open(final, key, lists, spec)
        if opened is not None:  # another process finished it while we waited for the lock
            return opened, key, True
        if final.exists():
            log.warning("rebuilding stale cache %s (%s)", final, reason)
            _discard(final)
        if locked:
            _remove_leftovers(cache_dir, key)
        log.info("building preprocessed cache %s", final)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.building-", dir=cache_dir))
        try:
            _build(tmp, key, lists, spec, workers)
            _publish(tmp, final, key, lists, spec)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    opened, reason = _open(final, key, lists, spec)
    if opened is None:
        raise RuntimeError(f"cache {final} invalid right after building it: {reason}")
    return opened, key, False


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[bool]:
    """Exclusive lock for builders of one key; yields False where the file system cannot lock."""
    lock = FileLock(path)
    try:
        lock.acquire()
    except (OSError, NotImplementedError) as exc:
        log.warning("cannot lock %s (%s); relying on atomic rename alone", path, exc)
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def _discard(folder: Path) -> None:
    """Move a stale folder aside in one step (its name is free at once), then delete it."""
    aside = folder.with_name(f".{folder.name}.stale-{uuid.uuid4().hex}")
    try:
        os.rename(folder, aside)
    except FileNotFoundError:
        return
    shutil.rmtree(aside, ignore_errors=True)


def _remove_leftovers(cache_dir: Path, key: str) -> None:
    """Temporary folders of builders that crashed; safe only while holding the key's lock."""
    for pattern in (f".{key}.building-*", f".{key}.stale-*"):
        for leftover in cache_dir.glob(pattern):
            shutil.rmtree(leftover, ignore_errors=True)


def _publish(
    tmp: Path, final: Path, key: str, lists: DeepFashionLists, spec: PreprocessSpec
) -> None:
    """Rename tmp into place; if another builder got there first with a valid cache, keep theirs."""
    try:
        os.rename(tmp, final)
        return
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
    opened, reason = _open(final, key, lists, spec)
    if opened is not None:
        log.info("another process published %s first; using it", final)
        return
    log.warning("replacing invalid cache %s (%s)", final, reason)
    _discard(final)
    os.rename(tmp, final)


def _build(
    tmp: Path, key: str, lists: DeepFashionLists, spec: PreprocessSpec, workers: int
) -> None:
    shape = (spec.channels, spec.resolution, spec.resolution)
    index: dict = {"version": FORMAT_VERSION, "key": key, "spec": spec.key_fields(), "splits": {}}
    for split in SPLITS:
        positions = lists.splits[split]
        images = open_memmap(
            tmp / f"{split}.npy", mode="w+", dtype=np.uint8, shape=(len(positions), *shape)
        )
        paths = [lists.image_path(p) for p in positions]
        facts = preprocess_many(paths, lists.boxes[positions], spec, images, workers)
        images.flush()
        del images
        index["splits"][split] = {
            "names": [lists.names[p] for p in positions],
            "labels": lists.labels[positions].tolist(),
            "good": facts.good.astype(int).tolist(),
            "box_status": facts.box_status.tolist(),
            "fallback": facts.fallback.astype(int).tolist(),
            "half_size": facts.half_size.astype(int).tolist(),
            "errors": {str(row): msg for row, msg in sorted(facts.errors.items())},
        }
    index["bad_images"] = [
        f"Img/{index['splits'][s]['names'][int(row)]}"
        for s in SPLITS
        for row in index["splits"][s]["errors"]
    ]
    (tmp / INDEX).write_text(json.dumps(index))
    (tmp / MARKER).write_text("complete\n")  # last: its presence means everything above is on disk


def _npy_size_ok(path: Path, n_bytes: int) -> bool:
    """The file holds exactly its header plus the array's bytes (a truncated copy does not)."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            np.lib.format.read_array_header_2_0(f)
        else:
            return False
        return os.fstat(f.fileno()).st_size == f.tell() + n_bytes


def _open(
    folder: Path, key: str, lists: DeepFashionLists, spec: PreprocessSpec
) -> tuple[dict[str, CachedSplit] | None, str]:
    """Open a complete, matching cache read-only; otherwise (None, why it cannot be used)."""
    if not folder.is_dir():
        return None, "missing"
    if not (folder / MARKER).is_file():
        return None, "no completion marker (partial build)"
    try:
        index = json.loads((folder / INDEX).read_text())
    except (OSError, ValueError) as exc:
        return None, f"unreadable {INDEX}: {exc}"
    if index.get("version") != FORMAT_VERSION or index.get("key") != key:
        return None, f"format version {index.get('version')} / key {index.get('key')} do not match"
    shape = (spec.channels, spec.resolution, spec.resolution)
    opened = {}
    for split in SPLITS:
        entry = index.get("splits", {}).get(split, {})
        n = len(lists.splits[split])
        names = [lists.names[p] for p in lists.splits[split]]
        if entry.get("names") != names or any(
            len(entry.get(k, ())) != n for k in ("good", "box_status", "fallback", "half_size")
        ):
            return None, f"index of split {split} does not match the list files"
        path = folder / f"{split}.npy"
        try:
            if not _npy_size_ok(path, n * int(np.prod(shape))):
                return None, f"{path.name} has the wrong size (truncated?)"
            images = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as exc:
            return None, f"unreadable {path.name}: {exc}"
        if images.shape != (n, *shape) or images.dtype != np.uint8:
            return (
                None,
                f"{path.name} has shape {images.shape} {images.dtype}, expected {(n, *shape)} uint8",
            )
        facts = ImageFacts(
            np.array(entry["good"], dtype=bool),
            np.array(entry["box_status"], dtype=np.int8),
            np.array(entry["fallback"], dtype=bool),
            np.array(entry["half_size"], dtype=bool),
            {int(row): msg for row, msg in entry.get("errors", {}).items()},
        )
        opened[split] = CachedSplit(images, facts)
    return opened, ""
