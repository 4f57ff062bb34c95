"""Seeding, device choice, thread count, mixed precision and provenance: the small runtime helpers."""

from __future__ import annotations

import os
import random
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from fashion_transfer.errors import ConfigError


def seed_everything(seed: int) -> None:
    """Seed every RNG the suite touches; same seed, same numbers on CPU."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)


def pick_device(name: str = "auto", option: str = "device") -> torch.device:
    """`auto` takes CUDA when present, else the CPU; a device that is not here is a ConfigError.

    `option` is the setting as the user typed it (`device` in the config, `--device` on the
    bench's command line), so the message names it.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    typed = f"{option} {name}" if option.startswith("--") else f"{option}={name}"
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"{typed}: not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"{typed}: no CUDA device here; use auto or cpu")
        if device.index is not None and device.index >= count:
            raise ConfigError(
                f"{typed}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}"
            )
    return device


def amp_dtype(amp: bool | str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for `train.amp`: `auto` is bf16 on CUDA and off on the CPU; true/false
    force it on or off. Training and the bench both ask here, so they time the same precision."""
    on = device.type == "cuda" if amp == "auto" else bool(amp)
    return torch.bfloat16 if on else None


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with `count` torch intra-op threads (None: as they are), then restore them."""
    before = torch.get_num_threads()
    if count:
        torch.set_num_threads(int(count))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def git_commit(path: Path | None = None) -> str | None:
    """The commit of the code that ran (with `+dirty` when the tree has changes), or None."""
    cwd = path or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "")


def build(node, **kwargs):
    """`hydra.utils.instantiate`, but a UserError raised inside comes out as itself.

    Hydra wraps every exception of a `_target_` in a multi-line InstantiationException; a user's
    mistake (missing data, a bad option) must stay the one-line error it was written as.
    """
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    from fashion_transfer.errors import UserError

    try:
        return instantiate(node, **kwargs)
    except InstantiationException as exc:
        if isinstance(exc.__cause__, UserError):
            raise exc.__cause__ from None
        raise
