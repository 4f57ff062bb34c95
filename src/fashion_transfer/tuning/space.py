"""A tuning study's trials: each hyperparameter of `tune.space` drawn for trial k from the trial seed.

The space is declared in conf/experiment/tune.yaml (`tune.space`), one entry per hyperparameter:
`{low, high, log, integer, strategies}` - log-uniform when `log`, an integer uniform on
[low, high] when `integer`, and `strategies` the strategies it applies to (null: all). Hydra's
basic sweeper runs `tune.trial=0..N-1`; the config reads the values through the resolver
`${ft_trial:NAME}`, so every trial is an ordinary run whose settings are fixed by
(tune.seed, tune.trial) alone. Each hyperparameter has its own random stream (seeded by the trial
seed, the trial index and the name), so trial k has the same learning rate for every strategy
(paired trials) and adding a hyperparameter to the space does not move the others' draws.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np

EDGE_FRACTION = 0.1
"""A pick within this fraction of the range (in log space for log parameters) of a bound is on
the edge of the search space: the best value may lie outside what was searched."""


def _check(name: str, spec: Mapping[str, Any]) -> tuple[float, float]:
    low, high = spec.get("low"), spec.get("high")
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high))
    if not numbers or not low < high or (spec.get("log") and low <= 0):
        raise ValueError(
            f"tune.space.{name}: needs numbers low < high (low > 0 when log), got {low}, {high}"
        )
    return float(low), float(high)


def draw(name: str, spec: Mapping[str, Any], seed: int, trial: int) -> float | int:
    """Hyperparameter `name` of trial `trial`: a pure function of (seed, trial, name, spec)."""
    low, high = _check(name, spec)
    rng = np.random.default_rng([int(seed), int(trial), zlib.crc32(name.encode())])
    if spec.get("integer"):
        return int(rng.integers(int(low), int(high), endpoint=True))
    if spec.get("log"):
        return float(math.exp(rng.uniform(math.log(low), math.log(high))))
    return float(rng.uniform(low, high))


def applies(spec: Mapping[str, Any], strategy: str) -> bool:
    """Whether a hyperparameter of the space is one `strategy` has (`strategies`: null = all)."""
    wanted = spec.get("strategies")
    return wanted is None or strategy in wanted


def draw_trial(
    space: Mapping[str, Mapping[str, Any]], seed: int, trial: int, strategy: str | None = None
) -> dict[str, float | int]:
    """All hyperparameters of one trial (only those `strategy` has, when given)."""
    return {
        name: draw(name, spec, seed, trial)
        for name, spec in space.items()
        if strategy is None or applies(spec, strategy)
    }


def on_edge(spec: Mapping[str, Any], value: float) -> bool:
    """Whether `value` lies in the outer EDGE_FRACTION of the range at either end."""
    low, high = float(spec["low"]), float(spec["high"])
    if spec.get("integer"):
        return value <= low or value >= high
    scale = math.log if spec.get("log") else float
    position = (scale(value) - scale(low)) / (scale(high) - scale(low))
    return position <= EDGE_FRACTION or position >= 1 - EDGE_FRACTION


def resolve_trial(name: str, *, _root_: Any) -> float | int:
    """OmegaConf resolver `ft_trial`: value `name` of the trial `tune.trial` of `tune.seed`."""
    from omegaconf import OmegaConf

    tune = _root_.tune
    space = OmegaConf.to_container(tune.space, resolve=True)
    if name not in space:
        raise KeyError(f"${{ft_trial:{name}}}: tune.space has no {name} ({', '.join(space)})")
    return draw(name, space[name], int(tune.seed), int(tune.trial))


def register_resolver() -> None:
    """Make `${ft_trial:NAME}` available to Hydra's composition (train.py calls it at import)."""
    from omegaconf import OmegaConf

    OmegaConf.register_new_resolver("ft_trial", resolve_trial, replace=True)
