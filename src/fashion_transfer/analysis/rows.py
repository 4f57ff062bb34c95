"""One run -> one analysis row: the columns, and the row builder every source of runs shares.

Run folders (`collect`, their metrics.json read through `fashion_transfer.record`) and W&B runs
(`wandb_source`, their summary standing in for metrics.json) both go through `build_row`, so every
source yields the same columns; `to_frame` turns the rows into the analysis' DataFrame.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

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
