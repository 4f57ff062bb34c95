"""Classification metrics from logits, and the atomic writer of metrics.json."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import torch


def topk_accuracy(logits: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    k = min(k, logits.shape[1])
    top = logits.topk(k, dim=1).indices
    return (top == labels[:, None]).any(1).float().mean().item()


def confusion_matrix(preds: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Rows are true classes, columns predicted ones."""
    flat = labels * num_classes + preds
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes)


def per_class_accuracy(confusion: torch.Tensor) -> list[float | None]:
    """None for classes with no test images (some DeepFashion categories are empty)."""
    totals = confusion.sum(1)
    return [
        (confusion[i, i] / totals[i]).item() if totals[i] > 0 else None for i in range(len(totals))
    ]


def macro_accuracy(per_class: list[float | None]) -> float:
    values = [v for v in per_class if v is not None]
    return sum(values) / len(values) if values else float("nan")


def classification_report(logits: torch.Tensor, labels: torch.Tensor, classes: list[str]) -> dict:
    """Accuracy, top-3/5, macro, per-class accuracy and confusion matrix of one test pass."""
    preds = logits.argmax(1)
    conf = confusion_matrix(preds, labels, len(classes))
    per_class = per_class_accuracy(conf)
    return {
        "acc": (preds == labels).float().mean().item(),
        "top3": topk_accuracy(logits, labels, 3),
        "top5": topk_accuracy(logits, labels, 5),
        "macro_acc": macro_accuracy(per_class),
        "per_class_acc": dict(zip(classes, per_class, strict=True)),
        "confusion_matrix": conf.tolist(),
        "n": len(labels),
    }


def _json_safe(obj):
    """NaN/inf are not JSON; write them as null so every reader can parse the file."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


def write_json_atomic(path: Path, data: dict) -> None:
    """Temp file + rename: readers (and a crash) never see a half-written metrics.json."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(_json_safe(data), indent=2, allow_nan=False) + "\n")
    os.replace(tmp, path)
