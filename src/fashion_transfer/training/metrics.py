"""Classification metrics from logits (torchmetrics).

Accuracy, top-k, the confusion matrix and the expected calibration error come from torchmetrics.
Per-class and macro accuracy are read off torchmetrics' confusion matrix by hand, because the
suite leaves classes with no test images out of the macro mean (some DeepFashion categories are
empty), while torchmetrics' macro average counts such a class as 0 once anything is predicted
as it.
"""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics.classification import MulticlassCalibrationError
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_confusion_matrix

#: Equal-width confidence bins of the expected calibration error (top-1 confidence).
ECE_BINS = 15


def topk_accuracy(logits: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    """Share of images whose label is among the `k` highest logits (k capped at the classes)."""
    num_classes = logits.shape[1]
    return multiclass_accuracy(
        logits, labels, num_classes, average="micro", top_k=min(k, num_classes)
    ).item()


def confusion_matrix(preds: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Rows are true classes, columns predicted ones."""
    return multiclass_confusion_matrix(preds, labels, num_classes)


def per_class_accuracy(confusion: torch.Tensor) -> list[float | None]:
    """None for classes with no test images (some DeepFashion categories are empty)."""
    totals = confusion.sum(1)
    return [
        (confusion[i, i] / totals[i]).item() if totals[i] > 0 else None for i in range(len(totals))
    ]


def macro_accuracy(per_class: list[float | None]) -> float:
    values = [v for v in per_class if v is not None]
    return sum(values) / len(values) if values else float("nan")


def calibration_error(logits: torch.Tensor, labels: torch.Tensor) -> float | None:
    """Expected calibration error (L1, 15 equal-width bins of the top-1 softmax confidence).

    Probabilities are passed, not logits: torchmetrics applies softmax only to inputs outside
    [0, 1], so logits that happen to lie inside it would be read as probabilities.
    """
    if len(labels) == 0:
        return None
    metric = MulticlassCalibrationError(num_classes=logits.shape[1], n_bins=ECE_BINS, norm="l1")
    return metric(logits.float().softmax(1), labels).item()


def per_image(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, np.ndarray]:
    """Per test image: top-1 correct (uint8 0/1), top-1 softmax confidence (float16), label."""
    probs = logits.float().softmax(1)
    confidence, preds = probs.max(1)
    return {
        "correct": (preds == labels).to(torch.uint8).numpy(),
        "confidence": confidence.to(torch.float16).numpy(),
        "labels": labels.to(torch.int16).numpy(),
    }


def classification_report(logits: torch.Tensor, labels: torch.Tensor, classes: list[str]) -> dict:
    """Accuracy, top-3/5, macro, per-class accuracy, confusion matrix and ECE of one test pass."""
    preds = logits.argmax(1)
    conf = confusion_matrix(preds, labels, len(classes))
    per_class = per_class_accuracy(conf)
    return {
        "acc": topk_accuracy(logits, labels, 1) if len(labels) else float("nan"),
        "top3": topk_accuracy(logits, labels, 3),
        "top5": topk_accuracy(logits, labels, 5),
        "macro_acc": macro_accuracy(per_class),
        "ece": calibration_error(logits, labels),
        "per_class_acc": dict(zip(classes, per_class, strict=True)),
        "confusion_matrix": conf.tolist(),
        "n": len(labels),
    }
