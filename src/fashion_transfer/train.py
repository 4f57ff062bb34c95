"""Training entrypoint: `python -m fashion_transfer.train [key=value ...]` (Hydra).

`main` only turns errors into one-line messages and exit codes; `train(cfg)` does the work and
returns the run's headline metrics, so tests and sweepers can call it directly.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from fashion_transfer.config_check import check_group_choices
from fashion_transfer.errors import ConfigError, TrainingFailed, UserError
from fashion_transfer.jobs import resolve_job_dirname
from fashion_transfer.training.run import run_strategy

log = logging.getLogger("fashion_transfer")
CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
# conf/config.yaml names sweep job folders with it; registered before Hydra composes.
OmegaConf.register_new_resolver("ft_job_dir", resolve_job_dirname, replace=True)


def _multirun() -> bool:
    try:
        return HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:  # composed without Hydra's runtime (tests, notebooks)
        return False


def train(cfg: DictConfig) -> dict[str, float | None]:
    """Seed, load data, build the model, run the strategy's stages, evaluate; return metrics."""
    return run_strategy(cfg)


@hydra.main(version_base="1.3", config_path="../../conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Hydra entrypoint; the returned value is what a sweeper would optimise."""
    started = time.perf_counter()
    try:
        metrics = train(cfg)
    except (UserError, TrainingFailed) as exc:
        if _multirun():  # let Hydra record this job as failed and run the others
            log.error("%s", exc)
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    log.info(
        "finished in %.1f s; results in %s",
        time.perf_counter() - started,
        Path(cfg.paths.output_dir) / "metrics.json",
    )
    return metrics.get(cfg.get("optimized_metric", "test_acc"))


def cli() -> None:
    """The command: unknown config-group choices get a one-line error before Hydra composes."""
    try:
        check_group_choices(sys.argv[1:], CONF_DIR)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    main()


if __name__ == "__main__":
    cli()
