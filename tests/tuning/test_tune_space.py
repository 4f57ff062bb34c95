"""experiment=tune: reproducible trials, the same count per strategy, and trials that train."""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest
from omegaconf import OmegaConf

import fashion_transfer.train  # noqa: F401  (registers the ft_trial resolver)
from fashion_transfer.conf import CONF_DIR
from fashion_transfer.jobs import job_dirname
from fashion_transfer.preflight import _compose, sweep_jobs
from fashion_transfer.tuning.space import draw, draw_trial, on_edge

CONF = CONF_DIR
SPACE = {
    "lr": {"low": 1e-4, "high": 1e-2, "log": True, "strategies": None},
    "weight_decay": {"low": 0.0, "high": 0.1, "log": False, "strategies": None},
    "unfreeze_after": {"low": 0, "high": 3, "integer": True, "strategies": ["adapter_scratch"]},
}


def test_the_same_trial_seed_draws_the_same_trials() -> None:
    first = [draw_trial(SPACE, seed=3, trial=k) for k in range(8)]
    assert first == [draw_trial(SPACE, seed=3, trial=k) for k in range(8)]
    assert first != [draw_trial(SPACE, seed=4, trial=k) for k in range(8)]
    assert len({t["lr"] for t in first}) == 8  # distinct trials
    # a parameter's draws do not depend on which others the space holds
    assert [draw_trial({"lr": SPACE["lr"]}, 3, k)["lr"] for k in range(8)] == [
        t["lr"] for t in first
    ]


def test_draws_stay_in_the_space_and_log_is_log_uniform() -> None:
    lrs = [draw("lr", SPACE["lr"], 0, k) for k in range(400)]
    assert all(1e-4 <= v <= 1e-2 for v in lrs)
    below = sum(v < 1e-3 for v in lrs) / len(lrs)  # the log midpoint: half the draws below it
    assert 0.4 < below < 0.6
    ints = {draw("unfreeze_after", SPACE["unfreeze_after"], 0, k) for k in range(100)}
    assert ints == {0, 1, 2, 3}
    assert draw_trial(SPACE, 0, 0, "deepfashion_scratch").keys() == {"lr", "weight_decay"}
    with pytest.raises(ValueError, match="tune.space.lr"):
        draw("lr", {"low": 0.0, "high": 1.0, "log": True}, 0, 0)


def test_edge_of_the_space() -> None:
    lr = SPACE["lr"]
    assert on_edge(lr, 1.2e-4) and on_edge(lr, 0.009) and not on_edge(lr, 1e-3)
    assert on_edge(SPACE["unfreeze_after"], 0) and not on_edge(SPACE["unfreeze_after"], 2)
    assert not on_edge(SPACE["weight_decay"], 0.05) and on_edge(SPACE["weight_decay"], 0.095)


@pytest.mark.parametrize(("experiment", "trials", "seeds"), [("tune", 8, 3), ("tune_smoke", 2, 1)])
def test_every_strategy_gets_the_same_trials(experiment: str, trials: int, seeds: int) -> None:
    jobs = sweep_jobs(CONF, [f"experiment={experiment}"])
    per_strategy = Counter(dict(o.split("=", 1) for o in job)["strategy"] for job in jobs)
    assert len(per_strategy) == 5 and set(per_strategy.values()) == {trials * seeds}
    assert len({job_dirname(job) for job in jobs}) == len(jobs)  # one folder per job


def test_a_trial_composes_to_its_drawn_values() -> None:
    cfg = _compose(CONF, ["experiment=tune", "strategy=adapter_pretrained", "tune.trial=5"])
    space = OmegaConf.to_container(cfg.tune.space)
    drawn = draw_trial(space, 0, 5)
    stages = cfg.strategy.stages
    assert stages.source.lr == stages.target.lr == drawn["lr"]
    assert cfg.optimizer.weight_decay == drawn["weight_decay"]
    assert stages.target.unfreeze_after == drawn["unfreeze_after"]
    assert stages.target.backbone_lr_factor == drawn["backbone_lr_factor"]
    other = _compose(CONF, ["experiment=tune", "strategy=deepfashion_scratch", "tune.trial=5"])
    assert other.strategy.stages.target.lr == drawn["lr"]  # trial k is paired across strategies


def test_a_trial_is_an_ordinary_run_with_its_hyperparameters(make_cfg, tiny_synth, tmp_path):
    from fashion_transfer.train import train

    run_dir = tmp_path / "trial"
    cfg = make_cfg(
        "experiment=tune_smoke",
        "strategy=adapter_scratch",
        "tune.trial=1",
        f"paths.synth_dir={tiny_synth}",
        run_dir=run_dir,
    )
    train(cfg)
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["status"] == "completed" and m["input_adapter"] == "learned"
    tune = m["tune"]
    assert (tune["seed"], tune["trial"]) == (0, 1)
    assert tune["hparams"] == draw_trial(tune["space"], 0, 1)
    assert set(tune["hparams"]) == {"lr", "weight_decay", "unfreeze_after", "backbone_lr_factor"}
    assert math.isclose(cfg.strategy.stages.target.lr, tune["hparams"]["lr"])
    frozen = [h["frozen"] for h in m["history"] if h["stage"] == "target"]
    assert frozen.count(True) == tune["hparams"]["unfreeze_after"]
