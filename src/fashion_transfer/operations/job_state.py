"""One job's state from what its run folder holds: metrics.json, the run lock, checkpoints/last.pt.

- completed: metrics.json says so;
- running: a live process holds the folder's run lock (whatever metrics.json says);
- failed: metrics.json says so, with its one-line `failure_reason`;
- interrupted: the folder was started and nothing finished it (killed, pre-empted, the machine
  went down): metrics.json still says `running`, or was never written;
- never started: a job of the sweep with no folder.

Interrupted and failed jobs resume from checkpoints/last.pt when it exists (training/resume.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fashion_transfer import record as run_record
from fashion_transfer.operations.checkpoint_meta import read_point
from fashion_transfer.record import STATUS_FIGURES, RunRecord
from fashion_transfer.training.run_lock import MARKER, holder_pid, lock_is_held

COMPLETED, RUNNING, INTERRUPTED, FAILED, NEVER = (
    "completed",
    "running",
    "interrupted",
    "failed",
    "never started",
)
STATES = (COMPLETED, RUNNING, INTERRUPTED, FAILED, NEVER)
UNFINISHED = (INTERRUPTED, FAILED, NEVER)  # what a resume command launches again


@dataclass
class Job:
    """One job of a sweep (or one single run) and where it stands."""

    overrides: list[str]
    folder: Path | None
    strategy: str | None = None
    seed: int | None = None
    state: str = NEVER
    detail: str = ""  # the failure reason, where an interrupted run resumes from, its progress
    resume_from: dict | None = None  # {"stage", "epoch"} of checkpoints/last.pt
    wall_time_s: float | None = None
    headline: dict | None = None  # {"key", "value"}
    varies: dict[str, str] = field(default_factory=dict)  # settings that vary across the sweep
    wandb_unsynced: list[Path] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder) if self.folder else None,
            "strategy": self.strategy,
            "seed": self.seed,
            "varies": self.varies,
            "state": self.state,
            "detail": self.detail,
            "resume_from": self.resume_from,
            "wall_time_s": self.wall_time_s,
            "headline": self.headline,
            "overrides": self.overrides,
            "wandb_unsynced": [str(p) for p in self.wandb_unsynced],
        }


def is_run_dir(path: Path) -> bool:
    """A run folder: the suite's marker, Hydra's `.hydra/` or a metrics.json."""
    return (
        (path / MARKER).is_file() or (path / ".hydra").is_dir() or (path / "metrics.json").is_file()
    )


def read_yaml(path: Path) -> Any:
    """Plain YAML: Hydra's files keep `${...}` interpolations that only resolve inside Hydra."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None


def folder_overrides(folder: Path) -> list[str] | None:
    """The job's task overrides as Hydra recorded them (`.hydra/overrides.yaml`)."""
    found = read_yaml(folder / ".hydra" / "overrides.yaml")
    return [str(o) for o in found] if isinstance(found, list) else None


def override_value(overrides: list[str], key: str) -> str | None:
    for item in overrides:
        k, sep, value = item.partition("=")
        if sep and k.lstrip("+") == key:
            return value
    return None


def _headline(record: RunRecord) -> dict | None:
    for key in STATUS_FIGURES:
        value = getattr(record, key)
        if isinstance(value, int | float):
            return {"key": key, "value": float(value)}
    return None


def _read_record(folder: Path) -> RunRecord | None:
    """The folder's run record; None when absent or not readable as one."""
    try:
        return run_record.read(folder / "metrics.json")
    except (OSError, run_record.RecordError, run_record.SchemaMismatch):
        return None


def _identity(job: Job, record: RunRecord | None) -> None:
    """Strategy and seed: metrics.json, else the job's resolved config, else its overrides."""
    config = read_yaml(job.folder / ".hydra" / "config.yaml") if job.folder else None
    config = config if isinstance(config, dict) else {}
    strategy = config.get("strategy")
    candidates = [
        record.strategy if record else None,
        strategy.get("name") if isinstance(strategy, dict) else None,
        override_value(job.overrides, "strategy"),
    ]
    job.strategy = job.strategy or next((c for c in candidates if c), None)
    for seed in (
        record.seed if record else None,
        config.get("seed"),
        override_value(job.overrides, "seed"),
    ):
        if seed is not None and str(seed).lstrip("-").isdigit():
            job.seed = int(seed)
            break


def _resume_point(job: Job) -> str:
    """Where the job continues when launched again, from checkpoints/last.pt."""
    last = job.folder / "checkpoints" / "last.pt"
    if not last.is_file():
        return "no checkpoint yet: starts again from the beginning"
    try:
        point = read_point(last)
    except ValueError as exc:
        return f"checkpoints/last.pt unreadable ({exc}): overwrite=true trains it again"
    job.resume_from = {"stage": point.stage, "epoch": point.epoch}
    return f"resumable from epoch {point.epoch} of stage {point.stage}"


def unsynced_wandb(folder: Path) -> list[Path]:
    """Offline W&B runs in the folder that `wandb sync` has not uploaded (no `.wandb.synced`)."""
    runs = []
    for run in sorted((folder / "wandb").glob("offline-run-*")):
        logs = list(run.glob("run-*.wandb"))
        if logs and not all(log.with_suffix(".wandb.synced").exists() for log in logs):
            runs.append(run)
    return runs


def read_job(folder: Path, overrides: list[str] | None = None) -> Job:
    """The state of the job whose run folder is `folder` (which exists)."""
    job = Job(overrides=overrides or folder_overrides(folder) or [], folder=folder)
    record = _read_record(folder)
    _identity(job, record)
    status = record.status if record else None
    job.wall_time_s = record.wall_time_s if record else None
    job.wandb_unsynced = unsynced_wandb(folder)
    if lock_is_held(folder):
        job.state = RUNNING
        history = record.history if record else []
        pid = holder_pid(folder)
        alive = f"alive (pid {pid})" if pid else "alive"
        job.detail = (
            f"{alive}; epoch {history[-1].epoch} of stage {history[-1].stage} done"
            if history
            else f"{alive}; no epoch finished yet"
        )
    elif status == COMPLETED:
        job.state = COMPLETED
        job.headline = _headline(record)
    elif status == FAILED:
        job.state = FAILED
        reason = record.failure_reason or "no failure_reason recorded"
        job.detail = reason
        point = _resume_point(job)
        if job.resume_from:
            job.detail = f"{reason} ({point})"
    else:
        job.state = INTERRUPTED
        job.detail = _resume_point(job)
        if record is None and (folder / "metrics.json").exists():
            job.detail = f"metrics.json unreadable; {job.detail}"
    return job
