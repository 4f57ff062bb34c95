"""Time to accuracy: the default fmnist_baseline recipe, scored on the test set after every epoch.

Training runs never look at the test set before the end (model selection is on validation only);
this bench-only measurement does, after each epoch and off the clock, to find when the recipe
first reaches a test accuracy. The clock covers what a run spends per epoch: training and the
validation pass (not loading the data, not checkpoint writes, not the bench's test scoring).
"""

from __future__ import annotations

import time

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from fashion_transfer.bench.setup import make_state
from fashion_transfer.training.loop import evaluate, train_one_epoch
from fashion_transfer.training.stages import epoch_seed
from fashion_transfer.utils import seed_everything

THRESHOLDS = (0.922, 0.93)


def time_to_accuracy(
    cfg: DictConfig,
    device: torch.device,
    limit_s: float | None,
    thresholds: tuple[float, ...] = THRESHOLDS,
    deadline: float | None = None,
) -> dict:
    """Train the `source` stage epoch by epoch until every threshold is reached or time is up.

    With `limit_s` (seconds on the run's clock), or `deadline` (a `time.perf_counter()` value: the
    bench's own budget, test scoring included), no epoch is started that would, judging by the
    previous one, end past it; a threshold not reached by then is reported as None with the reason.
    """
    seed_everything(cfg.seed)
    start = time.perf_counter()
    domain = instantiate(cfg.source)
    load_s = time.perf_counter() - start
    state = make_state(cfg, "source", domain, device)
    stage = cfg.strategy.stages.source
    clock, last, history, stopped = 0.0, 0.0, [], "all thresholds reached"
    reached: dict[str, float | None] = {f"{t:.3f}": None for t in thresholds}
    wall = 0.0  # the last epoch's wall time, test scoring included
    for epoch in range(int(stage.epochs)):
        if why := _no_time_for_another(limit_s, deadline, clock, last, wall, bool(history)):
            stopped = why
            break
        t0 = time.perf_counter()
        train = train_one_epoch(state, domain.train, epoch_seed(cfg.seed, 0, epoch))
        val = evaluate(state.eval_model, domain.val, device, state.eval_batch_size, state.criterion)
        last = time.perf_counter() - t0
        clock += last
        test = evaluate(
            state.eval_model, domain.test, device, state.eval_batch_size, state.criterion
        )
        wall = time.perf_counter() - t0
        history.append(
            {
                "epoch": epoch + 1,
                "seconds": round(clock, 2),
                "train_s": round(train["seconds"], 2),
                "val_acc": round(val["acc"], 4),
                "test_acc": round(test["acc"], 4),
            }
        )
        for t in thresholds:
            if reached[f"{t:.3f}"] is None and test["acc"] >= t:
                reached[f"{t:.3f}"] = round(clock, 2)
        if all(v is not None for v in reached.values()):
            break
    else:
        stopped = "recipe finished"
    return {
        "recipe": _recipe(cfg, len(domain.train)),
        "seconds_to": reached,
        "limit_s": limit_s,
        "stopped": stopped,
        "load_s": round(load_s, 2),
        "history": history,
    }


def _no_time_for_another(
    limit_s: float | None,
    deadline: float | None,
    clock: float,
    last: float,
    wall: float,
    started: bool,
) -> str | None:
    """Why another epoch would end past the limit (`last`: its training seconds on the run's
    clock; `wall`: with test scoring, against the bench's deadline), or None to go on."""
    if limit_s and clock + last > limit_s:
        return f"time limit: another epoch (~{last:.0f} s) would end past {limit_s:.0f} s"
    if deadline is not None and time.perf_counter() + wall > deadline:
        if not started:
            return "bench budget: spent before the first epoch"
        return f"bench budget: another epoch (~{wall:.0f} s with test scoring) would end past it"
    return None


def _recipe(cfg: DictConfig, train_images: int) -> dict:
    """What the timed run trained: the source stage's settings as the config composed them."""
    stage = cfg.strategy.stages.source
    return {
        "strategy": cfg.strategy.name,
        "model": cfg.model._target_.rsplit(".", 1)[-1],
        "epochs": int(stage.epochs),
        "batch_size": int(stage.batch_size),
        "lr": float(stage.lr),
        "train_images": train_images,
        "pool_first": bool(cfg.model.get("pool_first", False)),
        "ema_decay": stage.get("ema_decay"),
    }
