"""The suite installs like a library: a wheel built from this checkout, installed into a fresh
virtualenv with the source tree off the path, trains `experiment=smoke` (the adapter with the packaged
ImageNet weights: configs composed through the twins, weights found) from an unrelated folder.

The fresh virtualenv reaches the heavy dependencies (torch, timm, hydra, ...) through a `.pth`
line naming this environment's site-packages: a path listed in a `.pth` file is added to
`sys.path`, but the `.pth` files inside it (the editable install's hook to `src/`) are not run,
so `fashion_transfer` can only come from the wheel. The test checks that it does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
JUNK = ("__pycache__", "*.egg-info", "*.pyc")


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"{args[:4]} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The fresh virtualenv's bin folder, holding the wheel's console scripts."""
    root = tmp_path_factory.mktemp("wheel")
    # Built from a copy of what a wheel is made of: setuptools writes build/ and *.egg-info into
    # the tree it builds, and a build/ left in the checkout would feed stale modules to the next.
    tree = root / "tree"
    shutil.copytree(REPO / "src", tree / "src", ignore=shutil.ignore_patterns(*JUNK))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, tree / name)
    dist = root / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", dist, tree, cwd=root)  # fmt: skip
    (wheel,) = dist.glob("fashion_transfer-*.whl")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / "bin"
    python = bin_dir / "python"
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                     cwd=root).strip())  # fmt: skip
    (site / "suite_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel, cwd=root)
    return bin_dir


def test_the_wheel_trains_the_smoke_experiment_from_an_unrelated_folder(
    installed, tiny_synth, tmp_path
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{installed}{os.pathsep}{env['PATH']}"
    where = _run(installed / "python", "-c",
                 "import fashion_transfer.conf as c; print(c.__file__); print(c.CONF_DIR)",
                 cwd=elsewhere, env=env).split()  # fmt: skip
    assert all(str(installed.parent) in line for line in where), where
    assert not any(str(REPO / "src") in line for line in where), where
    assert (Path(where[1]) / "strategy" / "adapter_pretrained.yaml").is_file()
    _run(installed / "fashion-transfer-train", "experiment=smoke", "strategy=adapter_pretrained",
         f"paths.synth_dir={tiny_synth}", "hydra.run.dir=run", cwd=elsewhere, env=env)  # fmt: skip
    metrics = json.loads((elsewhere / "run" / "metrics.json").read_text())
    assert metrics["status"] == "completed"
    assert 0.0 <= metrics["test_acc"] <= 1.0
    assert metrics["strategy"] == "adapter_pretrained"
