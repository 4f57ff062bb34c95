"""The weight average: its update rule, and a stage that selects, keeps and resumes with it."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from fashion_transfer.train import train
from fashion_transfer.training.checkpoint import load_checkpoint
from fashion_transfer.training.ema import ModelEma


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3))


def test_update_averages_weights_and_bn_statistics_with_the_ramped_decay():
    model = _net()
    ema = ModelEma(model, decay=0.9)
    before = {k: v.clone() for k, v in ema.module.state_dict().items()}
    model.train()
    model(torch.randn(4, 1, 4, 4))  # moves the BatchNorm statistics and counter
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ema.update(model)
    decay = 2 / 11  # (1 + n) / (10 + n) after the first update, below the cap
    now = model.state_dict()
    for key, value in ema.module.state_dict().items():
        if value.dtype.is_floating_point:
            want = decay * before[key] + (1 - decay) * now[key]
            assert torch.allclose(value, want), key
        else:
            assert torch.equal(value, now[key]), key  # num_batches_tracked is copied
    assert ema.module.state_dict()["1.num_batches_tracked"].item() == 1
    ema.updates = 10_000
    assert ema.current_decay() == 0.9  # the cap


def _recipe_step(average: nn.Module, model: nn.Module, n: int, cap: float) -> None:
    """The suite's own update before timm's ModelEmaV3 kept the average: the reference."""
    weight = 1.0 - min(cap, (1 + n) / (10 + n))
    with torch.no_grad():
        for mine, theirs in zip(average.parameters(), model.parameters(), strict=True):
            mine.lerp_(theirs, weight)
        for mine, theirs in zip(average.buffers(), model.buffers(), strict=True):
            if mine.dtype.is_floating_point:
                mine.lerp_(theirs, weight)
            else:
                mine.copy_(theirs)


@pytest.mark.parametrize("cap", [0.9, 0.998])
def test_timm_average_matches_the_recipe_bit_for_bit_step_for_step(cap: float):
    """Same decay and warmup as the own EMA it replaced: the baseline's numbers cannot move."""
    model = _net()
    ema = ModelEma(model, decay=cap)
    reference = copy.deepcopy(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    torch.manual_seed(1)
    model.train()
    for n in range(1, 101):  # the ramp reaches 0.9 at n = 80; 0.998 stays on the ramp
        optimizer.zero_grad()
        model(torch.randn(4, 1, 4, 4)).square().mean().backward()
        optimizer.step()
        ema.update(model)
        _recipe_step(reference, model, n, cap)
        assert ema.current_decay() == pytest.approx(min(cap, (1 + n) / (10 + n)), rel=1e-12)
        want = reference.state_dict()
        for key, value in ema.module.state_dict().items():
            assert torch.equal(value, want[key]), (n, key)


def test_decay_outside_0_1_is_refused():
    with pytest.raises(ValueError, match="ema decay"):
        ModelEma(_net(), 1.0)


def test_the_stage_selects_keeps_and_returns_the_averaged_weights(make_cfg, tiny_synth, tmp_path):
    run = tmp_path / "run"
    overrides = ("experiment=smoke", "strategy=fmnist_baseline", "device=cpu")
    train(make_cfg(*overrides, f"paths.synth_dir={tiny_synth}", run_dir=run))
    best = load_checkpoint(run / "checkpoints" / "best.pt")
    assert best["ema_updates"] == 5  # smoke: 5 steps, ema on for the baseline's stage by default
    averaged, raw = best["model"], best["train_model"]
    assert any(not torch.equal(averaged[k], raw[k]) for k in raw)

    off = tmp_path / "off"
    train(
        make_cfg(
            *overrides, "budget.source.ema_decay=null", f"paths.synth_dir={tiny_synth}", run_dir=off
        )
    )
    plain = load_checkpoint(off / "checkpoints" / "best.pt")
    assert "train_model" not in plain and "ema_updates" not in plain
    # Same seed, same steps: the raw weights agree; what the stage kept differs by the average.
    assert all(torch.equal(plain["model"][k], raw[k]) for k in raw)
