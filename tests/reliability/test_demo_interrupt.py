"""Ctrl-C during `make demo` stops both of its sweeps, the one it runs in the background too.

The Makefile's interpreter (`PY`) is replaced by a stand-in, so the recipe itself is what runs:
the synth step passes, the Fashion-MNIST-view sweep (started with `&`, which makes it ignore
Ctrl-C) would run for a minute, the main sweep stops on SIGINT with 130 as the real one does.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

STAND_IN = """#!/bin/bash
case "$*" in
  *fashion_transfer.synth*) exit 0 ;;
  *strategy=fmnist_baseline*)
    echo $$ > "$DEMO_TEST/view.pid"
    exec "$REAL_PY" -c "import time; time.sleep(60); open('$DEMO_TEST/view.finished', 'w')" ;;
  *fashion_transfer.train*)
    exec "$REAL_PY" -c "
import pathlib, sys, time
pathlib.Path('$DEMO_TEST/main.started').touch()
try:
    time.sleep(60)
except KeyboardInterrupt:
    sys.exit(130)" ;;
esac
exit 9
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_ctrl_c_in_make_demo_stops_the_background_sweep_too(tmp_path):
    fake = tmp_path / "python"
    fake.write_text(STAND_IN)
    fake.chmod(0o755)
    stamp = tmp_path / "installed"
    stamp.touch()  # newer than pyproject.toml: make does not install
    env = {**os.environ, "DEMO_TEST": str(tmp_path), "REAL_PY": sys.executable}
    proc = subprocess.Popen(
        [
            "make",
            "--no-print-directory",
            "demo",
            f"PY={fake}",
            f"STAMP={stamp}",
            f"SWEEP={tmp_path / 'sweep'}",
            f"SYNTH={tmp_path / 'synth'}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the terminal's Ctrl-C goes to all of it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 30
    while not ((tmp_path / "main.started").exists() and (tmp_path / "view.pid").exists()):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    view = int((tmp_path / "view.pid").read_text())
    os.killpg(proc.pid, signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=30)  # the view sweep alone would take 60 s
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        os.kill(view, signal.SIGKILL)
        pytest.fail("make demo kept waiting for its background sweep after Ctrl-C")
    assert proc.returncode != 0, out
    assert "130" in err, err  # make names the main sweep's exit status
    assert "Fashion-MNIST-view sweep failed" not in err  # stopped, not failed
    assert not _alive(view)
    assert not (tmp_path / "view.finished").exists()
