"""A sweep folder (or a run folder) -> every job it should hold, each with its state.

A Hydra sweep's jobs are what its `multirun.yaml` asks for: the sweeper's `params` plus the task
overrides as typed (`strategy=glob(*) seed=0,1,2`), expanded exactly as Hydra's BasicSweeper does.
A job folder is named by its settings (`fashion_transfer.jobs.job_dirname`), so a job that never
started has a known folder, and a sweep launched again into the same folder (only its unfinished
jobs, see `resume_commands`) finds the others where they are. Folders that no expanded job names
(a launch with other values into the same sweep folder) are jobs of the sweep too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fashion_transfer.errors import UserError
from fashion_transfer.jobs import expand_sweep, job_dirname
from fashion_transfer.operations.job_state import (
    Job,
    folder_overrides,
    is_run_dir,
    override_value,
    read_job,
    read_yaml,
)

MULTIRUN = "multirun.yaml"
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"  # multirun.yaml's name
IDENTITY = ("strategy", "seed")  # shown in their own columns, not among the settings that vary


@dataclass
class Sweep:
    """A Hydra sweep folder, or one run folder (`multirun` False): its jobs and how it was run."""

    path: Path
    multirun: bool
    launch_dir: Path  # hydra.sweep.dir (multirun) or hydra.run.dir of a launch that continues it
    jobs: list[Job] = field(default_factory=list)
    cwd: str | None = None  # where the launch ran: relative paths in its overrides start there
    hydra_overrides: list[str] = field(default_factory=list)  # launcher etc., as typed
    note: str | None = None  # why the expected jobs could not be listed, when they could not


def _conf_dir(hydra: dict) -> Path:
    """The config folder the sweep was composed from, or the installed suite's (for `glob(...)`)."""
    from fashion_transfer.conf import CONF_DIR

    for source in (hydra.get("runtime") or {}).get("config_sources") or []:
        if source.get("provider") == "main" and source.get("schema") == "file":
            path = Path(source.get("path", ""))
            if path.is_dir():
                return path
    return CONF_DIR


def expand_jobs(multirun: dict) -> list[list[str]]:
    """Every job's task overrides, in Hydra's order, from a sweep's multirun.yaml: the sweeper's
    params, then the overrides as typed (`jobs.expand_sweep` does what BasicSweeper does)."""
    hydra = multirun["hydra"]
    params = (hydra.get("sweeper") or {}).get("params") or {}
    arguments = [f"{k}={v}" for k, v in params.items()]
    arguments += [str(o) for o in (hydra.get("overrides") or {}).get("task") or []]
    return expand_sweep(_conf_dir(hydra), arguments)


def _hydra_overrides(hydra: dict, drop: tuple[str, ...]) -> list[str]:
    """The launch's own Hydra overrides (launcher and its settings), less the ones we set."""
    typed = (hydra.get("overrides") or {}).get("hydra") or []
    return [str(o) for o in typed if not str(o).startswith(drop)]


def read_sweep(path: Path) -> Sweep:
    """A sweep folder with its multirun.yaml: expected jobs, then any other job folders."""
    config = read_yaml(path / MULTIRUN)
    if not isinstance(config, dict) or not isinstance(config.get("hydra"), dict):
        raise UserError(
            f"{path / MULTIRUN}: not a Hydra multirun.yaml (unreadable or no `hydra:` section); "
            "pass the sweep folder Hydra wrote, or one of its job folders"
        )
    hydra = config["hydra"]
    sweep = Sweep(
        path=path,
        multirun=True,
        launch_dir=path.resolve(),
        cwd=(hydra.get("runtime") or {}).get("cwd"),
        hydra_overrides=_hydra_overrides(hydra, ("hydra.sweep.dir=", "hydra.mode=")),
    )
    target = (hydra.get("sweeper") or {}).get("_target_")
    expected: list[list[str]] = []
    if target == BASIC_SWEEPER:
        try:
            expected = expand_jobs(config)
        except Exception as exc:  # Hydra's grammar or config errors: say why, list the folders
            sweep.note = f"jobs of {path / MULTIRUN} not expanded ({type(exc).__name__}: {exc})"
    else:
        sweep.note = f"sweeper {target} is not Hydra's basic sweeper: only started jobs are listed"
    folders = {p.name: p for p in sorted(path.iterdir()) if p.is_dir() and is_run_dir(p)}
    by_overrides = {tuple(folder_overrides(p) or ()): p for p in folders.values()}
    claimed: set[Path] = set()
    for overrides in expected:
        name = job_dirname(overrides)
        folder = folders.get(name) or by_overrides.get(tuple(overrides))
        if folder is None or folder in claimed:
            sweep.jobs.append(Job(overrides=overrides, folder=None, detail=f"no folder {name}/"))
            continue
        claimed.add(folder)
        sweep.jobs.append(read_job(folder, overrides))
    sweep.jobs += [read_job(p) for p in folders.values() if p not in claimed]
    defaults = {"strategy": (config.get("strategy") or {}).get("name"), "seed": config.get("seed")}
    for job in sweep.jobs:
        _fill_identity(job, defaults)
    _mark_varying(sweep.jobs)
    return sweep


