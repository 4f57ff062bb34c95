"""Cross-domain evaluation in the shared 6-class space between Fashion-MNIST and DeepFashion.

Shared-space accuracy is a decision among the six classes for every model, so strategies compare
on one footing: the Fashion-MNIST baseline scores its six shared logits on the target seen in
Fashion-MNIST format (zero-shot); target-trained models score each shared class by its best member
category. Unmapped categories (Skirt, Shorts, ...) are left out.

`cross_domain_evaluation` returns what it measured (`CrossDomain`); training/run.py puts it into
the run record, samples.npz and predictions.npz.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from fashion_transfer.data.base import Domain, Split
from fashion_transfer.data.fashion_mnist import FMNIST_CLASSES
from fashion_transfer.data.label_map import LabelMap
from fashion_transfer.errors import DataError, in_slot
from fashion_transfer.record import SharedScore
from fashion_transfer.training.evaluation import sample_indices
from fashion_transfer.training.loop import predict
from fashion_transfer.training.metrics import (
    calibration_error,
    confusion_matrix,
    macro_accuracy,
    per_class_accuracy,
    per_image,
)
from fashion_transfer.training.stages import RunContext
from fashion_transfer.utils import build

log = logging.getLogger(__name__)


@dataclass
class CrossDomain:
    """What the shared-space evaluation measured; fields it did not measure stay None/empty."""

    shared: SharedScore | None = None
    shared_mode: str | None = None  # zero_shot_fmnist_view or mapped_predictions
    shared_classes: list[str] | None = None
    reverse: SharedScore | None = None
    zero_shot_by_background: dict[str, dict[str, Any] | None] | None = None
    view_report: dict[str, Any] | None = None  # the zero-shot view's data report
    per_image: dict[str, np.ndarray] | None = None  # per shared-space test image (predictions.npz)
    samples: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # for samples.npz


def _score(
    shared_logits: torch.Tensor, labels: torch.Tensor
) -> tuple[SharedScore, dict[str, np.ndarray]]:
    """Accuracy, macro accuracy, ECE and 6x6 confusion over the images that have a shared label,
    and their per-image results.

    The shared-space confidence is the softmax over the six shared scores (the baseline's six
    shared logits, or each shared class's best member category), as the decision is made there.
    """
    keep = labels >= 0
    logits, truth = shared_logits[keep], labels[keep]
    preds = logits.argmax(1)
    conf = confusion_matrix(preds, truth, shared_logits.shape[1])
    score = SharedScore(
        acc=(preds == truth).float().mean().item() if len(truth) else None,
        macro=macro_accuracy(per_class_accuracy(conf)) if len(truth) else None,
        ece=calibration_error(logits, truth),
        n=int(keep.sum()),
        confusion=conf.tolist(),
    )
    return score, per_image(logits, truth)


def _target_fmnist_view(ctx: RunContext, background: str | None = None) -> Domain | None:
    """The target's test images in Fashion-MNIST format (data.fmnist_view), with the target's
    own `fmnist_background` or the one given."""
    target = ctx.cfg.target
    if "view" not in target:
        log.warning(
            "target %s has no Fashion-MNIST view; zero-shot score skipped", target.get("name")
        )
        return None
    extra = {} if background is None else {"fmnist_background": background}
    try:
        return build(
            target,
            view="fmnist",
            resolution=28,
            label_space="all",
            train_fraction=1.0,
            load_splits=("test",),  # only test is scored: decoding train and val would be wasted
            _convert_="all",  # plain containers: the schema's nodes arrive as dicts
            **extra,
        )
    except DataError as exc:
        raise DataError(
            f"target ({target.get('name')}) in the Fashion-MNIST view: {in_slot(exc, 'target')}"
        ) from exc


def _zero_shot_logits(
    ctx: RunContext, model: nn.Module, source: Domain, view: Domain, lm: LabelMap
) -> torch.Tensor | None:
    """Shared-space logits of a source-trained model on a target view (None: not comparable)."""
    fmnist_classes = list(ctx.cfg.label_map.get("fmnist_classes", FMNIST_CLASSES))
    logits = predict(model, view.test, ctx.device, ctx.cfg.train.eval_batch_size)
    if source.classes == lm.shared_classes:  # a model trained in the shared space needs no map
        return logits
    if source.classes != fmnist_classes:
        log.warning(
            "source %s has neither Fashion-MNIST's nor the shared classes; zero-shot score skipped",
            source.name,
        )
        return None
    return lm.logits_from_source(logits)


def _shared(
    out: CrossDomain, logits: torch.Tensor, labels: torch.Tensor, classes: list[str], mode: str
) -> None:
    """The shared-space figures of either mode."""
    out.shared, out.per_image = _score(logits, labels)
    out.shared_mode, out.shared_classes = mode, classes


def _view_samples(view: Domain, labels: torch.Tensor, logits: torch.Tensor, pick: torch.Tensor):
    return {
        "images": view.test.batch(pick)[0].numpy(),
        "labels": labels[pick].numpy(),
        "preds": logits[pick].argmax(1).numpy(),
    }


def _zero_shot(ctx: RunContext, model: nn.Module, source: Domain, out: CrossDomain) -> None:
    view = _target_fmnist_view(ctx)
    if view is None:
        return
    fmnist_classes = list(ctx.cfg.label_map.get("fmnist_classes", FMNIST_CLASSES))
    lm = LabelMap.from_config(ctx.cfg.label_map, view.classes, fmnist_classes)
    logits = _zero_shot_logits(ctx, model, source, view, lm)
    if logits is None:
        return
    labels = lm.labels_from_target(view.test.labels)
    _shared(out, logits, labels, lm.shared_classes, "zero_shot_fmnist_view")
    out.view_report = view.report
    keep = torch.nonzero(labels >= 0).flatten()
    pick = keep[sample_indices(labels[keep], ctx.cfg.eval.samples, ctx.cfg.seed)]
    out.samples["fmnist_view"] = _view_samples(view, labels, logits, pick)
    _log_shared(ctx, logits[keep].argmax(1), labels[keep], lm.shared_classes)
    scores = {view.report["fmnist_background"]: _background_score(view, logits, labels)}
    for background in ctx.cfg.eval.get("zero_shot_backgrounds") or []:
        if background not in scores:
            scores[background] = _other_background(ctx, model, source, lm, background, pick, out)
    out.zero_shot_by_background = scores


def _background_score(view: Domain, logits: torch.Tensor, labels: torch.Tensor) -> dict:
    """A view's zero-shot accuracy, macro accuracy and n, with the view's statistics."""
    s, _ = _score(logits, labels)
    return {"acc": s.acc, "macro": s.macro, "n": s.n, **view.report.get("view_stats", {})}


def _other_background(
    ctx: RunContext,
    model: nn.Module,
    source: Domain,
    lm: LabelMap,
    background: str,
    pick: torch.Tensor,
    out: CrossDomain,
) -> dict | None:
    """Zero-shot on the same test images with another background (`eval.zero_shot_backgrounds`).

    Its score goes to metrics.json `zero_shot_by_background` (the gap decomposition's first step
    is `keep`), its samples (the same images) to samples.npz as `fmnist_view_<background>`.
    """
    view = _target_fmnist_view(ctx, background)
    logits = _zero_shot_logits(ctx, model, source, view, lm) if view is not None else None
    if logits is None:
        return None
    labels = lm.labels_from_target(view.test.labels)
    out.samples[f"fmnist_view_{background}"] = _view_samples(view, labels, logits, pick)
    return _background_score(view, logits, labels)


def _mapped(
    ctx: RunContext, model: nn.Module, domains: dict[str, Domain], out: CrossDomain
) -> None:
    target = domains["target"]
    source_classes = list(ctx.cfg.label_map.get("fmnist_classes", FMNIST_CLASSES))
    lm = LabelMap.from_config(ctx.cfg.label_map, target.classes, source_classes)
    logits = lm.logits_from_target(ctx.test_logits["target"])
    labels = lm.labels_from_target(target.test.labels)
    _shared(out, logits, labels, lm.shared_classes, "mapped_predictions")
    keep = labels >= 0
    _log_shared(ctx, logits[keep].argmax(1), labels[keep], lm.shared_classes)
    if not ctx.cfg.eval.get("reverse", True):
        return
    source = domains.get("source") or build(ctx.cfg.source, _convert_="all")
    if source.classes != source_classes:
        log.warning(
            "source %s is not in Fashion-MNIST's classes; reverse score skipped", source.name
        )
        return
    # Only images of the six shared classes are scored: predicting the others would be wasted.
    shared_labels = lm.labels_from_source(source.test.labels)
    keep = torch.nonzero(shared_labels >= 0).flatten()
    images, _ = source.test.batch(keep)
    src_logits = predict(
        model, Split(images, shared_labels[keep]), ctx.device, ctx.cfg.train.eval_batch_size
    )
    out.reverse, _ = _score(lm.logits_from_target(src_logits), shared_labels[keep])


def _log_shared(
    ctx: RunContext, preds: torch.Tensor, labels: torch.Tensor, classes: list[str]
) -> None:
    ctx.tracker.confusion("shared/confusion", labels.tolist(), preds.tolist(), classes)


def cross_domain_evaluation(
    ctx: RunContext, model: nn.Module, domains: dict[str, Domain]
) -> CrossDomain:
    """Shared-space accuracy for every run, and the reverse direction for target-trained models."""
    out = CrossDomain()
    if ctx.cfg.get("label_map") is None:
        log.warning("no label_map configured: shared-space scores skipped")
        return out
    final_slot = list(ctx.cfg.strategy.stages.values())[-1].data
    if final_slot == "source":
        if ctx.cfg.eval.get("zero_shot", True):
            _zero_shot(ctx, model, domains["source"], out)
    else:
        _mapped(ctx, model, domains, out)
    return out
