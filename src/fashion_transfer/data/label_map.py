"""DeepFashion categories -> the six Fashion-MNIST classes with a counterpart (the shared space).

Built from `conf/label_map/*.yaml` by name, checked against the class names the loaders actually
return, and turned into index tensors so labels, predictions and logits map with one gather.
Unmapped means -1: such labels are left out of shared-space scores, and a prediction of an unmapped
category (or of Sandal/Sneaker/Bag/Ankle boot) is simply wrong there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from omegaconf import DictConfig, OmegaConf

from fashion_transfer.errors import ConfigError

DEFAULT_ORIGIN = "conf/label_map/deepfashion_to_fmnist.yaml"


@dataclass(frozen=True)
class LabelMap:
    """Index tensors between the target (DeepFashion), source (Fashion-MNIST) and shared spaces."""

    shared_classes: list[str]  # in Fashion-MNIST order
    target_to_shared: torch.Tensor  # int64 (n_target,), -1 where unmapped
    target_to_source: torch.Tensor  # int64 (n_target,), Fashion-MNIST index or -1
    source_to_shared: torch.Tensor  # int64 (n_source,), -1 for classes without a counterpart

    @classmethod
    def from_config(
        cls,
        cfg: Mapping | DictConfig,
        target_classes: Sequence[str],
        source_classes: Sequence[str],
        origin: str = DEFAULT_ORIGIN,
    ) -> LabelMap:
        """Check the map (known names, each target name exactly once) and build the tensors."""
        cfg = (
            OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
        )
        groups, unmapped = _groups(cfg, origin)
        owner = _owners(groups, unmapped, target_classes, origin)
        source_index = _source_index(cfg, source_classes, origin)
        for shared in groups:
            if shared not in source_index:
                raise ConfigError(
                    f"{origin}: classes.{shared} is not a Fashion-MNIST class name "
                    f"(known: {', '.join(source_classes)})"
                )
        shared_classes = sorted(groups, key=source_index.__getitem__)
        shared_index = {name: i for i, name in enumerate(shared_classes)}
        return cls(
            shared_classes,
            _long([shared_index.get(owner[name], -1) for name in target_classes]),
            _long([source_index.get(owner[name], -1) for name in target_classes]),
            _long([shared_index.get(name, -1) for name in source_classes]),
        )

    def labels_from_target(self, labels: torch.Tensor) -> torch.Tensor:
        """DeepFashion labels -> shared labels (-1: leave the image out)."""
        return self.target_to_shared.to(labels.device)[labels]

    def labels_from_source(self, labels: torch.Tensor) -> torch.Tensor:
        """Fashion-MNIST labels -> shared labels (-1 for Sandal, Sneaker, Bag, Ankle boot)."""
        return self.source_to_shared.to(labels.device)[labels]

    def predictions_from_target(self, pred_or_logits: torch.Tensor) -> torch.Tensor:
        """A 50-way prediction (indices, or logits (B, 50)) -> shared index, -1 if unmapped."""
        return self.labels_from_target(_argmax(pred_or_logits))

    def predictions_from_source(self, pred_or_logits: torch.Tensor) -> torch.Tensor:
        """A 10-way prediction (indices, or logits (B, 10)) -> shared index, -1 if no counterpart."""
        return self.labels_from_source(_argmax(pred_or_logits))

    def logits_from_target(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, 50) -> (B, 6): each shared class scores as its best category (decision among the six)."""
        index = self.target_to_shared.to(logits.device)
        out = logits.new_full((logits.shape[0], len(self.shared_classes)), float("-inf"))
        for k in range(len(self.shared_classes)):
            members = torch.nonzero(index == k).flatten()
            if len(members):
                out[:, k] = logits[:, members].max(dim=1).values
        return out

    def logits_from_source(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, 10) -> (B, 6): the columns of the six shared classes, in shared order."""
        columns = torch.nonzero(self.source_to_shared >= 0).flatten()
        order = self.source_to_shared[columns].argsort()
        return logits[:, columns[order].to(logits.device)]


def _long(values: list[int]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.int64)


def _source_index(cfg: dict, source_classes: Sequence[str], origin: str) -> dict[str, int]:
    """Fashion-MNIST name -> index; the map's own `fmnist_classes`, if given, must agree."""
    listed = cfg.get("fmnist_classes")
    if listed is not None and list(listed) != list(source_classes):
        raise ConfigError(
            f"{origin}: fmnist_classes {listed} differ from the source data set's classes "
            f"{list(source_classes)}; list them in label-index order"
        )
    return {name: i for i, name in enumerate(source_classes)}


def _argmax(pred_or_logits: torch.Tensor) -> torch.Tensor:
    return pred_or_logits.argmax(dim=1) if pred_or_logits.ndim == 2 else pred_or_logits.long()


def _groups(cfg: dict, origin: str) -> tuple[dict[str, list[str]], list[str]]:
    groups, unmapped = cfg.get("classes"), cfg.get("unmapped")
    if not isinstance(groups, dict) or not groups:
        raise ConfigError(
            f"{origin}: needs a `classes:` mapping of Fashion-MNIST class -> DeepFashion names"
        )
    if not isinstance(unmapped, list):
        raise ConfigError(
            f"{origin}: needs an `unmapped:` list (may be empty) of DeepFashion names"
        )
    for shared, names in groups.items():
        if not isinstance(names, list):
            raise ConfigError(
                f"{origin}: classes.{shared} must be a list of DeepFashion category names"
            )
    return groups, unmapped


def _owners(
    groups: dict[str, list[str]], unmapped: list[str], target_classes: Sequence[str], origin: str
) -> dict[str, str | None]:
    """DeepFashion name -> its shared class (None if unmapped); every name exactly once."""
    known = set(target_classes)
    owner: dict[str, str | None] = {}
    entries = [(name, shared) for shared, names in groups.items() for name in names]
    entries += [(name, None) for name in unmapped]
    for name, shared in entries:
        where = f"classes.{shared}" if shared else "unmapped"
        if name not in known:
            raise ConfigError(f"{origin}: unknown DeepFashion category {name!r} in {where}")
        if name in owner:
            raise ConfigError(
                f"{origin}: DeepFashion category {name!r} appears twice (again in {where})"
            )
        owner[name] = shared
    missing = [name for name in target_classes if name not in owner]
    if missing:
        raise ConfigError(
            f"{origin}: DeepFashion categories {', '.join(missing)} are neither mapped nor listed "
            "under unmapped; add each to one of them"
        )
    return owner
