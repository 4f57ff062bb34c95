"""Fashion-MNIST loader: the real files when present, and every bad-input case with its message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fashion_transfer.data.fashion_mnist import FMNIST_CLASSES, load_fashion_mnist
from fashion_transfer.errors import DataError

REPO = Path(__file__).resolve().parents[2]


def _shared() -> Path | None:
    path = Path(os.environ.get("FASHION_TRANSFER_SHARED", REPO.parent / "shared" / "data"))
    return path if (path / "FashionMNIST" / "raw").is_dir() else None


@pytest.mark.skipif(_shared() is None, reason="real Fashion-MNIST not found at ../shared/data")
def test_real_fashion_mnist_splits():
    d = load_fashion_mnist(_shared() / "FashionMNIST")
    assert (len(d.train), len(d.val), len(d.test)) == (55_000, 5_000, 10_000)
    assert d.train.images.dtype == torch.uint8 and d.train.images.shape[1:] == (1, 28, 28)
    assert torch.bincount(d.test.labels).tolist() == [1000] * 10
    mean = torch.cat([d.train.images, d.val.images]).float().mean().item() / 255
    assert mean == pytest.approx(0.2860, abs=1e-4)  # the published train pixel mean
    again = load_fashion_mnist(_shared() / "FashionMNIST")
    assert torch.equal(d.val.labels, again.val.labels)  # the validation split is fixed


def test_tiny_split_and_fraction(tiny_data):
    d = load_fashion_mnist(tiny_data / "FashionMNIST", val_size=100, train_fraction=0.5)
    assert (len(d.val), len(d.test)) == (100, 100) and d.classes == FMNIST_CLASSES
    assert len(d.train) == pytest.approx(150, abs=10)
    assert set(torch.bincount(d.train.labels, minlength=10).tolist()) <= set(range(13, 18))


def test_missing_folder_names_path_and_fix(tmp_path):
    with pytest.raises(DataError, match=r"FashionMNIST/raw not found: set paths.data_dir="):
        load_fashion_mnist(tmp_path / "nowhere" / "FashionMNIST")


def test_missing_file_is_named(tiny_data):
    (tiny_data / "FashionMNIST/raw/t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match=r"missing idx file .*t10k-labels-idx1-ubyte"):
        load_fashion_mnist(tiny_data / "FashionMNIST")


def test_wrong_magic_number_is_named(tiny_data):
    raw = tiny_data / "FashionMNIST/raw"
    (raw / "train-images-idx3-ubyte").write_bytes((raw / "train-labels-idx1-ubyte").read_bytes())
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: wrong idx magic number 2049"):
        load_fashion_mnist(tiny_data / "FashionMNIST")


def test_truncated_file_is_named(tiny_data):
    path = tiny_data / "FashionMNIST/raw/train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match=r"truncated"):
        load_fashion_mnist(tiny_data / "FashionMNIST")


@pytest.mark.parametrize("case", ["missing_dir", "bad_magic"])
def test_cli_exits_with_one_line(case, tiny_data, tmp_path):
    data = tmp_path / "empty" if case == "missing_dir" else tiny_data
    if case == "bad_magic":
        raw = tiny_data / "FashionMNIST/raw"
        (raw / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x01" + b"\x00" * 20)
    else:
        data.mkdir()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fashion_transfer.train",
            "strategy=fmnist_baseline",
            "logger=none",
            "eval.zero_shot=false",  # no target data here: the Fashion-MNIST-only baseline
            f"paths.data_dir={data}",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert str(data) in lines[0]
    assert ("paths.data_dir" in lines[0]) if case == "missing_dir" else ("magic" in lines[0])
