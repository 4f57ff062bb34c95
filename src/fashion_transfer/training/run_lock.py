"""Who owns a run folder: the marker that proves the suite made it, and the lock a live run holds.

The suite removes or replaces files in a run folder (a restart, `overwrite=true`) only where its
marker stands, so a user's own folder passed as `hydra.run.dir` is never emptied. The lock is an
`flock` (through filelock): the kernel drops it when its process dies, so a killed run's lock is
never stale, and a second process started into a live run's folder is refused. No torch import:
the status command reads it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from fashion_transfer import atomic
from fashion_transfer.errors import ConfigError

MARKER = ".fashion-transfer-run"
LOCK = ".run.lock"
PID = ".run.pid"
# What the suite writes into a run folder; a folder holding any of them without the marker is
# somebody else's.
OWNED = (
    "metrics.json",
    "samples.npz",
    "predictions.npz",
    "checkpoints",
    "wandb",
    "wandb_id.txt",
    "wandb_step.json",
)


def is_marked(run_dir: Path) -> bool:
    return (run_dir / MARKER).is_file()


def check_owned(run_dir: Path) -> None:
    """Refuse, writing nothing, a folder that holds results the suite did not write."""
    if not run_dir.is_dir() or is_marked(run_dir):
        return
    foreign = [name for name in OWNED if (run_dir / name).exists()]
    if foreign:
        listed = ", ".join(name + ("/" if (run_dir / name).is_dir() else "") for name in foreign)
        raise ConfigError(
            f"{run_dir} holds {listed} that fashion-transfer did not write (no {MARKER}); "
            "nothing was changed: give the run a new folder with hydra.run.dir=NEW_DIR"
        )


def claim(run_dir: Path) -> None:
    """Mark `run_dir` as the suite's, or refuse when it already holds files the suite did not write."""
    check_owned(run_dir)
    if is_marked(run_dir):
        return
    info = {"created": time.strftime("%Y-%m-%dT%H:%M:%S"), "host": socket.gethostname()}
    atomic.write_text(run_dir / MARKER, json.dumps(info) + "\n")


@contextmanager
def hold(run_dir: Path) -> Iterator[None]:
    """Hold `run_dir`'s lock while the block runs, or refuse in one line when a live run holds it."""
    lock = FileLock(run_dir / LOCK, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise ConfigError(
            f"{run_dir} is in use by another running job; wait for it to end "
            "(python -m fashion_transfer.status shows it) or give this run hydra.run.dir=NEW_DIR"
        ) from None
    pid_file = run_dir / PID
    pid_file.write_text(f"{os.getpid()}\n")
    try:
        yield
    finally:
        pid_file.unlink(missing_ok=True)
        lock.release()


def holder_pid(run_dir: Path) -> int | None:
    """The pid of the process that holds (or last held, if it was killed) `run_dir`'s lock."""
    try:
        return int((run_dir / PID).read_text())
    except (OSError, ValueError):
        return None


def lock_is_held(run_dir: Path) -> bool:
    """True while a live process holds `run_dir`'s lock (this process's own hold counts too)."""
    path = run_dir / LOCK
    if not path.exists():
        return False
    probe = FileLock(path, timeout=0)
    try:
        probe.acquire()
    except Timeout:
        return True
    probe.release()
    return False
