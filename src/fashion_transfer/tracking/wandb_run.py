"""The one place that talks to Weights & Biases; everything else logs through a Tracker."""

from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class NullTracker:
    """`logger=none`: the same calls, nothing recorded."""

    def __init__(self, **_: Any) -> None:
        """Takes (and ignores) the run's identity, so both trackers are built the same way."""

    def log(self, metrics: dict[str, Any], step: int) -> None:
        pass

    def summary(self, metrics: dict[str, Any]) -> None:
        pass

    def confusion(self, key: str, labels: list[int], preds: list[int], classes: list[str]) -> None:
        pass

    def samples(self, key: str, images: np.ndarray, truth: list[str], preds: list[str]) -> None:
        pass

    def finish(self, exit_code: int = 0) -> None:
        pass


class WandbTracker(NullTracker):
    """One W&B run per job, written into the job's run directory.

    Mode comes from WANDB_MODE (offline when unset) so a first run needs no account. An online
    run that can't reach the server within `init_timeout` seconds goes on offline, with one warning.
    """

    def __init__(
        self,
        run_dir: str | Path,
        name: str,
        group: str,
        job_type: str,
        run_config: dict,
        project: str = "fashion-transfer",
        entity: str | None = None,
        tags: list[str] | None = None,
        mode: str | None = None,
        init_timeout: float = 15.0,
    ) -> None:
        import wandb

        self._wandb = wandb
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        id_file = run_dir / "wandb_id.txt"
        run_id = id_file.read_text().strip() if id_file.exists() else uuid.uuid4().hex[:12]
        id_file.write_text(run_id)
        mode = mode or os.environ.get("WANDB_MODE") or "offline"
        kwargs = dict(
            project=project,
            entity=entity,
            name=name,
            group=group,
            job_type=job_type,
            tags=list(tags or []),
            config=run_config,
            dir=str(run_dir),
            id=run_id,
            resume="allow",
        )
        started = time.perf_counter()
        try:
            self.run = wandb.init(
                mode=mode, settings=wandb.Settings(init_timeout=init_timeout), **kwargs
            )
        except Exception as exc:  # wandb raises CommError/UsageError/TimeoutError when offline
            if mode == "offline":
                raise
            log.warning(
                "W&B could not start online within %.0f s (%s); logging offline instead. "
                "Upload later with: wandb sync %s/wandb/offline-run-*",
                time.perf_counter() - started,
                type(exc).__name__,
                run_dir,
            )
            self.run = wandb.init(mode="offline", **kwargs)
        self.run.define_metric("*", step_metric="global_step")

    def log(self, metrics: dict[str, Any], step: int) -> None:
        self.run.log({**metrics, "global_step": step})

    def summary(self, metrics: dict[str, Any]) -> None:
        for key, value in metrics.items():
            if isinstance(value, int | float | str | bool) or value is None:
                self.run.summary[key] = value

    def confusion(self, key: str, labels: list[int], preds: list[int], classes: list[str]) -> None:
        plot = self._wandb.plot.confusion_matrix(y_true=labels, preds=preds, class_names=classes)
        self.run.log({key: plot})

    def samples(self, key: str, images: np.ndarray, truth: list[str], preds: list[str]) -> None:
        table = self._wandb.Table(columns=["image", "true", "predicted", "correct"])
        for img, t, p in zip(images, truth, preds, strict=True):
            hwc = np.transpose(img, (1, 2, 0)).squeeze()
            table.add_data(self._wandb.Image(hwc), t, p, t == p)
        self.run.log({key: table})

    def finish(self, exit_code: int = 0) -> None:
        self.run.finish(exit_code=exit_code)
