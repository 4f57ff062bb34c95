"""Types of the nodes users set most: stage, budget, transfer, train and the data sets.

Each YAML file that fills one of these extends its schema through its defaults list (Hydra 1.3's
"Structured Config schema" pattern), so a typo'd key or a value of the wrong type fails when the
config is composed, with Hydra's message. The schemas hold types only (`???`): the values live in
the YAML files. Ranges and rules between keys are config_check.py's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

# OmegaConf 2.3 reads the annotations at runtime and knows Optional[...], not `X | None`.
# ruff: noqa: UP007, UP045


@dataclass
class StageConfig:
    """One stage of a strategy (conf/stage/*.yaml, at strategy.stages.<name>)."""

    data: str = MISSING  # the data set slot it trains on: source or target
    epochs: int = MISSING
    batch_size: int = MISSING
    lr: Optional[float] = MISSING  # null: optimizer.lr
    unfreeze_after: int = MISSING  # epochs with the backbone frozen
    backbone_lr_factor: float = MISSING
    ema_decay: Optional[float] = MISSING  # null: no weight average
    schedule: dict[str, Any] = MISSING  # overrides of the schedule group for this stage


@dataclass
class BudgetEntry:
    """A domain's training budget, read by the stages through interpolations."""

    epochs: int = MISSING
    batch_size: int = MISSING
    lr: Optional[float] = MISSING
    ema_decay: Optional[float] = MISSING


@dataclass
class BudgetConfig:
    source: BudgetEntry = field(default_factory=BudgetEntry)
    adapter_source: BudgetEntry = field(default_factory=BudgetEntry)
    target: BudgetEntry = field(default_factory=BudgetEntry)


@dataclass
class TransferConfig:
    """The adapter strategies' stage 2, read by conf/stage/adapter_target.yaml."""

    unfreeze_after: int = MISSING
    backbone_lr_factor: float = MISSING
    input_adapter: str = MISSING  # learned | timm_stem (config_check names the choices)


@dataclass
class TrainConfig:
    label_smoothing: float = MISSING
    eval_batch_size: int = MISSING
    amp: Any = MISSING  # auto, true or false (OmegaConf has no union of str and bool)
    log_every: int = MISSING
    max_steps_per_epoch: Optional[int] = MISSING
    threads: Optional[int] = MISSING


@dataclass
class IdxAugment:
    hflip: bool = MISSING
    translate: int = MISSING
    erase_p: float = MISSING
    erase_size: float = MISSING


@dataclass
class FashionMNISTConfig:
    """Data sets in Fashion-MNIST's idx format (conf/dataset/fashion_mnist.yaml and its kin)."""

    _target_: str = MISSING
    name: str = MISSING
    root: str = MISSING
    download: bool = MISSING
    val_size: int = MISSING
    split_seed: int = MISSING
    train_fraction: float = MISSING
    fraction_seed: int = MISSING
    synthetic: bool = MISSING
    augment: IdxAugment = field(default_factory=IdxAugment)


@dataclass
class PhotoAugment:
    hflip: bool = MISSING
    translate: int = MISSING


@dataclass
class DeepFashionConfig:
    """Data sets in DeepFashion's layout (conf/dataset/deepfashion.yaml and its kin)."""

    _target_: str = MISSING
    name: str = MISSING
    synthetic: bool = MISSING
    root: str = MISSING
    resolution: int = MISSING
    view: str = MISSING
    crop_margin: float = MISSING
    pad_square: bool = MISSING
    invert_background: Any = MISSING  # auto, true or false
    fmnist_background: str = MISSING
    dct_scaling: bool = MISSING
    label_space: str = MISSING
    label_map: Any = MISSING  # the label_map node (an interpolation of it)
    train_fraction: float = MISSING
    fraction_seed: int = MISSING
    cache: bool = MISSING
    cache_dir: str = MISSING
    max_bad_fraction: float = MISSING
    workers: int = MISSING
    augment: PhotoAugment = field(default_factory=PhotoAugment)


# The root's typed nodes; the root itself stays open to the groups' nodes.
ROOT_SCHEMA = {"budget": BudgetConfig, "transfer": TransferConfig, "train": TrainConfig}
SCHEMAS = {  # (group, name) as the defaults lists name them
    (None, "config_schema"): ROOT_SCHEMA,
    ("stage", "stage_schema"): StageConfig,
    ("dataset", "fashion_mnist_schema"): FashionMNISTConfig,
    ("dataset", "deepfashion_schema"): DeepFashionConfig,
}


def register_schemas() -> None:
    """Store the schemas in Hydra's ConfigStore (idempotent)."""
    store = ConfigStore.instance()
    for (group, name), node in SCHEMAS.items():
        store.store(group=group, name=name, node=node)
