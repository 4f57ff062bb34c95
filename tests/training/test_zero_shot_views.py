"""The baseline's zero-shot score per background of the Fashion-MNIST view, and the in-domain
run of the gap decomposition reading the same view as the zero-shot score (as `make demo` runs it)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fashion_transfer.train import train

SMOKE = ("experiment=smoke", "logger=none", "strategy=fmnist_baseline")
# experiment=smoke without its studio-only `source.val_size` (a DeepFashion-kind source has no such
# key, and its typed node refuses it), for a run whose source is the wild set, as the demo's is.
SMOKE_WILD_SOURCE = (
    "logger=none",
    "strategy=fmnist_baseline",
    "dataset@target=synth_wild",
    "model@backbone=efficientnet_lite0",
    "backbone.resolution=32",
    "target.cache=false",
    "source.cache=false",
    "budget.source.epochs=1",
    "budget.source.batch_size=32",
    "train.max_steps_per_epoch=5",
    "train.eval_batch_size=256",
    "eval.samples=4",
)


def test_every_background_is_scored_on_the_same_images(make_cfg, tiny_synth, tmp_path):
    run_dir = tmp_path / "run"
    cfg = make_cfg(
        *SMOKE,
        f"paths.synth_dir={tiny_synth}",
        "target.fmnist_background=flatten",
        "eval.zero_shot_backgrounds=[keep,segment]",
        run_dir=run_dir,
    )
    train(cfg)
    m = json.loads((run_dir / "metrics.json").read_text())
    scores = m["zero_shot_by_background"]
    assert list(scores) == ["flatten", "keep", "segment"]  # the target's own first
    assert (
        scores["flatten"]["acc"] == m["shared_acc"] and m["target_fmnist_background"] == "flatten"
    )
    assert m["data"]["target_fmnist_view"]["fmnist_background"] == "flatten"
    for score in scores.values():
        assert score["n"] == m["shared_n"] and 0 <= score["acc"] <= 1
        assert {"zero_fraction", "border_mean", "std", "p99", "mean"} <= score.keys()
    assert scores["keep"]["zero_fraction"] < scores["segment"]["zero_fraction"]
    with np.load(run_dir / "samples.npz") as samples:
        labels = samples["fmnist_view_labels"]
        for background in ("keep", "segment"):
            assert np.array_equal(samples[f"fmnist_view_{background}_labels"], labels)
            images = samples[f"fmnist_view_{background}_images"]
            assert images.shape == samples["fmnist_view_images"].shape
            assert not np.array_equal(images, samples["fmnist_view_images"])


def test_in_domain_run_reads_the_zero_shot_view(make_cfg, tiny_synth, tmp_path: Path):
    """The demo's in-domain overrides (Makefile) compose, and its view follows the target's."""
    run_dir = tmp_path / "run"
    cfg = make_cfg(
        *SMOKE_WILD_SOURCE,
        f"paths.synth_dir={tiny_synth}",
        "dataset@source=synth_wild",
        "source.view=fmnist",
        "source.resolution=28",
        "source.label_space=shared",
        "source.fmnist_background=${target.fmnist_background}",
        "target.fmnist_background=keep",
        "eval.zero_shot_backgrounds=[]",
        run_dir=run_dir,
    )
    train(cfg)
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["source_view"] == "fmnist"
    assert m["source_fmnist_background"] == m["target_fmnist_background"] == "keep"
    assert list(m["zero_shot_by_background"]) == ["keep"]
