"""Metrics through torchmetrics give the numbers the hand-written versions gave; ECE by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fashion_transfer.train import train
from fashion_transfer.training.metrics import (
    calibration_error,
    classification_report,
    confusion_matrix,
    per_image,
    topk_accuracy,
)


def _by_hand(logits: torch.Tensor, labels: torch.Tensor, k: int) -> dict:
    """The suite's earlier hand-written metrics, kept here as the reference."""
    preds = logits.argmax(1)
    n = logits.shape[1]
    conf = torch.bincount(labels * n + preds, minlength=n * n).view(n, n)
    top = logits.topk(min(k, n), dim=1).indices
    per_class = [(conf[i, i] / conf[i].sum()).item() for i in range(n) if conf[i].sum() > 0]
    return {
        "acc": (preds == labels).float().mean().item(),
        "topk": (top == labels[:, None]).any(1).float().mean().item(),
        "confusion": conf,
        "macro": sum(per_class) / len(per_class),
    }


@pytest.mark.parametrize("num_classes", [3, 6, 12])
def test_torchmetrics_gives_the_hand_written_numbers(num_classes):
    gen = torch.Generator().manual_seed(num_classes)
    logits = torch.randn(500, num_classes, generator=gen)
    labels = torch.randint(0, num_classes, (500,), generator=gen)
    labels[labels == 1] = 0  # class 1 has no test images: left out of the macro mean
    logits[:50, 1] += 5.0  # ... but is predicted, which torchmetrics' macro average would count
    hand = _by_hand(logits, labels, 5)
    rep = classification_report(logits, labels, [str(i) for i in range(num_classes)])
    assert rep["acc"] == pytest.approx(hand["acc"], abs=1e-7)
    assert topk_accuracy(logits, labels, 5) == pytest.approx(hand["topk"], abs=1e-7)
    assert torch.equal(confusion_matrix(logits.argmax(1), labels, num_classes), hand["confusion"])
    assert rep["confusion_matrix"] == hand["confusion"].tolist()
    assert rep["macro_acc"] == pytest.approx(hand["macro"], abs=1e-7)
    assert rep["per_class_acc"]["1"] is None


def test_ece_equals_a_hand_computed_value():
    """Two classes, four images, confidences in three of the fifteen bins.

    confidences 0.9, 0.9 (bin 14), 0.7 (bin 11), 0.6 (bin 9); correct: yes, no, yes, no.
    ECE = 2/4*|0.9 - 0.5| + 1/4*|0.7 - 1| + 1/4*|0.6 - 0| = 0.2 + 0.075 + 0.15 = 0.425.
    """
    probs = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
    labels = torch.tensor([0, 1, 1, 1])
    assert calibration_error(probs.log(), labels) == pytest.approx(0.425, abs=1e-6)
    # Logits that happen to lie in [0, 1] are still logits (softmaxed), not probabilities.
    small = torch.tensor([[0.9, 0.1], [0.2, 0.3]])
    expected = 0.5 * abs(small[0].softmax(0).max() - 1) + 0.5 * abs(small[1].softmax(0).max() - 1)
    assert calibration_error(small, torch.tensor([0, 1])) == pytest.approx(expected.item(), 1e-6)


def test_per_image_arrays():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    out = per_image(logits, torch.tensor([0, 0, 1]))
    assert out["correct"].tolist() == [1, 0, 0] and out["correct"].dtype == np.uint8
    assert out["confidence"].dtype == np.float16
    assert out["confidence"][0] == pytest.approx(float(logits[0].softmax(0)[0]), abs=1e-3)
    assert out["labels"].tolist() == [0, 0, 1]


@pytest.mark.parametrize("strategy", ["fmnist_baseline", "adapter_scratch"])
def test_run_writes_predictions_ece_and_per_epoch_test_accuracy(
    strategy, make_cfg, tiny_synth, tmp_path
):
    run_dir = tmp_path / "run"
    cfg = make_cfg(
        "experiment=smoke", f"strategy={strategy}", f"paths.synth_dir={tiny_synth}", run_dir=run_dir
    )
    train(cfg)
    m = json.loads((run_dir / "metrics.json").read_text())
    final = list(m["stages"])[-1]
    for h in m["history"]:
        assert ("test_acc" in h) == (h["stage"] == final)  # only the final stage is scored
    best = next(h for h in m["history"] if h["stage"] == final and h["epoch"] == m["best_epoch"])
    assert best["test_acc"] == pytest.approx(m["test_acc"])  # the selected epoch's weights
    preds = np.load(run_dir / "predictions.npz")
    sets = {"source", "shared"} | ({"target"} if strategy != "fmnist_baseline" else set())
    assert {k.rsplit("_", 1)[0] for k in preds.files} == sets
    assert preds["shared_correct"].mean() == pytest.approx(m["shared_acc"], abs=1e-6)
    assert len(preds["shared_correct"]) == m["shared_n"]
    assert preds["source_correct"].mean() == pytest.approx(m["source_test_acc"], abs=1e-6)
    for key in ("source_ece", "shared_ece"):
        assert 0.0 <= m[key] <= 1.0
    if strategy == "fmnist_baseline":
        assert m["target_ece"] is None
    else:
        assert preds["target_correct"].mean() == pytest.approx(m["target_top1"], abs=1e-6)
        assert 0.0 <= m["target_ece"] <= 1.0
