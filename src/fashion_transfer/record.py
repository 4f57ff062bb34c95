"""The run record: what a run writes to `metrics.json`, as dataclasses (the one home of its schema).

Training fills one `RunRecord` (training/run.py, stages.py, cross_domain.py) and writes it with
`write`; `status` (operations/job_state.py) reads it back with `read`, the analysis
(analysis/collect.py) with `load`, which keeps a file's own keys for the row builder. The JSON keeps the dataclass fields' order, so the file reads as the README's table.
Nothing here imports torch: the analysis and `status` read records on machines without it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from fashion_transfer import atomic

SCHEMA_VERSION = 1

#: The run's headline figures: what `train()` returns (a sweeper optimises one of them) and the
#: W&B summary holds.
HEADLINE = (
    "val_acc",
    "test_acc",
    "source_test_acc",
    "target_top1",
    "target_top3",
    "target_top5",
    "target_macro_acc",
    "shared_acc",
    "reverse_acc",
    "source_ece",
    "target_ece",
    "shared_ece",
    "best_epoch",
)
#: What the analysis summarises over seeds: the headline's test-set figures, and the wall time.
SUMMARY_METRICS = (
    *(k for k in HEADLINE if k not in ("val_acc", "test_acc", "best_epoch")),
    "wall_time_s",
)
#: The one figure `status` sums a finished job up by: the first of these its strategy has.
STATUS_FIGURES = ("target_top1", "shared_acc", "test_acc")

#: A field with this metadata is left out of the JSON while it is None.
OMIT_NONE = {"omit_none": True}


def headline_of(data: Mapping[str, Any]) -> dict[str, Any]:
    """The headline figures of a record read as JSON (None where it lacks one)."""
    return {k: data.get(k) for k in HEADLINE}


class RecordError(ValueError):
    """A metrics.json that cannot be read as a run record (its message names the file)."""


class SchemaMismatch(Exception):
    """A metrics.json of another schema_version (its message names the file and what to do)."""


@dataclass
class EpochEntry:
    """One epoch of one stage in `history`."""

    stage: str
    epoch: int  # 1-based within the stage
    global_epoch: int
    train_loss: float
    train_acc: float
    lr: float
    seconds: float
    val_loss: float
    val_acc: float
    frozen: bool  # the backbone was frozen this epoch
    # Final stage only: its test set scored after the epoch, for the analysis's selection
    # protocols (never used to select); absent from other stages' entries.
    test_acc: float | None = field(default=None, metadata=OMIT_NONE)


@dataclass
class StageSummary:
    """One stage in `stages`: its settings, the epoch selected on validation, its time."""

    dataset: str | None = None
    epochs: int | None = None
    unfreeze_after: int | None = None
    batch_size: int | None = None
    ema_decay: float | None = None
    best_epoch: int | None = None
    best_val_acc: float | None = None
    seconds: float = 0.0  # summed over attempts when a run resumes inside the stage
    test_acc: float | None = None  # the stage's own test split, with its selected weights


@dataclass
class SharedScore:
    """A score in the shared 6-class space (the zero-shot view, mapped predictions, reverse)."""

    acc: float | None
    macro: float | None
    ece: float | None
    n: int
    confusion: list[list[int]]


@dataclass
class TuneTrial:
    """A trial of `experiment=tune`: its seed and index, the drawn values and their space."""

    seed: int
    trial: int
    hparams: dict[str, Any]
    space: dict[str, Any]


@dataclass
class RunRecord:
    """metrics.json. A figure that does not apply to the strategy is None (null, never missing)."""

    schema_version: int = SCHEMA_VERSION
    status: str = "running"  # running, completed, failed
    failure_reason: str | None = None
    exit_code: int | None = None
    strategy: str | None = None
    seed: int | None = None
    run_name: str | None = None
    group: str | None = None
    run_dir: str | None = None
    git_commit: str | None = None
    synthetic: bool = False
    source_dataset: str | None = None
    target_dataset: str | None = None
    source_view: str | None = None
    target_view: str | None = None
    source_fmnist_background: str | None = None
    target_fmnist_background: str | None = None
    train_fraction: float = 1.0
    model: str | None = None
    backbone: str | None = None
    pretrained: bool = False
    input_adapter: str | None = None
    tune: TuneTrial | None = None
    params: int | None = None
    device: str | None = None
    wall_time_s: float | None = None  # every attempt's time summed (a resumed run's too)
    peak_gpu_memory_mb: float | None = None
    best_epoch: int | None = None
    val_acc: float | None = None
    test_acc: float | None = None
    source_test_acc: float | None = None
    target_top1: float | None = None
    target_top3: float | None = None
    target_top5: float | None = None
    target_macro_acc: float | None = None
    shared_acc: float | None = None
    shared_macro_acc: float | None = None
    shared_n: int | None = None
    shared_mode: str | None = None  # zero_shot_fmnist_view or mapped_predictions
    source_ece: float | None = None
    target_ece: float | None = None
    shared_ece: float | None = None
    reverse_acc: float | None = None
    reverse_n: int | None = None
    classes: list[str] | None = None
    per_class_acc: dict[str, float | None] | None = None
    confusion_matrix: list[list[int]] | None = None
    shared_classes: list[str] | None = None
    shared_confusion: list[list[int]] | None = None
    # background -> {acc, macro, n, and the view's statistics}, or None where a view is unscored
    zero_shot_by_background: dict[str, dict[str, Any] | None] | None = None
    history: list[EpochEntry] = field(default_factory=list)
    stages: dict[str, StageSummary] = field(default_factory=dict)
    data: dict[str, dict[str, Any]] = field(default_factory=dict)  # the loaders' reports, verbatim

    def headline(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in HEADLINE}

    def set_shared(self, score: SharedScore, mode: str, classes: list[str]) -> None:
        """The shared-space figures of either mode (zero-shot view or mapped predictions)."""
        self.shared_acc = score.acc
        self.shared_macro_acc = score.macro
        self.shared_ece = score.ece
        self.shared_n = score.n
        self.shared_mode = mode
        self.shared_classes = classes
        self.shared_confusion = score.confusion

    def to_json(self) -> dict[str, Any]:
        """metrics.json's content: fields in order, nested records as dicts (NaN kept as is)."""
        return as_json(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        """A record from metrics.json's content; keys it lacks take their defaults.

        Raises RecordError for content of another shape (not a dict, unknown keys, a nested part
        that is not the record's).
        """
        if not isinstance(data, dict):
            raise RecordError(f"holds a {type(data).__name__}, not a run record")
        try:
            record = _build(cls, data)
            record.history = [_build(EpochEntry, e) for e in record.history or []]
            record.stages = {k: _build(StageSummary, s) for k, s in (record.stages or {}).items()}
            if record.tune is not None:
                record.tune = _build(TuneTrial, record.tune)
        except (TypeError, AttributeError) as exc:
            raise RecordError(" ".join(str(exc).split())) from None
        return record


def _build(kind: type, data: Any) -> Any:
    """`kind(**data)` with a message that names the part and the keys it does not know."""
    if not isinstance(data, dict):
        raise TypeError(f"{kind.__name__}: holds a {type(data).__name__}, not a dict")
    unknown = set(data) - {f.name for f in fields(kind)}
    if unknown:
        raise TypeError(f"{kind.__name__}: unknown keys {', '.join(sorted(map(str, unknown)))}")
    return kind(**data)


def as_json(obj: Any) -> Any:
    """Dataclasses -> dicts in field order (OMIT_NONE fields left out while None), recursively."""
    if is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        for f in fields(obj):
            value = getattr(obj, f.name)
            if value is None and f.metadata.get("omit_none"):
                continue
            out[f.name] = as_json(value)
        return out
    if isinstance(obj, dict):
        return {k: as_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [as_json(v) for v in obj]
    return obj


def _json_safe(obj: Any) -> Any:
    """NaN/inf are not JSON; they are written as null so every reader can parse the file."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


def write(path: Path, record: RunRecord) -> None:
    """Atomically (temp file + rename): readers and a kill never see a half-written file."""
    text = json.dumps(_json_safe(record.to_json()), indent=2, allow_nan=False) + "\n"
    atomic.write_text(Path(path), text)


def load(path: Path) -> dict[str, Any]:
    """metrics.json's content as written (only the keys the file holds), checked against the record.

    Raises OSError when the file cannot be opened, SchemaMismatch when another version of the
    suite wrote it, RecordError (saying why, without the path) when it is not a run record.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise RecordError(" ".join(str(exc).split())) from None
    if not isinstance(data, dict):
        raise RecordError(f"holds a {type(data).__name__}, not a dict")
    version = data.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise SchemaMismatch(
            f"{path}: schema_version {version}, this fashion-transfer reads version "
            f"{SCHEMA_VERSION}; update fashion-transfer to read it"
        )
    RunRecord.from_json(data)  # the shape check: unknown keys, nested parts that do not fit
    return data


def read(path: Path) -> RunRecord:
    """The record in `path`; keys the file lacks take their defaults (errors as `load`)."""
    return RunRecord.from_json(load(path))
