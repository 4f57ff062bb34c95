"""Fashion-MNIST cases: the model's limit, the suite's epoch, and the tutorial DataLoader loop."""

from __future__ import annotations

from pathlib import Path

import torch
from hydra.errors import HydraException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from fashion_transfer.bench.setup import loader_case, make_state, model_only_case, suite_case
from fashion_transfer.bench.timing import Case
from fashion_transfer.data.base import Domain
from fashion_transfer.errors import UserError, in_slot

REFERENCE_BATCH = 64  # what the tutorials (and the public repository's faster setting) use


def reference_loader(root: Path, batch_size: int, workers: int):
    """Fashion-MNIST as tutorials load it: torchvision's dataset, ToTensor, a shuffling DataLoader."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    data = datasets.FashionMNIST(
        str(root), train=True, download=False, transform=transforms.ToTensor()
    )
    return DataLoader(data, batch_size=batch_size, shuffle=True, num_workers=workers)


def fmnist_cases(cfg: DictConfig, domain: Domain, device: torch.device, steps: int) -> list[Case]:
    """Cases at the suite's batch size and at the tutorials' batch size 64, same model config.

    `steps` is the number of batches of the suite's size per timed round; the batch-64 cases run
    as many images.
    """
    batch = int(cfg.strategy.stages.source.batch_size)
    small = _with_batch(cfg, REFERENCE_BATCH)
    steps_small = max(1, steps * batch // REFERENCE_BATCH)
    root = Path(cfg.source.root).parent  # torchvision wants the folder that holds FashionMNIST/

    def state(c: DictConfig):
        return make_state(c, "source", domain, device)

    cases = [
        model_only_case(f"fmnist/model_only/b{batch}", state(cfg), domain.train, steps),
        suite_case(
            f"fmnist/suite/b{batch}",
            state(cfg),
            domain.train,
            steps,
            "train_one_epoch: index uint8 tensor, to float, augment, step",
        ),
    ]
    if batch != REFERENCE_BATCH:
        cases.append(
            model_only_case(
                f"fmnist/model_only/b{REFERENCE_BATCH}", state(small), domain.train, steps_small
            )
        )
    for workers in (0, 2):
        cases.append(
            loader_case(
                f"fmnist/reference/b{REFERENCE_BATCH}_w{workers}",
                state(small),
                reference_loader(root, REFERENCE_BATCH, workers),
                steps_small,
                f"torchvision FashionMNIST + ToTensor + DataLoader(num_workers={workers})",
            )
        )
    return cases


def load_domain(cfg: DictConfig) -> Domain:
    """The source data set as training loads it; a loader's error names the `source.*` keys."""
    try:
        return instantiate(cfg.source)
    except HydraException as exc:  # instantiate wraps the loader's own error
        if isinstance(exc.__cause__, UserError):
            raise in_slot(exc.__cause__, "source") from None
        raise


def _with_batch(cfg: DictConfig, batch: int) -> DictConfig:
    """A copy of cfg whose source stage trains at `batch` (same lr and schedule otherwise)."""
    return OmegaConf.merge(cfg, {"strategy": {"stages": {"source": {"batch_size": batch}}}})
