"""Run folders -> one pandas DataFrame, one row per run, failed and incomplete runs included.

A run is read from its `metrics.json` (schema in README.md, "metrics.json") with `.hydra/config.yaml` and
`.hydra/overrides.yaml` filling what a run that died early never wrote (strategy, seed). W&B runs
(offline folders or the public API, see `wandb_source`) go through the same row builder with their
summary standing in for metrics.json, so every source yields the same columns.

Failed runs are never dropped: a job folder without metrics.json, or with status `running` or
`failed`, becomes a row with `status == "failed"` and a one-line `failure_reason`.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from fashion_transfer.errors import UserError
from fashion_transfer.jobs import settings_key

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

#: The fmnist view's background choices (data.fmnist_view.BACKGROUNDS; the analysis imports no
#: data code): metrics.json `zero_shot_by_background` becomes one `zero_shot_<name>_acc` column each.
BACKGROUNDS = ("keep", "flatten", "segment")

#: Scalar fields of metrics.json that become CSV columns, in the order a reader wants them.
IDENTITY_COLUMNS = [
    "strategy",
    "seed",
    "synthetic",
    "source_dataset",
    "source_view",
    "target_dataset",
    "target_view",
    "source_fmnist_background",
    "target_fmnist_background",
    "train_fraction",
    "model",
    "backbone",
    "pretrained",
    "input_adapter",
    "tune_seed",
    "tune_trial",
]
METRIC_COLUMNS = [
    "source_test_acc",
    "target_top1",
    "target_top3",
    "target_top5",
    "target_macro_acc",
    "shared_acc",
    "shared_macro_acc",
    "shared_n",
    "shared_mode",
    "source_ece",
    "target_ece",
    "shared_ece",
    "reverse_acc",
    "reverse_n",
    *(f"zero_shot_{b}_acc" for b in BACKGROUNDS),
    "val_acc",
    "test_acc",
    "best_epoch",
    "wall_time_s",
    "params",
    "device",
]
TRACE_COLUMNS = [
    "run_name",
    "group",
    "git_commit",
    "run_status",
    "origin",
    "samples",
    "predictions",
]
CSV_COLUMNS = [
    "folder",
    "status",
    "failure_reason",
    *IDENTITY_COLUMNS,
    *METRIC_COLUMNS,
    *TRACE_COLUMNS,
]
#: Nested fields kept in the DataFrame for the figures but not written to the CSV.
OBJECT_COLUMNS = ["history", "stages", "shared_classes", "shared_confusion", "config", "tune"]

NO_METRICS = "no metrics.json (killed before the first epoch?)"
RUNNING = "status running: incomplete (killed?)"


def read_yaml(path: Path) -> Any:
    """Plain YAML load: Hydra's files keep `${...}` interpolations that only resolve inside Hydra."""
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def _name_of(node: Any) -> Any:
    """A config group may be stored as its name or as a mapping with a `name` key."""
    return node.get("name") if isinstance(node, Mapping) else node


def config_fields(
    config: Mapping[str, Any] | None, overrides: Iterable[str] = ()
) -> dict[str, Any]:
    """Best-effort identity of a run from its resolved config, for runs without metrics.json
    (killed at start) and for W&B runs, whose summary holds only the headline numbers.

    It mirrors how training fills metrics.json: the strategy's stages name the data slots they
    train on (`strategy.stages.<name>.data`: `source` / `target`), each slot's config gives the
    data set `name`, `view`, `synthetic` and `train_fraction`. metrics.json stays authoritative;
    this only fills gaps, so unknown layouts yield nothing rather than errors.
    """
    config = config or {}
    strategy = config.get("strategy")
    out: dict[str, Any] = {"strategy": _name_of(strategy), "seed": config.get("seed")}
    stages = strategy.get("stages") if isinstance(strategy, Mapping) else None
    slots = [s.get("data") for s in stages.values() if isinstance(s, Mapping)] if stages else []
    slots = [s for s in slots if isinstance(config.get(s), Mapping)] or [
        s for s in ("source", "target") if config.get(s) is not None
    ]
    for side in ("source", "target"):
        node = config.get(side) if side in slots else None
        out[f"{side}_dataset"] = _name_of(node)
        if isinstance(node, Mapping):
            out[f"{side}_view"] = node.get("view")
    nodes = [config[s] for s in slots if isinstance(config.get(s), Mapping)]
    if nodes:
        out["train_fraction"] = nodes[-1].get("train_fraction")
        if any("synthetic" in n for n in nodes):
            out["synthetic"] = any(bool(n.get("synthetic")) for n in nodes)
    model = config.get("model")
    if isinstance(model, Mapping):
        out["backbone"] = model.get("backbone_name") or _name_of(model.get("backbone"))
        out["pretrained"] = model.get("pretrained")
    elif model is not None:
        out["model"] = model
    if config.get("backbone") is not None:
        out["backbone"] = _name_of(config["backbone"])
    # Command-line overrides are the last resort: `strategy=adapter_scratch`, `seed=1`.
    for item in overrides:
        key, _, value = str(item).lstrip("+~").partition("=")
        if key == "strategy" and out["strategy"] is None:
            out["strategy"] = value
        elif key == "seed" and out["seed"] is None and re.fullmatch(r"-?\d+", value):
            out["seed"] = int(value)
    return {k: v for k, v in out.items() if v is not None}


