"""Run folders -> one pandas DataFrame, one row per run, failed and incomplete runs included.

A run is read from its `metrics.json` (the run record, `fashion_transfer.record`) with
`.hydra/config.yaml` and `.hydra/overrides.yaml` filling what a run that died early never wrote
(strategy, seed). W&B runs (offline folders or the public API, see `wandb_source`) go through the
same row builder (`rows`) with their summary standing in for metrics.json, so every source yields
the same columns.

Failed runs are never dropped: a job folder without metrics.json, or with status `running` or
`failed`, becomes a row with `status == "failed"` and a one-line `failure_reason`.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from fashion_transfer import record
from fashion_transfer.analysis.rows import CSV_COLUMNS, build_row, to_frame
from fashion_transfer.analysis.wandb_source import is_wandb_run_dir, read_offline_run
from fashion_transfer.errors import UserError
from fashion_transfer.jobs import settings_key

log = logging.getLogger(__name__)


def _read_run_file(run_dir: Path, name: str, kind: type, default: Any) -> tuple[Any, str | None]:
    """(content, None), or (default, why) when the file is unreadable or of the wrong shape.

    `default` also stands for a file that does not exist.
    """
    path = run_dir / name
    if not path.is_file():
        return default, None
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        return default, f"{name} unreadable: {' '.join(str(exc).split())}"
    if not isinstance(content, kind):
        return (
            default,
            f"{name} unreadable: holds a {type(content).__name__}, not a {kind.__name__}",
        )
    return content, None


def _read_metrics(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(the record's keys as written, None), or (None, why) when it is not a run record.

    metrics.json of another schema version is an error for the whole analysis.
    """
    if not path.is_file():
        return None, None
    try:
        return record.load(path), None
    except record.SchemaMismatch as exc:
        raise UserError(str(exc)) from None
    except (OSError, record.RecordError) as exc:
        return None, f"{path.name} unreadable: {' '.join(str(exc).split())}"


def read_run_dir(run_dir: Path) -> dict[str, Any]:
    """One Hydra job folder (or single run folder) -> row.

    A run file that cannot be read (truncated, not the shape the suite writes) makes the run a
    failed row naming the file; metrics.json of a newer schema is an error for the whole analysis.
    """
    config, bad_config = _read_run_file(run_dir, ".hydra/config.yaml", dict, None)
    overrides, bad_overrides = _read_run_file(run_dir, ".hydra/overrides.yaml", list, [])
    metrics, bad_metrics = _read_metrics(run_dir / "metrics.json")
    status = None
    problem = bad_metrics or bad_config or bad_overrides
    if problem:
        status = ("failed", "unreadable", problem)
    row = build_row(
        str(run_dir),
        metrics,
        config,
        origin="metrics.json",
        overrides=overrides or (),
        status=status,
    )
    if (run_dir / "samples.npz").is_file():
        row["samples"] = str(run_dir / "samples.npz")
    if (run_dir / "predictions.npz").is_file():  # per-image results for the paired bootstrap
        row["predictions"] = str(run_dir / "predictions.npz")
    return row


def is_run_dir(path: Path) -> bool:
    """A Hydra job folder or a single run folder: it has `.hydra/` or a metrics.json."""
    return (path / ".hydra").is_dir() or (path / "metrics.json").is_file()


def _natural_key(path: Path) -> list[Any]:
    """Sort job folders 0, 1, 2, ..., 10 rather than 0, 1, 10, 2."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(path))]


def discover(root: Path) -> list[tuple[str, Path]]:
    """Every run under `root`: ("hydra", job folder) and ("wandb", W&B run folder) pairs.

    A job folder is read from its metrics.json; a W&B folder inside it is not read again (it
    would count the run twice). Stand-alone W&B folders (a `wandb/` directory copied off a
    cluster) are read from their summary.
    """
    if not root.exists():
        raise UserError(f"{root}: no such folder; pass a Hydra multirun folder or a run folder")
    if is_run_dir(root):
        return [("hydra", root)]
    if is_wandb_run_dir(root):
        return [("wandb", root)]
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, _ in os.walk(root):
        here = Path(dirpath)
        if here != root and is_run_dir(here):
            found.append(("hydra", here))
            dirnames[:] = []
        elif is_wandb_run_dir(here):
            found.append(("wandb", here))
            dirnames[:] = []
        else:
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    return sorted(found, key=lambda item: _natural_key(item[1]))


def collect_runs(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Read every run under `paths` (multirun folders, run folders, W&B run folders)."""
    rows: list[dict[str, Any]] = []
    seen: set[Path] = set()
    for path in paths:
        root = Path(path)
        runs = discover(root)
        if not runs:
            raise UserError(
                f"{root}: no runs found; expected a Hydra multirun folder (job folders with "
                ".hydra/ and metrics.json), a run folder, or W&B offline run folders"
            )
        for kind, run_dir in runs:
            if run_dir.resolve() in seen:
                continue
            seen.add(run_dir.resolve())
            rows.append(read_run_dir(run_dir) if kind == "hydra" else read_offline_run(run_dir))
    return to_frame(drop_repeats(rows))


def drop_repeats(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per experiment: runs with the same strategy, seed and settings (a sweep run twice
    into one folder under other job names) would count one seed twice in every interval. The
    completed one is kept (the last, if several), the others are named in a warning."""
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        config = row.get("config")
        key = settings_key(config) if isinstance(config, dict) else f"row {i}"
        groups.setdefault(key, []).append(i)
    dropped: set[int] = set()
    for members in groups.values():
        if len(members) < 2:
            continue
        keep = max(members, key=lambda i: (rows[i].get("status") == "completed", i))
        dropped.update(i for i in members if i != keep)
        log.warning(
            "%s repeat the strategy, seed and settings of %s; counted once (kept %s)",
            ", ".join(str(rows[i]["folder"]) for i in members if i != keep),
            rows[keep]["folder"],
            rows[keep]["folder"],
        )
    return [row for i, row in enumerate(rows) if i not in dropped]


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """results.csv: one row per run, scalar columns only (history etc. stay in metrics.json)."""
    frame[CSV_COLUMNS].to_csv(path, index=False)
