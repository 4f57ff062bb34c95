"""The suite's own objects for the bench: the composed real config, its models and train states.

Everything is built the way a training run builds it (conf/ composed by Hydra, `build_state` from
the stages module), so the bench times the code users run, not a copy of it.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from omegaconf import DictConfig

from fashion_transfer.bench.timing import Case
from fashion_transfer.conf import CONF_DIR
from fashion_transfer.data.base import Domain, Split
from fashion_transfer.tracking.wandb_run import NullTracker
from fashion_transfer.training.batches import iterate_batches
from fashion_transfer.training.loop import TrainState, model_input, train_one_epoch, train_step
from fashion_transfer.training.stages import RunContext, build_state
from fashion_transfer.utils import amp_dtype


def compose_config(overrides: list[str]) -> DictConfig:
    """conf/config.yaml with overrides, as `python -m fashion_transfer.train` would see it."""
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose("config", overrides=["logger=none", *overrides])
    finally:
        GlobalHydra.instance().clear()


def make_state(cfg: DictConfig, stage: str, domain: Domain, device: torch.device) -> TrainState:
    """A fresh model (seeded like a run) and the train state the strategy's `stage` would get."""
    torch.manual_seed(cfg.seed)
    model = instantiate(cfg.model, num_classes=domain.num_classes).to(device)
    ctx = RunContext(
        cfg=cfg,
        device=device,
        run_dir=Path(tempfile.gettempdir()),  # build_state writes nothing there
        tracker=NullTracker(),
        record={},
        amp_dtype=amp_dtype(cfg.train.get("amp", "auto"), device),
    )
    return build_state(ctx, cfg.strategy.stages[stage], model, domain, stage)


def model_only_case(name: str, state: TrainState, split: Split, steps: int) -> Case:
    """The limit: the suite's train step on batches that already sit on the device, ready."""
    batches = [
        (model_input(state.model, x), y)
        for x, y in iterate_batches(split, state.batch_size, state.device, max_batches=4)
    ]

    def run() -> int:
        state.model.train()
        for i in range(steps):
            train_step(state, *batches[i % len(batches)])
        return steps * state.batch_size

    return Case(name, run, state.batch_size, "forward+backward+step, batches in device memory")


def suite_case(name: str, state: TrainState, split: Split, steps: int, note: str) -> Case:
    """The suite's epoch function, capped at `steps` batches per call (a new epoch seed each)."""
    seeds = itertools.count(1)
    state.max_steps = steps
    images = min(steps, len(split) // state.batch_size) * state.batch_size

    def run() -> int:
        train_one_epoch(state, split, next(seeds))
        return images

    return Case(name, run, state.batch_size, note)


def loader_case(name: str, state: TrainState, loader, steps: int, note: str) -> Case:
    """A hand-written loop: batches from a torch DataLoader, then the same train step.

    The iterator lives across rounds, as across a tutorial's epoch; with workers it keeps a few
    batches (prefetch_factor x num_workers) ready while other cases run. That flatters it only
    where its workers are slower than the model, which the bench would show anyway.
    """
    batches = iter(())

    def run() -> int:
        nonlocal batches
        state.model.train()
        images = 0
        for _ in range(steps):
            try:
                x, y = next(batches)
            except StopIteration:  # a new epoch, as the tutorial's outer loop would start
                batches = iter(loader)
                x, y = next(batches)
            x, y = x.to(state.device), y.to(state.device)
            train_step(state, model_input(state.model, x), y)
            images += len(y)
        return images

    return Case(name, run, loader.batch_size, note)
