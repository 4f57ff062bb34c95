"""Atomic file writes: a temp file beside the target, renamed over it once complete.

Readers (and a kill mid-write) see the old file or the new one, never a torn one. Temp files are
named `.<name>.<pid>.tmp`, which `remove_partial_files` recognises and clears on resume.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_GLOB = ".*.tmp"


def temp_path(path: Path) -> Path:
    """The temp name a write of `path` goes through (one scheme for every writer)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temp path to write; rename it over `path` on success, remove it on error.

    Writers that append their own suffix (numpy's `savez` adds `.npz` to a name) should open the
    yielded path themselves and write to the file object.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: Path, data: bytes) -> None:
    with replacing(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    with replacing(path) as tmp:
        tmp.write_text(text, encoding=encoding, newline="\n")


def remove_partial_files(folder: Path) -> None:
    """Temp files of writes a kill interrupted (the files they were to replace are intact)."""
    for tmp in Path(folder).glob(TEMP_GLOB):
        tmp.unlink(missing_ok=True)
