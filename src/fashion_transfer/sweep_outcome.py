"""How a sweep ends: one line per failed job and the exit code the README promises.

A job that fails on bad input (exit 2) or a non-finite loss (exit 3) records why in its
metrics.json and returns to Hydra as if it had finished, so the other jobs run and no traceback
is printed. This Hydra callback, in the process that launched the sweep (any launcher), reads
the records the sweep's jobs wrote and says which failed; the train command exits with the
highest of their codes.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

# Set at the end of a multirun in this process; the train command exits with it.
exit_code = 0


def failed_jobs(sweep_dir: Path, since: float = 0.0) -> list[tuple[Path, dict]]:
    """(job folder, record) of every job under `sweep_dir` whose record says failed."""
    out = []
    for metrics in sorted(sweep_dir.glob("**/metrics.json")):
        try:
            if metrics.stat().st_mtime < since:
                continue  # an older job of a rerun sweep folder
            record = json.loads(metrics.read_text())
        except (OSError, ValueError):
            continue
        if record.get("status") == "failed":
            out.append((metrics.parent, record))
    return out


class SweepOutcome(Callback):
    def __init__(self) -> None:
        self.started = time.time()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.started = time.time() - 1  # file times have a coarse clock on some file systems

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        global exit_code
        sweep_dir = Path(str(config.hydra.sweep.dir))
        failed = failed_jobs(sweep_dir, self.started)
        for folder, record in failed:
            print(f"error: job {folder} failed: {record.get('failure_reason')}", file=sys.stderr)
        if failed:
            exit_code = max(int(r.get("exit_code") or 1) for _, r in failed)
            print(
                f"error: {len(failed)} job(s) of the sweep in {sweep_dir} failed; "
                f"python -m fashion_transfer.status {sweep_dir} lists them",
                file=sys.stderr,
            )
