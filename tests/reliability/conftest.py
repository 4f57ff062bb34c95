"""Shared pieces of the reliability tests: the real entrypoint as a subprocess, and how two runs'
metrics.json are compared (every number and the history; not timings, the folder's name, or the
commit, which other work in the checkout may move while a test runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

NOT_RESULTS = ("wall_time_s", "seconds", "run_dir", "git_commit")


def comparable(metrics: dict) -> dict:
    """metrics.json without timings (`*seconds`, wall_time_s), run_dir and git_commit."""

    def strip(obj):
        if isinstance(obj, dict):
            return {
                k: strip(v)
                for k, v in obj.items()
                if k not in NOT_RESULTS and not k.endswith("_seconds")
            }
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    return strip(metrics)


def read_metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def same_samples(a: Path, b: Path) -> bool:
    """samples.npz of two runs hold the same arrays."""
    with np.load(a / "samples.npz") as x, np.load(b / "samples.npz") as y:
        return set(x.files) == set(y.files) and all(np.array_equal(x[k], y[k]) for k in x.files)


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """One thread (identical floating point in every process), no W&B unless a test asks."""
    return {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "WANDB_MODE": "disabled",
        "WANDB_SILENT": "true",
        "WANDB_DIR": str(tmp_path),
        **extra,
    }


def train_cmd(*overrides: str) -> list[str]:
    return [sys.executable, "-m", "fashion_transfer.train", *overrides]


def wait_for(predicate: Callable[[], bool], proc: subprocess.Popen, timeout: float) -> None:
    """Poll until `predicate()` holds; fail if the process ends or time runs out first."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"process ended (rc {proc.returncode}) before the awaited point:\n{out}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"awaited point not reached within {timeout} s")
        time.sleep(0.05)


def history_len(run_dir: Path) -> int:
    try:
        return len(read_metrics(run_dir)["history"])
    except (OSError, ValueError, KeyError):
        return 0


@pytest.fixture(scope="session")
def helpers():
    """The module-level helpers above, for tests (conftest modules are not importable)."""

    class H:
        pass

    for fn in (comparable, read_metrics, same_samples, cli_env, train_cmd, wait_for, history_len):
        setattr(H, fn.__name__, staticmethod(fn))
    return H
