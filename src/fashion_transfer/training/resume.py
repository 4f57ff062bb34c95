"""What a run folder already holds decides what a job does there: train, resume, report or refuse.

- A folder holding results (metrics.json, checkpoints/, ...) without the suite's marker
  (`.fashion-transfer-run`) is somebody else's: refused, whatever `resume`/`overwrite` say.
- Nothing there, or `overwrite=true`: train from scratch (overwrite first deletes the earlier
  run's metrics.json, samples.npz, predictions.npz, checkpoints/, wandb/, wandb_id.txt and
  wandb_step.json).
- A completed run (metrics.json status `completed`): `resume=true` (the default) reports its
  result and trains nothing; `resume=false` is refused. A finished run is only ever replaced with
  `overwrite=true`.
- An unfinished run (killed, pre-empted, failed) with checkpoints/last.pt: `resume=true` continues
  from it, inside the stage and after the epoch it had finished; `resume=false` starts it again.

Resuming, or reporting, needs the same experiment: a folder whose checkpoint was made with another
config (another seed, budget, model...) is refused rather than mixed. Hydra rewrites `.hydra/` of a
folder it launches into before our code runs, so a run keeps a copy (checkpoints/hydra/) that is
put back when a later launch into its folder trains nothing.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from fashion_transfer.atomic import remove_partial_files
from fashion_transfer.errors import ConfigError
from fashion_transfer.jobs import flat, is_free
from fashion_transfer.tracking.wandb_run import STEP_FILE
from fashion_transfer.training.checkpoint import load_checkpoint
from fashion_transfer.training.run_lock import claim

log = logging.getLogger(__name__)

RESULTS = ("metrics.json", "samples.npz", "predictions.npz", "checkpoints")
TRACKING = ("wandb", "wandb_id.txt", STEP_FILE)  # a run started again gets a new W&B run


@dataclass
class Start:
    """How a job begins: report a finished run, continue an unfinished one, or train afresh."""

    previous: dict | None = None  # a completed run's metrics.json: report it, train nothing
    payload: dict | None = None  # checkpoints/last.pt of an unfinished run: continue from it


def read_record(run_dir: Path) -> dict | None:
    """The folder's metrics.json, or None (absent; unreadable counts as absent: never completed)."""
    try:
        return json.loads((run_dir / "metrics.json").read_text())
    except (OSError, ValueError):
        return None


def config_changes(old: dict, new: dict) -> list[str]:
    """`key: old -> new` for every setting that makes `new` another experiment than `old`."""
    a, b = flat(old), flat(new)
    changed = []
    for key in sorted(a.keys() | b.keys()):
        if is_free(key):  # where things are, how they are shown: the same experiment
            continue
        if a.get(key, "<unset>") != b.get(key, "<unset>"):
            changed.append(f"{key}: {a.get(key, '<unset>')} -> {b.get(key, '<unset>')}")
    return changed


def _hydra_dir(run_dir: Path) -> Path:
    from hydra.core.hydra_config import HydraConfig

    try:
        subdir = HydraConfig.get().output_subdir
    except ValueError:  # composed without Hydra's runtime (tests)
        subdir = ".hydra"
    return run_dir / str(subdir or ".hydra")


def keep_hydra_config(run_dir: Path) -> None:
    """Copy `.hydra/` of the run that is about to train into checkpoints/hydra/."""
    src = _hydra_dir(run_dir)
    if src.is_dir():
        shutil.copytree(src, run_dir / "checkpoints" / "hydra", dirs_exist_ok=True)


def _restore_hydra_config(run_dir: Path) -> None:
    kept = run_dir / "checkpoints" / "hydra"
    if kept.is_dir():
        shutil.copytree(kept, _hydra_dir(run_dir), dirs_exist_ok=True)


def _clear(run_dir: Path, names: tuple[str, ...]) -> None:
    for name in names:
        path = run_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _load_last(last: Path) -> dict:
    try:
        return load_checkpoint(last)
    except Exception as exc:  # torn by a full disk, or written by another version
        raise ConfigError(
            f"{last}: cannot be read ({type(exc).__name__}); overwrite=true deletes the run's "
            "results and trains it again"
        ) from exc


def _same_experiment(run_dir: Path, payload: dict | None, config: dict) -> None:
    if payload is None:
        return
    changes = config_changes(json.loads(payload["config"]), config)
    if changes:
        more = f" and {len(changes) - 3} more" if len(changes) > 3 else ""
        raise ConfigError(
            f"{run_dir} holds a run made with another config ({'; '.join(changes[:3])}{more}); "
            "use another run folder, or overwrite=true to delete that run and train again"
        )


def prepare_run_dir(cfg: DictConfig, run_dir: Path, config: dict) -> Start:
    """Decide, from what `run_dir` holds and `resume`/`overwrite`, how this job begins."""
    claim(run_dir)  # a folder whose files the suite did not write is refused, never cleared
    record = read_record(run_dir)
    last = run_dir / "checkpoints" / "last.pt"
    if cfg.get("overwrite", False):
        if record is not None or last.exists():
            log.warning("overwrite=true: deleting the earlier run's results in %s", run_dir)
        _clear(run_dir, RESULTS + TRACKING)
        return Start()
    if record is not None and record.get("status") == "completed":
        _restore_hydra_config(run_dir)
        if not cfg.resume:
            raise ConfigError(
                f"{run_dir} already holds a completed run; resume=true reports its result, "
                "overwrite=true deletes it and trains again"
            )
        _same_experiment(run_dir, _load_last(last) if last.exists() else None, config)
        log.info("%s already holds a completed run; reporting its result", run_dir)
        return Start(previous=record)
    if not cfg.resume:
        if record is not None or last.exists():
            log.warning("resume=false: starting the unfinished run in %s again", run_dir)
        _clear(run_dir, RESULTS + TRACKING)
        return Start()
    if not last.exists():  # killed before its first epoch ended: nothing to continue from
        _clear(run_dir, RESULTS)
        return Start()
    remove_partial_files(last.parent)
    payload = _load_last(last)
    _same_experiment(run_dir, payload, config)
    log.info("resuming from %s (stage %s, epoch %d)", last, payload["stage"], payload["epoch"])
    return Start(payload=payload)
