"""The commands that launch a sweep's unfinished jobs again, into the same folders.

A Hydra sweep is a product of value lists, so the unfinished jobs are split into product blocks
(jobs that differ in one setting merge, until none do) and each block is one `-m` launch into the
sweep folder. Each job lands in its own folder (named by its settings) and continues from its
checkpoint (`resume=true`, the default): a launch never passes `resume=` or `overwrite=`, whatever
the first launch did. Running jobs are left alone; completed ones are not launched.
"""

from __future__ import annotations

import shlex
import sys

from fashion_transfer.operations.job_state import UNFINISHED, Job
from fashion_transfer.operations.sweep import Sweep, split_override

NEVER_PASSED = ("resume", "overwrite")  # a relaunch continues each job; it never starts one over


def product_blocks(jobs: list[list[str]]) -> list[list[tuple[str, list[str]]]]:
    """An exact cover of the jobs by products, `[(key, [values...]), ...]` per block.

    Blocks merge along one key at a time, from the last key (Hydra's innermost loop) to the
    first, wherever they agree on every other key; passes repeat until nothing merges.
    """
    groups: dict[tuple[str, ...], list[list[tuple[str, list[str]]]]] = {}
    for overrides in jobs:
        pairs = [split_override(o) for o in overrides]
        groups.setdefault(tuple(k for k, _ in pairs), []).append([(k, [v]) for k, v in pairs])
    blocks = []
    for keys, group in groups.items():
        changed = True
        while changed:
            changed = False
            for i in reversed(range(len(keys))):
                merged: dict[tuple, list[tuple[str, list[str]]]] = {}
                for block in group:
                    rest = tuple(tuple(v) for j, (_, v) in enumerate(block) if j != i)
                    if rest in merged:
                        values = merged[rest][i][1]
                        values += [v for v in block[i][1] if v not in values]
                        changed = True
                    else:
                        merged[rest] = [(k, list(v)) for k, v in block]
                group = list(merged.values())
        blocks += group
    return blocks


def _job_overrides(job: Job) -> list[str]:
    return [o for o in job.overrides if split_override(o)[0].lstrip("+~") not in NEVER_PASSED]


def resume_commands(sweep: Sweep, python: str = sys.executable) -> list[str]:
    """Shell command lines (`cd CWD && python -m fashion_transfer.train ...`); [] if none needed."""
    todo = [job for job in sweep.jobs if job.state in UNFINISHED]
    if not todo:
        return []
    where = f"cd {shlex.quote(sweep.cwd)} && " if sweep.cwd else ""
    base = [python, "-m", "fashion_transfer.train"]
    if not sweep.multirun:
        (job,) = todo
        args = [*_job_overrides(job), *sweep.hydra_overrides, f"hydra.run.dir={sweep.launch_dir}"]
        return [where + shlex.join(base + args)]
    lines = []
    for block in product_blocks([_job_overrides(job) for job in todo]):
        args = [f"{key}={','.join(values)}" for key, values in block]
        args += [*sweep.hydra_overrides, f"hydra.sweep.dir={sweep.launch_dir}"]
        lines.append(where + shlex.join([*base, "-m", *args]))
    return lines
