"""What `python -m fashion_transfer.status` prints: a table per sweep, counts, the W&B sync line."""

from __future__ import annotations

import shlex
from collections import Counter
from pathlib import Path

from fashion_transfer.operations.job_state import RUNNING, STATES, Job
from fashion_transfer.operations.relaunch import resume_commands
from fashion_transfer.operations.sweep import Sweep

COLUMNS = ("job", "strategy", "seed", "varies", "state", "wall", "headline")


def counts(sweeps: list[Sweep]) -> dict[str, int]:
    tally = Counter(job.state for sweep in sweeps for job in sweep.jobs)
    return {state: tally.get(state, 0) for state in STATES}


def summary_line(sweeps: list[Sweep]) -> str:
    tally = counts(sweeps)
    total = sum(tally.values())
    return f"{total} job{'s' if total != 1 else ''}: " + ", ".join(
        f"{n} {state}" for state, n in tally.items()
    )


def unsynced(sweeps: list[Sweep]) -> tuple[list[Path], int]:
    """Offline W&B runs to upload, and how many more belong to running jobs (still written)."""
    ready, live = [], 0
    for job in (j for s in sweeps for j in s.jobs):
        if job.state == RUNNING:
            live += len(job.wandb_unsynced)
        else:
            ready += job.wandb_unsynced
    return ready, live


def sync_command(runs: list[Path]) -> str | None:
    return shlex.join(["wandb", "sync", *(str(p) for p in runs)]) if runs else None


def _name(job: Job, sweep: Sweep) -> str:
    if job.folder is None:
        return "-"
    return job.folder.name if job.folder != sweep.path else "."


def _wall(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return (
        f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
    )


def _headline(job: Job) -> str:
    return f"{job.headline['key']} {100 * job.headline['value']:.1f}%" if job.headline else "-"


def _state(job: Job) -> str:
    return f"{job.state}: {job.detail}" if job.detail and job.folder is not None else job.state


def table(sweep: Sweep) -> str:
    rows = [
        (
            _name(job, sweep),
            job.strategy or "?",
            "?" if job.seed is None else str(job.seed),
            " ".join(f"{k}={v}" for k, v in job.varies.items()) or "-",
            _state(job),
            _wall(job.wall_time_s),
            _headline(job),
        )
        for job in sweep.jobs
    ]
    # The state (with its reason) goes last but one and may be long: pad the columns before it.
    widths = [max(len(r[i]) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    order = (0, 1, 2, 3, 5, 6, 4)
    lines = [
        "  ".join(str(row[i]).ljust(widths[i]) if i != 4 else row[i] for i in order).rstrip()
        for row in [COLUMNS, *rows]
    ]
    kind = "sweep" if sweep.multirun and sweep.path.resolve() == sweep.launch_dir else "run"
    title = f"{kind} {sweep.path}"
    notes = [f"note: {sweep.note}"] if sweep.note else []
    never = [j for j in sweep.jobs if j.folder is None]
    if never:
        notes.append(
            f"never started: {len(never)} (expected in "
            + ", ".join(
                f"{sweep.path / j.detail.removeprefix('no folder ').rstrip('/')}" for j in never[:3]
            )
            + (", ..." if len(never) > 3 else "")
            + ")"
        )
    return "\n".join([title, *notes, *lines])


def text(sweeps: list[Sweep]) -> str:
    parts = [table(s) for s in sweeps] + [summary_line(sweeps)]
    ready, live = unsynced(sweeps)
    if ready:
        parts.append(f"W&B: {len(ready)} offline run(s) not synced: {sync_command(ready)}")
    if live:
        parts.append(f"W&B: {live} more offline run(s) belong to running jobs; sync them when done")
    return "\n\n".join(parts)


def as_json(sweeps: list[Sweep]) -> dict:
    ready, live = unsynced(sweeps)
    return {
        "sweeps": [
            {
                "path": str(s.path),
                "multirun": s.multirun,
                "note": s.note,
                "jobs": [j.as_dict() for j in s.jobs],
                "resume_commands": resume_commands(s),
            }
            for s in sweeps
        ],
        "counts": counts(sweeps),
        "wandb_unsynced": [str(p) for p in ready],
        "wandb_sync_command": sync_command(ready),
        "wandb_unsynced_running": live,
    }