def _status(metrics: Mapping[str, Any] | None) -> tuple[str, str, str | None]:
    """(status, run_status, failure_reason): anything but `completed` counts as failed."""
    if metrics is None:
        return "failed", "missing", NO_METRICS
    raw = metrics.get("status") or "unknown"
    if raw == "completed":
        return "completed", raw, None
    if raw == "running":
        return "failed", raw, RUNNING
    reason = metrics.get("failure_reason") or f"status {raw} (no failure_reason recorded)"
    return "failed", raw, reason


def build_row(
    folder: str,
    metrics: Mapping[str, Any] | None,
    config: Mapping[str, Any] | None,
    *,
    origin: str,
    overrides: Iterable[str] = (),
    status: tuple[str, str, str | None] | None = None,
) -> dict[str, Any]:
    """One DataFrame row from metrics (metrics.json or a W&B summary) plus the run's config."""
    status_, run_status, reason = status or _status(metrics)
    row: dict[str, Any] = {"folder": folder, "status": status_, "failure_reason": reason}
    row.update(config_fields(config, overrides))
    # A key present in metrics wins even when null: null means "does not apply to this strategy"
    # (the README's metrics.json schema), which a config default must not overwrite.
    for key in [*IDENTITY_COLUMNS, *METRIC_COLUMNS, *TRACE_COLUMNS, *OBJECT_COLUMNS]:
        if metrics is not None and key in metrics:
            row[key] = metrics[key]
    tune = (metrics or {}).get("tune")
    if isinstance(tune, Mapping):  # a trial of experiment=tune (analysis.tuning selects them)
        row["tune_seed"], row["tune_trial"] = tune.get("seed"), tune.get("trial")
    by_background = (metrics or {}).get("zero_shot_by_background") or {}
    for name, score in by_background.items():
        if name in BACKGROUNDS and isinstance(score, Mapping):
            row[f"zero_shot_{name}_acc"] = score.get("acc")
    if row.get("synthetic") is None:
        names = [row.get("source_dataset"), row.get("target_dataset")]
        if any(names):
            row["synthetic"] = any(str(n).startswith("synth") for n in names if n)
    row["run_status"] = run_status
    row["origin"] = origin
    row["config"] = dict(config) if config else None
    return row


def _read_run_file(run_dir: Path, name: str, kind: type, default: Any) -> tuple[Any, str | None]:
    """(content, None), or (default, why) when the file is unreadable or of the wrong shape.

    `default` also stands for a file that does not exist.
    """
    path = run_dir / name
    if not path.is_file():
        return default, None
    try:
        text = path.read_text(encoding="utf-8")
        content = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        return default, f"{name} unreadable: {' '.join(str(exc).split())}"
    if not isinstance(content, kind):
        return (
            default,
            f"{name} unreadable: holds a {type(content).__name__}, not a {kind.__name__}",
        )
    return content, None


def read_run_dir(run_dir: Path) -> dict[str, Any]:
    """One Hydra job folder (or single run folder) -> row.

    A run file that cannot be read (truncated, not the shape the suite writes) makes the run a
    failed row naming the file; metrics.json of a newer schema is an error for the whole analysis.
    """
    config, bad_config = _read_run_file(run_dir, ".hydra/config.yaml", dict, None)
    overrides, bad_overrides = _read_run_file(run_dir, ".hydra/overrides.yaml", list, [])
    metrics_path = run_dir / "metrics.json"
    metrics, bad_metrics = _read_run_file(run_dir, "metrics.json", dict, None)
    status = None
    problem = bad_metrics or bad_config or bad_overrides
    if problem:
        status = ("failed", "unreadable", problem)
    if metrics is not None:
        version = metrics.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise UserError(
                f"{metrics_path}: schema_version {version}, this analysis reads version "
                f"{SCHEMA_VERSION}; update fashion-transfer to analyse it"
            )
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
    from fashion_transfer.analysis.wandb_source import is_wandb_run_dir

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
    from fashion_transfer.analysis.wandb_source import read_offline_run

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


def to_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows -> DataFrame with every CSV and object column present, in a stable order."""
    frame = pd.DataFrame(rows)
    for column in [*CSV_COLUMNS, *OBJECT_COLUMNS]:
        if column not in frame.columns:
            frame[column] = None
    numeric = [c for c in METRIC_COLUMNS if c not in ("shared_mode", "device")] + ["train_fraction"]
    for column in numeric:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    for column in ("seed", "shared_n", "reverse_n", "best_epoch", "params"):  # counts stay integers
        frame[column] = pd.to_numeric(frame[column], errors="coerce").round().astype("Int64")
    return frame[[*CSV_COLUMNS, *OBJECT_COLUMNS]]


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """results.csv: one row per run, scalar columns only (history etc. stay in metrics.json)."""
    frame[CSV_COLUMNS].to_csv(path, index=False)
