"""Shared fixtures: tiny idx data in tmp dirs, the real data when ../shared is beside the repo,
and the real Hydra config composed with shrinking overrides."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from fashion_transfer.conf import CONF_DIR
from fashion_transfer.data.idx import write_idx

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """The real data beside the checkout (../shared/data), or $FASHION_TRANSFER_SHARED."""
    path = Path(os.environ.get("FASHION_TRANSFER_SHARED", REPO.parent / "shared" / "data"))
    return path if (path / "FashionMNIST" / "raw").is_dir() else None


requires_real_fmnist = pytest.mark.skipif(
    shared_data_dir() is None,
    reason="real Fashion-MNIST not found at ../shared/data (set FASHION_TRANSFER_SHARED)",
)


def write_tiny_fmnist(root: Path, n_train: int = 400, n_test: int = 100, seed: int = 0) -> Path:
    """Learnable 28x28 idx files: each class is a bright bar at its own row band, plus noise."""
    rng = np.random.default_rng(seed)
    raw = root / "FashionMNIST" / "raw"
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        rng.shuffle(labels)
        images = rng.integers(0, 60, size=(n, 28, 28), dtype=np.uint8)
        for i, c in enumerate(labels):
            images[i, 2 + 2 * c : 4 + 2 * c, 4:24] = 230
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels.astype(np.uint8))
    return root


@pytest.fixture(autouse=True)
def _offline_wandb(monkeypatch, tmp_path):
    """No test talks to W&B's servers or writes outside its tmp dir."""
    monkeypatch.setenv("WANDB_MODE", os.environ.get("FT_TEST_WANDB_MODE", "disabled"))
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")


@pytest.fixture(scope="session")
def tiny_synth(tmp_path_factory) -> Path:
    """A tiny FashionSynth pair (studio idx + wild DeepFashion layout) for `experiment=smoke`."""
    from fashion_transfer.synth.generate import generate_studio, generate_wild

    root = tmp_path_factory.mktemp("synth")
    generate_studio(root / "studio", n_train=300, n_test=100, seed=0)
    generate_wild(root / "wild", n_images=80, seed=0)
    return root


@pytest.fixture
def tiny_data(tmp_path) -> Path:
    return write_tiny_fmnist(tmp_path / "data")


@pytest.fixture
def make_cfg(tmp_path):
    """Compose the real config with overrides, as Hydra would for `python -m fashion_transfer.train`."""

    def _make(*overrides: str, run_dir: Path | None = None) -> DictConfig:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose("config", overrides=list(overrides), return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
        with open_dict(cfg):
            cfg.paths.output_dir = str(run_dir or tmp_path / "run")
            del cfg["hydra"]
        return cfg

    yield _make
    GlobalHydra.instance().clear()
