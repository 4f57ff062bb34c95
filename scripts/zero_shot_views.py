"""Score a trained Fashion-MNIST baseline zero-shot on a DeepFashion-format root, per view background.

    python scripts/zero_shot_views.py RUN_DIR ROOT [--synthetic] [--backgrounds keep,flatten,segment]

RUN_DIR is a finished `strategy=fmnist_baseline` run (its checkpoints/best.pt: the selected
weights and the config they were made with); ROOT a DeepFashion-format root (FashionSynth wild:
add --synthetic). For each background it prints the shared 6-class accuracy on ROOT's test split
in the Fashion-MNIST view, the view's statistics (data.fmnist_view.view_stats) and, against the
first background, a paired bootstrap interval over the test images (one model: not over seeds).
A training run scores the same in metrics.json `zero_shot_by_background`; this re-scores a run
trained with `eval.zero_shot=false` (the README's measurement) without training it again.
`--backgrounds default` uses the loader's default view only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from scipy import stats as sps

from fashion_transfer.data.deepfashion import load_deepfashion
from fashion_transfer.data.fashion_mnist import FMNIST_CLASSES
from fashion_transfer.data.label_map import LabelMap
from fashion_transfer.training.checkpoint import load_checkpoint
from fashion_transfer.training.loop import predict


def correct_per_image(model, cfg, root: str, synthetic: bool, background: str | None):
    extra = {} if background is None else {"fmnist_background": background}
    view = load_deepfashion(
        root, 28, view="fmnist", synthetic=synthetic, load_splits=("test",), workers=2, **extra
    )
    lm = LabelMap.from_config(cfg.label_map, view.classes, list(FMNIST_CLASSES))
    logits = lm.logits_from_source(predict(model, view.test, torch.device("cpu"), 1024))
    labels = lm.labels_from_target(view.test.labels)
    keep = labels >= 0
    right = (logits[keep].argmax(1) == labels[keep]).numpy()
    return right, view.report.get("view_stats", {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("root")
    parser.add_argument("--synthetic", action="store_true")
    parser.add_argument("--backgrounds", default="keep,flatten,segment")
    args = parser.parse_args()
    payload = load_checkpoint(args.run_dir / "checkpoints" / "best.pt")
    cfg = OmegaConf.create(json.loads(payload["config"]))
    model = instantiate(cfg.model, num_classes=len(FMNIST_CLASSES))
    model.load_state_dict(payload["model"])
    names = args.backgrounds.split(",")
    results = {
        name: correct_per_image(
            model, cfg, args.root, args.synthetic, None if name == "default" else name
        )
        for name in names
    }
    first = results[names[0]][0]
    print(f"{args.run_dir} (epoch {payload['best_epoch']}) zero-shot on {args.root} test:")
    for name, (right, view) in results.items():
        line = f"  {name:8} shared acc {right.mean() * 100:5.1f}% (n={len(right)})"
        line += "  " + "  ".join(f"{k} {v:.3f}" for k, v in view.items())
        if name != names[0]:
            res = sps.bootstrap(
                (right.astype(float), first.astype(float)),
                lambda a, b: a.mean() - b.mean(),
                paired=True,
                n_resamples=9999,
                random_state=np.random.default_rng(0),
            )
            low, high = res.confidence_interval
            line += f"  vs {names[0]}: [{low * 100:+.1f}, {high * 100:+.1f}] pp"
        print(line)


if __name__ == "__main__":
    main()
