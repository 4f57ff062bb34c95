"""W&B runs as analysis rows: offline run folders on disk, or a group through the public API.

Offline folders let runs logged on a cluster without internet be analysed before `wandb sync`.
Their summary and config are read from `files/wandb-summary.json` + `files/config.yaml` where
those exist (older clients, synced or online runs). wandb-core (>= 0.18) writes neither for
offline runs: there the same data is only in the `run-<id>.wandb` transaction log, so this
module replays that log's config and summary records. The log is LevelDB's log format
(32 KiB blocks of checksummed chunks) carrying one `wandb_internal_pb2.Record` per entry.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from fashion_transfer.analysis.rows import build_row, to_frame
from fashion_transfer.errors import UserError
from fashion_transfer.record import HEADLINE

_BLOCK = 32 * 1024
_HEADER = 7  # both the file header (":W&B" magic, version) and every chunk header are 7 bytes
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def is_wandb_run_dir(path: Path) -> bool:
    """`offline-run-*` / `run-*` folder with the files a W&B client writes."""
    if not (path.name.startswith("offline-run-") or path.name.startswith("run-")):
        return False
    return (path / "files").is_dir() or any(path.glob("run-*.wandb"))


def unwrap_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """W&B stores config as `{key: {value: v, desc: ...}}`; drop W&B's own `_wandb` entry."""
    out: dict[str, Any] = {}
    for key, value in (config or {}).items():
        if str(key).startswith("_"):
            continue
        if isinstance(value, Mapping) and "value" in value and set(value) <= {"value", "desc"}:
            value = value["value"]
        out[key] = value
    return out


def read_log_records(path: Path) -> list[bytes]:
    """Payloads of a LevelDB-format log; a torn tail (killed process) ends the list quietly."""
    data = path.read_bytes()
    if not data.startswith(b":W&B"):
        raise UserError(f"{path}: not a W&B transaction log (bad magic); is the file complete?")
    records: list[bytes] = []
    pending = b""
    pos = _HEADER
    while pos + _HEADER <= len(data):
        if _BLOCK - pos % _BLOCK < _HEADER:  # block trailer too short for a header: padding
            pos += _BLOCK - pos % _BLOCK
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + _HEADER])
        chunk = data[pos + _HEADER : pos + _HEADER + length]
        if len(chunk) < length or kind == 0:
            break
        pos += _HEADER + length
        if kind == _FULL:
            records.append(chunk)
        elif kind == _FIRST:
            pending = chunk
        elif kind == _MIDDLE:
            pending += chunk
        elif kind == _LAST:
            records.append(pending + chunk)
            pending = b""
    return records


def _apply(target: dict[str, Any], items: Iterable[Any], remove: Iterable[Any] = ()) -> None:
    """Replay W&B config/summary items (`key` or `nested_key` path, JSON value) into a dict."""
    for item in items:
        keys = list(item.nested_key) or [item.key]
        node = target
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = json.loads(item.value_json)
    for item in remove:
        keys = list(item.nested_key) or [item.key]
        node = target
        for key in keys[:-1]:
            node = node.get(key, {})
        node.pop(keys[-1], None)


def replay_transaction_log(path: Path) -> dict[str, Any]:
    """Config, summary, group and exit code of an offline run from its `run-*.wandb` file."""
    try:
        from wandb.proto import wandb_internal_pb2 as pb
    except ImportError as exc:  # the proto module is internal to wandb; say so, don't guess
        raise UserError(
            f"{path}: reading offline W&B runs needs the wandb package ({exc}); "
            "install it or run `wandb sync` and use --wandb"
        ) from exc
    config: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    info: dict[str, Any] = {"exit_code": None}
    for payload in read_log_records(path):
        record = pb.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            _apply(config, record.run.config.update)
            _apply(summary, record.run.summary.update)
            info.update(group=record.run.run_group, job_type=record.run.job_type)
            info["run_name"] = record.run.display_name or record.run.run_id
        elif kind == "config":
            _apply(config, record.config.update, record.config.remove)
        elif kind == "summary":
            _apply(summary, record.summary.update, record.summary.remove)
        elif kind == "exit":
            info["exit_code"] = record.exit.exit_code
    return {"config": config, "summary": summary, **info}


