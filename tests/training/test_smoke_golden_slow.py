"""A fixed-seed smoke sweep gives the same numbers as the code that wrote `smoke_golden.json`.

The golden file holds, per strategy, metrics.json with what changes from run to run taken out
(wall times, paths, the sweep's name, the git commit) and a digest of every array in samples.npz
and predictions.npz. Keys are compared in their written order and numbers exactly: at
`train.threads=1` two runs of the same code on one machine agree to the last bit. It was written
from the code before the run record became `fashion_transfer.record` (commit a27bb7d) on the
development machine's CPU; another CPU may pick other float kernels, so on a new machine
regenerate it from that commit first:

    python -m fashion_transfer.train -m experiment=smoke 'strategy=glob(*)' seed=0 \
        train.threads=1 paths.synth_dir=SYNTH hydra.sweep.dir=SWEEP
    python tests/training/test_smoke_golden_slow.py SWEEP > tests/training/smoke_golden.json

with SYNTH from `tiny_synth` (tests/conftest.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

GOLDEN = Path(__file__).with_name("smoke_golden.json")
#: Top-level fields that say where, when and how fast a run went, not what it computed.
VOLATILE = ("group", "run_dir", "git_commit", "wall_time_s")


def _drop_timing(node: Any) -> Any:
    """Seconds and folders anywhere below `history`, `stages` and `data` go."""
    if isinstance(node, dict):
        return {
            k: _drop_timing(v)
            for k, v in node.items()
            if k not in ("seconds", "preprocess_seconds", "root", "dir")
        }
    if isinstance(node, list):
        return [_drop_timing(v) for v in node]
    return node


def _digest(path: Path) -> dict[str, str]:
    """sha256 of each array's dtype, shape and bytes (npz zip timestamps would differ)."""
    if not path.is_file():
        return {}
    with np.load(path) as arrays:
        out = {}
        for name in sorted(arrays.files):
            a = np.ascontiguousarray(arrays[name])
            head = f"{a.dtype.str}{a.shape}".encode()
            out[name] = hashlib.sha256(head + a.tobytes()).hexdigest()
    return out


def normalise(sweep: Path) -> dict[str, Any]:
    """strategy -> what the run computed (see the module docstring)."""
    runs = {}
    for metrics in sorted(sweep.glob("*/metrics.json")):
        record = json.loads(metrics.read_text())
        kept = {k: v for k, v in record.items() if k not in VOLATILE}
        runs[record["strategy"]] = {
            "keys": list(record),
            "metrics": _drop_timing(kept),
            "samples.npz": _digest(metrics.with_name("samples.npz")),
            "predictions.npz": _digest(metrics.with_name("predictions.npz")),
        }
    return runs


@pytest.mark.slow
def test_smoke_sweep_numbers_match_the_golden_file(tiny_synth, tmp_path):
    sweep = tmp_path / "sweep"
    env = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    train = subprocess.run(
        [
            sys.executable,
            "-m",
            "fashion_transfer.train",
            "-m",
            "experiment=smoke",
            "strategy=glob(*)",
            "seed=0",
            "train.threads=1",
            f"paths.synth_dir={tiny_synth}",
            f"hydra.sweep.dir={sweep}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert train.returncode == 0, train.stderr[-4000:]
    golden = json.loads(GOLDEN.read_text())
    got = normalise(sweep)
    assert sorted(got) == sorted(golden)
    for strategy, expected in golden.items():
        assert got[strategy]["keys"] == expected["keys"], strategy
        assert got[strategy]["samples.npz"] == expected["samples.npz"], strategy
        assert got[strategy]["predictions.npz"] == expected["predictions.npz"], strategy
        # json.dumps keeps every nested key's order, so this compares order and values at once.
        assert json.dumps(got[strategy]["metrics"]) == json.dumps(expected["metrics"]), strategy


if __name__ == "__main__":
    runs = normalise(Path(sys.argv[1]))
    lines = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in runs.items()]  # a strategy a line
    print("{\n" + ",\n".join(lines) + "\n}")
