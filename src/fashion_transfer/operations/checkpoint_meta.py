"""Where a checkpoint says its run stands (stage, epoch), read without importing torch.

`torch.save` writes a zip archive whose `<name>/data.pkl` holds the payload's structure, with every
tensor stored apart as a persistent reference (torch's documented serialization format). The
unpickler below rebuilds only plain Python values (the payload's stage, epoch, step and the JSON
text of its record) and stands an inert placeholder in for every tensor and torch object, so it
never runs code from the file and never touches the tensor data, however large the model.
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PLAIN = {("collections", "OrderedDict"), ("builtins", "set"), ("builtins", "frozenset")}


class _Opaque:
    """Stands in for a tensor, storage or any other torch object of the payload."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass


class _StructureOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _PLAIN:
            return super().find_class(module, name)
        if module == "torch" or module.startswith("torch."):
            return _Opaque
        raise pickle.UnpicklingError(f"unexpected {module}.{name} in a checkpoint")

    def persistent_load(self, pid: Any) -> Any:
        return None


@dataclass(frozen=True)
class CheckpointPoint:
    """The point a resume continues from: after `epoch` (1-based) of stage `stage`."""

    stage: str
    stage_index: int
    epoch: int
    global_step: int


def read_point(path: Path) -> CheckpointPoint:
    """Stage and epoch of a checkpoint written by training/checkpoint.py.

    Raises ValueError (with the reason) when the file is not such a checkpoint or is torn.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
            if len(names) != 1:
                raise ValueError("not a torch.save archive (no data.pkl)")
            with archive.open(names[0]) as f:
                payload = _StructureOnly(f).load()
    except (OSError, zipfile.BadZipFile, pickle.UnpicklingError, EOFError) as exc:
        raise ValueError(f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(payload, dict) or not {"stage", "epoch"} <= payload.keys():
        raise ValueError("no stage/epoch in it")
    return CheckpointPoint(
        stage=str(payload["stage"]),
        stage_index=int(payload.get("stage_index", 0)),
        epoch=int(payload["epoch"]),
        global_step=int(payload.get("global_step", 0)),
    )
