"""The one place that talks to Weights & Biases; everything else logs through a Tracker."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from fashion_transfer import atomic
from fashion_transfer.network import reachable

log = logging.getLogger(__name__)
STEP_FILE = "wandb_step.json"  # see StepLog; removed with wandb_id.txt when a run starts again


def _why_not_online(wandb: Any, timeout: float) -> str | None:
    """Why an online run cannot start now (no server in reach, no API key), or None to try.

    Both checks take at most `timeout` seconds; without them wandb retries for its own, longer
    timeouts, or stops to ask for a key on a terminal.
    """
    base_url = wandb.setup().settings.base_url
    if not reachable(base_url, timeout):
        return f"{base_url} not reachable within {timeout:g} s"
    try:
        has_key = _find_key(wandb)
    except Exception as exc:  # a malformed key, a settings file it cannot read
        return f"login: {type(exc).__name__}: {exc}"
    return None if has_key else "no API key; run `wandb login` or set WANDB_API_KEY"


def _find_key(wandb: Any) -> bool:
    """Whether wandb has credentials, without a prompt or a server round trip.

    The public `wandb.login` greets the user by name unless wandb is silent, which asks the server
    (seconds against one that does not answer); wandb 0.31's `_login` can skip that.
    """
    try:
        from wandb.sdk.wandb_login import _login

        return bool(_login(verify=False, prompt=False, _silent=True)[0])
    except (ImportError, TypeError):  # another wandb version: the public call
        return bool(wandb.login(verify=False, prompt=False))


class StepLog:
    """The last global_step a run folder's tracker logged, and the keys logged at that step.

    A resumed (or requeued) job replays the steps between its last checkpoint and the kill; W&B
    would draw those points twice (on a GPU with slightly different values). Saved on every log
    call (a few bytes, every `train.log_every` steps, written atomically), so the next attempt
    skips what the last one already logged and logs the rest, including keys first logged at
    the step where it was killed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.step, self.keys = -1, frozenset()
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            saved = json.loads(path.read_text())
            self.step, self.keys = int(saved["step"]), frozenset(saved["keys"])
        self.replaying = self.step >= 0

    def unseen(self, step: int, metrics: dict[str, Any]) -> dict[str, Any]:
        """The part of `metrics` that no earlier attempt logged at `step`."""
        if self.replaying and step > self.step:
            self.replaying = False
        if not self.replaying:
            return metrics
        if step < self.step:
            return {}
        return {k: v for k, v in metrics.items() if k not in self.keys}

    def mark(self, step: int, keys: Iterable[str]) -> None:
        self.keys = self.keys | set(keys) if step == self.step else frozenset(keys)
        self.step = step
        atomic.write_text(self.path, json.dumps({"step": step, "keys": sorted(self.keys)}))


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

    Mode comes from WANDB_MODE (offline when unset) so a first run needs no account. An online run
    never waits on the network for much more than `init_timeout` seconds: with no server in reach,
    no API key, or no answer in time it goes on offline, with one warning that says how to sync.
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
        # One W&B run per run folder: a resumed (or requeued) job continues the same W&B run.
        run_id = id_file.read_text().strip() if id_file.exists() else uuid.uuid4().hex[:12]
        atomic.write_text(id_file, run_id)
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
        if mode in ("offline", "dryrun", "disabled"):
            self.run = wandb.init(mode=mode, **kwargs)
        else:
            self.run = self._init_online(kwargs, init_timeout, run_dir)
        self.run.define_metric("*", step_metric="global_step")
        self.steps = StepLog(run_dir / STEP_FILE)

    def _init_online(self, kwargs: dict, timeout: float, run_dir: Path) -> Any:
        """An online run, or an offline one after about `timeout` seconds at most."""
        wandb = self._wandb
        started = time.perf_counter()
        why = _why_not_online(wandb, timeout)
        if why is None:
            wandb_log = logging.getLogger("wandb")
            level = wandb_log.level
            wandb_log.setLevel(logging.CRITICAL)  # its traceback: the one warning below says it
            try:
                # quiet: no greeting by name, which would ask the server again (seconds more)
                settings = wandb.Settings(init_timeout=timeout, quiet=True)
                return wandb.init(mode="online", settings=settings, **kwargs)
            except Exception as exc:  # CommError / UsageError / TimeoutError from the service
                lines = str(exc).splitlines()
                why = f"{type(exc).__name__}: {lines[0] if lines else ''}"
                wandb.teardown()  # the failed run still holds its id in the service
            finally:
                wandb_log.setLevel(level)
        log.warning(
            "W&B could not start online (%s) after %.1f s; logging offline instead. "
            "Upload later with: wandb sync %s/wandb/offline-run-*",
            why,
            time.perf_counter() - started,
            run_dir,
        )
        return wandb.init(mode="offline", **kwargs)

    def log(self, metrics: dict[str, Any], step: int) -> None:
        metrics = self.steps.unseen(step, metrics)
        if metrics:
            self.run.log({**metrics, "global_step": step})
            self.steps.mark(step, metrics)

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
