"""Reject a bad configuration before any data is read or model built: one line naming the key."""

from __future__ import annotations

from omegaconf import DictConfig

from fashion_transfer.errors import ConfigError


def _positive(value, key: str) -> None:
    if value is None or value <= 0:
        raise ConfigError(f"{key}={value}: must be positive")


def check_config(cfg: DictConfig) -> None:
    """Cheap checks of the values a typo most often breaks."""
    stages = cfg.strategy.get("stages")
    if not stages:
        raise ConfigError(f"strategy={cfg.strategy.get('name')}: has no stages")
    for name, stage in stages.items():
        key = f"strategy.stages.{name}"
        if stage.data not in ("source", "target"):
            raise ConfigError(f"{key}.data={stage.data}: must be 'source' or 'target'")
        _positive(stage.epochs, f"{key}.epochs")
        _positive(stage.batch_size, f"{key}.batch_size")
        lr = stage.get("lr")
        _positive(
            cfg.optimizer.lr if lr is None else lr,
            f"{key}.lr" if lr is not None else "optimizer.lr",
        )
        if not 0 <= stage.unfreeze_after <= stage.epochs:
            raise ConfigError(
                f"{key}.unfreeze_after={stage.unfreeze_after}: must be between 0 and the stage's "
                f"epochs ({stage.epochs})"
            )
        _positive(stage.backbone_lr_factor, f"{key}.backbone_lr_factor")
        fraction = cfg[stage.data].get("train_fraction", 1.0)
        if not 0 < fraction <= 1:
            raise ConfigError(f"{stage.data}.train_fraction={fraction}: must be in (0, 1]")
    _positive(cfg.train.eval_batch_size, "train.eval_batch_size")
