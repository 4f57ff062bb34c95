"""The real train entrypoint with faults injected at chosen epochs, for the status tests.

    python inject_faults.py TRAIN_ARGS...   with FT_FAULTS="nan fmnist_baseline 1 source 2;kill ..."

Each fault is `KIND STRATEGY SEED STAGE EPOCH`: at the start of that epoch of that job, `nan` sets
the model's first weight tensor to NaN (the run then fails on a non-finite loss, through the
suite's own check) and `kill` sends SIGKILL to this process (a machine that goes down). Nothing
of the suite is changed besides the epoch function this wraps.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys

import torch
from hydra.core.hydra_config import HydraConfig

from fashion_transfer.training import stages

FAULTS = [f.split() for f in os.environ.get("FT_FAULTS", "").split(";") if f.strip()]
_original = stages.train_one_epoch


def _job() -> tuple[str, str]:
    task = dict(o.partition("=")[::2] for o in HydraConfig.get().overrides.task)
    return task.get("strategy", ""), task.get("seed", "0")


def _faulty(state, data, seed, desc=""):
    stage, epoch = desc.split()[0], desc.split()[1].split("/")[0]
    for kind, strategy, job_seed, at_stage, at_epoch in FAULTS:
        if (strategy, job_seed) == _job() and (stage, epoch) == (at_stage, at_epoch):
            if kind == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            with torch.no_grad():
                next(state.model.parameters()).fill_(float("nan"))
    return _original(state, data, seed, desc=desc)


if __name__ == "__main__":
    stages.train_one_epoch = _faulty
    sys.argv = ["fashion_transfer.train", *sys.argv[1:]]
    # As `python -m fashion_transfer.train`: Hydra finds conf/ relative to the module's file.
    runpy.run_module("fashion_transfer.train", run_name="__main__", alter_sys=True)
