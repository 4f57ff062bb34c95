"""The analysis, `status`'s reader of run records and the record itself import no torch.

They read finished runs on machines without it (a laptop, a login node), so a torch import
anywhere below them is a bug. Each check runs in a fresh interpreter: this test process has
torch loaded already.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import fashion_transfer.analysis


def _analysis_modules() -> list[str]:
    found = pkgutil.walk_packages(fashion_transfer.analysis.__path__, "fashion_transfer.analysis.")
    return sorted(m.name for m in found)


def test_every_analysis_module_is_found():
    names = _analysis_modules()
    assert "fashion_transfer.analysis.figures.common" in names  # the walk enters subpackages
    assert "fashion_transfer.analysis.rows" in names


def test_importing_the_analysis_and_the_record_loads_no_torch():
    modules = [
        "fashion_transfer.record",
        "fashion_transfer.analyze",
        "fashion_transfer.operations.job_state",
        *_analysis_modules(),
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_check_sees_a_torch_import():
    """The same check fails where torch is imported (the test can fail)."""
    code = "import sys, fashion_transfer.training.metrics; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
