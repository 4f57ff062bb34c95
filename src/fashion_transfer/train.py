"""Training entrypoint: `python -m fashion_transfer.train [key=value ...]` (Hydra).

`main` only turns errors into one-line messages and exit codes; `train(cfg)` does the work and
returns the run's headline metrics, so tests and sweepers can call it directly.
"""

from __future__ import annotations

import logging
import shlex
import sys
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from fashion_transfer import sweep_outcome
from fashion_transfer.conf import CONF_DIR  # registers the schemas and resolvers
from fashion_transfer.errors import TrainingFailed, UserError
from fashion_transfer.preflight import check_command_line
from fashion_transfer.training.run import run_strategy

log = logging.getLogger("fashion_transfer")


def _multirun() -> bool:
    try:
        return HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:  # composed without Hydra's runtime (tests, notebooks)
        return False


def train(cfg: DictConfig) -> dict[str, float | None]:
    """Seed, load data, build the model, run the strategy's stages, evaluate; return metrics."""
    return run_strategy(cfg)


def _resume_command(flag: str, folder: Path) -> str:
    """The command line that was typed, pointed at `folder` (`hydra.run.dir` / `hydra.sweep.dir`)."""
    args = [a for a in sys.argv[1:] if not a.startswith(f"{flag}=")]
    return shlex.join(["python", "-m", "fashion_transfer.train", *args, f"{flag}={folder}"])


def _headline(metrics: dict) -> str:
    shown = ("test_acc", "source_test_acc", "target_top1", "shared_acc", "reverse_acc")
    return ", ".join(f"{k} {100 * metrics[k]:.2f}%" for k in shown if metrics.get(k) is not None)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Hydra entrypoint; the returned value is what a sweeper would optimise."""
    started = time.perf_counter()
    run_dir = Path(cfg.paths.output_dir).resolve()
    try:
        metrics = train(cfg)
    except (UserError, TrainingFailed) as exc:
        if _multirun():  # recorded in its metrics.json; the sweep goes on (sweep_outcome.py)
            log.error("job %s failed: %s", run_dir, exc)
            return None
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        if _multirun():
            raise  # the sweep as a whole is interrupted: cli() says how to resume it
        print(
            f"interrupted: {run_dir} keeps its last checkpoint; resume with: "
            f"{_resume_command('hydra.run.dir', run_dir)}",
            file=sys.stderr,
        )
        sys.exit(130)
    log.info("%s", _headline(metrics) or "no test figures")
    log.info(
        "finished in %.1f s; results in %s", time.perf_counter() - started, run_dir / "metrics.json"
    )
    return metrics.get(cfg.get("optimized_metric", "test_acc"))


def cli() -> None:
    """The command: a bad choice or value of any job gets one line before Hydra starts a job."""
    try:
        check_command_line(sys.argv[1:], CONF_DIR)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    try:
        main()
    except KeyboardInterrupt:  # Ctrl-C inside a sweep (basic launcher): jobs resume in place
        try:
            sweep = Path(str(HydraConfig.get().sweep.dir)).resolve()
        except ValueError:
            sweep = None
        where = f"re-run into {sweep}: {_resume_command('hydra.sweep.dir', sweep)}" if sweep else ""
        print(f"interrupted: finished jobs are kept, the others resume; {where}", file=sys.stderr)
        sys.exit(130)
    sys.exit(sweep_outcome.exit_code)


if __name__ == "__main__":
    cli()
