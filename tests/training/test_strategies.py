"""Each strategy end to end on tiny FashionSynth data, and the adapter's staged freezing."""

from __future__ import annotations

import json

import pytest
import torch

from fashion_transfer.train import train
from fashion_transfer.training.checkpoint import load_checkpoint

STRATEGIES = [
    "fmnist_baseline",
    "deepfashion_scratch",
    "deepfashion_imagenet",
    "adapter_scratch",
    "adapter_pretrained",
]


@pytest.mark.parametrize(
    ("strategy", "extra"),
    [(s, ()) for s in STRATEGIES]
    + [(s, ("transfer.input_adapter=timm_stem",)) for s in STRATEGIES if s.startswith("adapter")],
)
def test_strategy_end_to_end(strategy, extra, make_cfg, tiny_synth, tmp_path):
    run_dir = tmp_path / strategy
    cfg = make_cfg(
        "experiment=smoke",
        f"strategy={strategy}",
        f"paths.synth_dir={tiny_synth}",
        *extra,
        run_dir=run_dir,
    )
    train(cfg)
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["status"] == "completed" and m["strategy"] == strategy and m["synthetic"] is True
    stages = list(cfg.strategy.stages)
    assert list(m["stages"]) == stages
    assert [h["stage"] for h in m["history"]] == [
        s for s in stages for _ in range(cfg.strategy.stages[s].epochs)
    ]
    assert 0 < m["shared_n"] <= 80 and 0 <= m["shared_acc"] <= 1
    assert len(m["shared_classes"]) == 6 and len(m["shared_confusion"]) == 6
    assert sum(map(sum, m["shared_confusion"])) == m["shared_n"]
    if strategy == "fmnist_baseline":
        assert m["shared_mode"] == "zero_shot_fmnist_view" and m["target_top1"] is None
        assert m["source_test_acc"] == m["test_acc"] and m["reverse_acc"] is None
    else:
        assert m["shared_mode"] == "mapped_predictions"
        assert m["target_top1"] == m["test_acc"] <= m["target_top3"] <= m["target_top5"]
        assert len(m["classes"]) == 50 and m["reverse_n"] == 60  # 6 of 10 studio classes
    if strategy.startswith("adapter"):
        assert 0 <= m["source_test_acc"] <= 1
        assert (run_dir / "checkpoints" / "stage_source_best.pt").exists()
        assert m["model"] == "FashionAdapter"
        assert m["input_adapter"] == ("timm_stem" if extra else "learned")
    assert m["pretrained"] is strategy.endswith(("imagenet", "pretrained"))
    with __import__("numpy").load(run_dir / "samples.npz") as s:
        assert s[f"{stages[-1]}_images"].dtype.name == "uint8"


def _backbone_state(path):
    model = load_checkpoint(path)["model"]
    return {k: v for k, v in model.items() if k.startswith("backbone.") and "classifier" not in k}


def test_adapter_backbone_frozen_then_trained(make_cfg, tiny_synth, tmp_path):
    """During `unfreeze_after` epochs only the adapter and head learn; afterwards the backbone too."""
    run_dir = tmp_path / "run"
    cfg = make_cfg(
        "experiment=smoke",
        "strategy=adapter_scratch",
        f"paths.synth_dir={tiny_synth}",
        "budget.target.epochs=2",
        "transfer.unfreeze_after=1",
        run_dir=run_dir,
    )
    snapshots = {}
    import fashion_transfer.training.stages as stages

    original = stages._save

    def spy(ctx, path, state, stage, index, epoch, best):
        original(ctx, path, state, stage, index, epoch, best)
        if path.name == "last.pt":
            snapshots[(stage, epoch)] = {
                k: v.clone()
                for k, v in state.model.state_dict().items()
                if k.startswith("backbone.") and "classifier" not in k
            }

    stages._save = spy
    try:
        train(cfg)
    finally:
        stages._save = original
    source_end = _backbone_state(run_dir / "checkpoints" / "stage_source_best.pt")
    frozen, trained = snapshots[("target", 1)], snapshots[("target", 2)]
    assert frozen.keys() == source_end.keys() and frozen
    assert all(torch.equal(frozen[k], source_end[k]) for k in frozen)  # weights and BN stats
    assert any(not torch.equal(trained[k], frozen[k]) for k in frozen)
    history = json.loads((run_dir / "metrics.json").read_text())["history"]
    assert [h["frozen"] for h in history if h["stage"] == "target"] == [True, False]
