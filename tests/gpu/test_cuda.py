"""What only a GPU can show: bf16 autocast, pinned prefetch, channels-last, and resume after a
SIGKILL on CUDA. Every test skips without CUDA; the GPU check (bench/gpu_check.py) runs them.

On CUDA, cuDNN may pick kernels whose float sums run in another order from one process to the
next, so a resumed run is held to CUDA_TOLERANCE rather than to identical numbers (on the CPU it
is identical: tests/reliability/test_processes_slow.py).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from fashion_transfer.data.base import Split
from fashion_transfer.train import train
from fashion_transfer.training.batches import iterate_batches

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

CUDA_TOLERANCE = 0.05  # test/val accuracy of a resumed run vs an uninterrupted one, on CUDA
RESNET = (
    "experiment=smoke",
    "device=cuda",
    "model@backbone=resnet",
    "backbone.name=resnet18",
    "backbone.resolution=64",
    "target.resolution=64",
)


def _finite(record: dict) -> bool:
    values = [record["val_acc"], record["test_acc"], *(h["train_loss"] for h in record["history"])]
    return all(v is not None and math.isfinite(v) for v in values)


def test_bf16_autocast_and_channels_last_train_both_stages_on_cuda(make_cfg, tiny_synth, tmp_path):
    run = tmp_path / "run"
    cfg = make_cfg(
        *RESNET,
        "strategy=adapter_scratch",
        "train.amp=auto",  # auto = bf16 autocast on CUDA
        "backbone.channels_last=true",
        f"paths.synth_dir={tiny_synth}",
        run_dir=run,
    )
    train(cfg)
    record = json.loads((run / "metrics.json").read_text())
    assert record["status"] == "completed" and record["device"].startswith("cuda")
    assert _finite(record)
    assert record["peak_gpu_memory_mb"] > 0


def test_autocast_runs_the_backbone_in_bf16_and_channels_last_keeps_its_layout(make_cfg):
    from hydra.utils import instantiate

    cfg = make_cfg(*RESNET, "strategy=deepfashion_scratch", "backbone.channels_last=true")
    model = instantiate(cfg.model, num_classes=5).cuda()
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.rand(4, 3, 64, 64, device="cuda").contiguous(memory_format=torch.channels_last)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        logits = model(x)
    assert logits.dtype == torch.bfloat16 and logits.shape == (4, 5)
    logits.float().sum().backward()
    assert conv.weight.grad is not None and conv.weight.grad.dtype == torch.float32


def test_pinned_prefetch_delivers_every_batch_in_order_on_the_device():
    images = torch.randint(0, 256, (70, 3, 8, 8), dtype=torch.uint8)
    labels = torch.arange(70) % 7
    got = list(iterate_batches(Split(images, labels), 16, torch.device("cuda")))
    assert [x.device.type for x, _ in got] == ["cuda"] * 5
    assert torch.equal(torch.cat([y for _, y in got]).cpu(), labels)
    assert torch.equal(torch.cat([x for x, _ in got]).cpu(), images.float() / 255)


def _read(run: Path) -> dict:
    try:
        return json.loads((run / "metrics.json").read_text())
    except (OSError, ValueError):
        return {}


@pytest.mark.slow
def test_resume_on_cuda_after_sigkill_matches_an_uninterrupted_run(tiny_synth, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    base = [
        sys.executable,
        "-m",
        "fashion_transfer.train",
        *RESNET,
        "strategy=adapter_scratch",
        "budget.target.epochs=3",
        "budget.target.batch_size=4",
        "train.max_steps_per_epoch=14",
        f"paths.synth_dir={tiny_synth}",
    ]
    reference, run = tmp_path / "reference", tmp_path / "run"
    done = subprocess.run([*base, f"hydra.run.dir={reference}"], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr[-2000:]
    proc = subprocess.Popen([*base, f"hydra.run.dir={run}"], env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while len(_read(run).get("history", [])) < 2:  # source epoch 1, target epoch 1 done
        assert proc.poll() is None and time.monotonic() < deadline, "never reached target epoch 1"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert _read(run)["status"] == "running"
    done = subprocess.run([*base, f"hydra.run.dir={run}"], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr[-2000:]
    got, want = _read(run), _read(reference)
    assert got["status"] == "completed"
    assert [(h["stage"], h["epoch"]) for h in got["history"]] == [
        (h["stage"], h["epoch"]) for h in want["history"]
    ]
    for key in ("val_acc", "test_acc", "target_top1"):
        assert abs(got[key] - want[key]) <= CUDA_TOLERANCE, (key, got[key], want[key])
