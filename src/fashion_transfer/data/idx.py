"""Reader and writer for the idx format of MNIST / Fashion-MNIST (big-endian header, raw bytes)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from fashion_transfer import atomic
from fashion_transfer.errors import DataError

IMAGES_MAGIC = 2051  # 0x00000803: unsigned byte, 3 dims
LABELS_MAGIC = 2049  # 0x00000801: unsigned byte, 1 dim


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """Read an idx file; a wrong magic number or size is a DataError naming the file."""
    if not path.is_file():
        raise DataError(
            f"missing idx file {path}: set paths.data_dir=... to the folder holding "
            "FashionMNIST/raw, or dataset.download=true where a network is available"
        )
    raw = path.read_bytes()
    if len(raw) < 8:
        raise DataError(
            f"{path}: file too short to be an idx file ({len(raw)} bytes); re-download it"
        )
    magic = struct.unpack(">I", raw[:4])[0]
    if magic != expected_magic:
        raise DataError(
            f"{path}: wrong idx magic number {magic} (expected {expected_magic}); "
            "the file is corrupt or not an uncompressed idx file - re-download it (dataset.download=true)"
        )
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(raw) - offset != expected:
        raise DataError(
            f"{path}: holds {len(raw) - offset} data bytes but its header says {expected}; "
            "the file is truncated - re-download it (dataset.download=true)"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array (1-D labels or 3-D images) as idx, atomically."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    magic = {1: LABELS_MAGIC, 3: IMAGES_MAGIC}[array.ndim]
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    atomic.write_bytes(path, header + array.tobytes())