def _wandb_status(
    summary: Mapping[str, Any], ended: bool, exit_code: int | None, state: str | None = None
) -> tuple[str, str, str | None] | None:
    """Status of a W&B run whose summary may lack metrics.json's `status` field."""
    if summary.get("status"):
        return None  # the summary carries metrics.json's status: the common rule applies
    if state in ("crashed", "failed", "killed") or (exit_code not in (None, 0)):
        detail = f"W&B state {state}" if state else f"W&B exit code {exit_code}"
        return "failed", state or "failed", f"{detail} and no status in its summary"
    if not ended or state == "running":
        return "failed", "running", "W&B run never finished: incomplete (killed?)"
    if not any(summary.get(k) is not None for k in HEADLINE):
        return "failed", "unknown", "W&B summary has no headline metrics"
    return "completed", "completed", None


def _summary_fields(summary: Mapping[str, Any]) -> dict[str, Any]:
    """W&B summary minus W&B's own `_keys`; its `_runtime` stands in for a missing wall_time_s."""
    out = {k: v for k, v in summary.items() if not str(k).startswith("_")}
    if out.get("wall_time_s") is None and isinstance(summary.get("_runtime"), int | float):
        out["wall_time_s"] = summary["_runtime"]
    return out


def read_offline_run(run_dir: Path) -> dict[str, Any]:
    """One W&B offline run folder -> row (summary stands in for metrics.json)."""
    files = run_dir / "files"
    summary_file, config_file = files / "wandb-summary.json", files / "config.yaml"
    logs = sorted(run_dir.glob("run-*.wandb"))
    info: dict[str, Any] = {}
    if summary_file.is_file():
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
        config = (
            yaml.safe_load(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
        )
        ended = True  # the client writes wandb-summary.json when the run finishes
        if logs:
            info = replay_transaction_log(logs[0])
            ended = info["exit_code"] is not None
    elif logs:
        info = replay_transaction_log(logs[0])
        summary, config = info["summary"], info["config"]
        ended = info["exit_code"] is not None
    else:
        raise UserError(
            f"{run_dir}: W&B run folder without files/wandb-summary.json or run-*.wandb"
        )
    config = unwrap_config(config)
    summary = _summary_fields(summary)
    for key in ("group", "run_name"):
        if info.get(key) and not summary.get(key):
            summary[key] = info[key]
    status = _wandb_status(summary, ended, info.get("exit_code"))
    return build_row(str(run_dir), summary, config, origin="wandb-offline", status=status)


def read_api_runs(path: str, group: str, api: Any = None) -> list[dict[str, Any]]:
    """Rows for every run of a W&B group, through `wandb.Api().runs(path, filters={"group": G})`.

    `api` is injectable so tests pass a fake and never touch the network.
    """
    if path.count("/") != 1:
        raise UserError(f"--wandb {path!r}: expected ENTITY/PROJECT")
    try:
        runs = list(_api(api).runs(path, filters={"group": group}))
    except _api_errors() as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(
            f"--wandb {path}: the W&B API did not answer ({first}); it needs `wandb login` (or "
            "WANDB_API_KEY) and a network; without them, analyse the run folders: "
            "python -m fashion_transfer.analyze SWEEP_DIR"
        ) from None
    rows = []
    for run in runs:
        summary = getattr(run, "summary_metrics", None)
        if not isinstance(summary, Mapping):
            summary = getattr(run.summary, "_json_dict", None) or dict(run.summary)
        summary = _summary_fields(summary)
        summary.setdefault("group", group)
        summary.setdefault("run_name", getattr(run, "name", None))
        state = getattr(run, "state", None)
        status = _wandb_status(summary, state != "running", None, state)
        folder = getattr(run, "url", None) or f"{path}/{getattr(run, 'id', '?')}"
        rows.append(
            build_row(folder, summary, unwrap_config(run.config), origin="wandb-api", status=status)
        )
    if not rows:
        raise UserError(f"--wandb {path} --group {group}: no runs in that group")
    return rows


def _api(api: Any) -> Any:
    if api is not None:
        return api
    import wandb

    return wandb.Api()


def _api_errors() -> tuple[type[BaseException], ...]:
    """No key, a refused key, no network: W&B's own errors and the OS's (requests' included)."""
    import wandb.errors

    return (wandb.errors.Error, OSError)


def collect_api(path: str, group: str, api: Any = None) -> Any:
    """DataFrame of a W&B group (see `read_api_runs`)."""
    return to_frame(read_api_runs(path, group, api))
