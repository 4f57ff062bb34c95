"""Timing primitives: cases run in interleaved rounds, medians, device sync, machine facts."""

from __future__ import annotations

import os
import platform
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch


@dataclass
class Case:
    """One thing to time: `run()` does a fixed amount of work and returns the images it handled."""

    name: str
    run: Callable[[], int]
    batch_size: int | None = None
    note: str = ""
    rates: list[float] = field(default_factory=list)  # images/second of each timed round
    gpu_peak_mb: float | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.rates) if self.rates else float("nan")


def sync(device: torch.device) -> None:
    """Wait for queued device work, so a clock reading covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(cases: list[Case], repeats: int, device: torch.device) -> list[Case]:
    """Warm each case up once, then time `repeats` rounds of all of them, interleaved.

    The order rotates every round, so no case always follows the same neighbour and a change in
    the machine's load is spread over every case instead of landing on one.
    """
    for case in cases:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        case.run()
        sync(device)
        if device.type == "cuda":
            case.gpu_peak_mb = torch.cuda.max_memory_allocated(device) / 2**20
    for r in range(repeats):
        k = r % len(cases)
        for case in cases[k:] + cases[:k]:
            sync(device)
            start = time.perf_counter()
            images = case.run()
            sync(device)
            case.rates.append(images / (time.perf_counter() - start))
    return cases


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    """(fn(), seconds it took)."""
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def peak_memory_mb() -> dict[str, float]:
    """Peak resident memory of this process and of its finished children (DataLoader workers)."""
    kib = 1024.0  # ru_maxrss is in KiB on Linux
    return {
        "self_max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / kib,
        "children_max_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / kib,
    }


def machine(device: torch.device, threads: int) -> dict:
    """What the numbers were measured on."""
    info = {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or platform.machine(),
        "cpu_cores": os.cpu_count(),
        "torch": torch.__version__,
        "threads": threads,
        "python": platform.python_version(),
    }
    info["cpu_model"] = _cpu_model()
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