def read_single(path: Path) -> Sweep:
    """A run folder given on its own: a sweep of one job, relaunched the way it was launched."""
    hydra = (read_yaml(path / ".hydra" / "hydra.yaml") or {}).get("hydra") or {}
    multirun = hydra.get("mode") == "MULTIRUN"
    sweep = Sweep(
        path=path,
        multirun=multirun,
        launch_dir=(path.parent if multirun else path).resolve(),
        cwd=(hydra.get("runtime") or {}).get("cwd"),
        hydra_overrides=_hydra_overrides(
            hydra, ("hydra.sweep.dir=", "hydra.run.dir=", "hydra.mode=")
        ),
    )
    sweep.jobs.append(read_job(path))
    return sweep


def _fill_identity(job: Job, defaults: dict) -> None:
    """A job that never started takes its strategy and seed from its overrides or the sweep's."""
    job.strategy = job.strategy or override_value(job.overrides, "strategy") or defaults["strategy"]
    if job.seed is None:
        seed = override_value(job.overrides, "seed")
        seed = seed if seed is not None else defaults["seed"]
        job.seed = int(seed) if seed is not None and str(seed).lstrip("-").isdigit() else None


def split_override(item: str) -> tuple[str, str]:
    key, _, value = item.partition("=")
    return key, value


def _mark_varying(jobs: list[Job]) -> None:
    """`varies`: each job's value of every setting that differs between the sweep's jobs."""
    settings = [dict(split_override(o) for o in job.overrides) for job in jobs]
    keys = list(dict.fromkeys(k for s in settings for k in s))
    varying = [
        k
        for k in keys
        if k.lstrip("+") not in IDENTITY and len({s.get(k, "(default)") for s in settings}) > 1
    ]
    for job, setting in zip(jobs, settings, strict=True):
        job.varies = {k: setting.get(k, "(default)") for k in varying}


def discover(path: Path) -> list[Sweep]:
    """The sweeps and single runs at or under `path` (a sweep, a run, or a folder of them)."""
    if not path.exists():
        raise UserError(
            f"{path}: no such folder; pass a sweep folder (multirun.yaml) or a run folder"
        )
    if not path.is_dir():
        raise UserError(
            f"{path}: not a folder; pass a sweep folder (multirun.yaml) or a run folder"
        )
    if (path / MULTIRUN).is_file():
        found = [read_sweep(path)]
        nested = [p for p in sorted(path.iterdir()) if p.is_dir() and not is_run_dir(p)]
        return found + [s for p in nested for s in _below(p)]
    if is_run_dir(path):
        return [read_single(path)]
    found = _below(path)
    if not found:
        raise UserError(
            f"{path}: holds no sweep (multirun.yaml) and no run folder (.hydra/, metrics.json); "
            "pass the folder Hydra wrote (hydra.sweep.dir or hydra.run.dir)"
        )
    return found


def _below(path: Path) -> list[Sweep]:
    """Sweeps and run folders nested under a folder that is neither (e.g. `multirun/`)."""
    if path.name.startswith("."):
        return []
    if (path / MULTIRUN).is_file():
        return discover(path)
    if is_run_dir(path):
        return [read_single(path)]
    return [s for p in sorted(path.iterdir()) if p.is_dir() for s in _below(p)]
