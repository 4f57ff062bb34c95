"""Our launcher files reach submitit as intended: one GPU per job, requeues, the pre-emption signal.

The sbatch script is built the way hydra-submitit-launcher 1.2's `launch()` builds its executor,
without submitting it (no cluster here). Our files shadow the plugin's same-named configs, which
Hydra 1.3 still validates against the plugin's schema (with a deprecation warning).
"""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from omegaconf import OmegaConf

from fashion_transfer.conf import CONF_DIR

submitit = pytest.importorskip("submitit")  # the `launchers` extra
BaseQueueConf = pytest.importorskip("hydra_plugins.hydra_submitit_launcher.config").BaseQueueConf

CONF = str(CONF_DIR)
pytestmark = pytest.mark.filterwarnings(r"ignore:\s*'hydra/launcher/submitit_:UserWarning")


def _launcher_params(name: str, *overrides: str, sweep_dir) -> dict:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[f"hydra/launcher={name}", f"hydra.sweep.dir={sweep_dir}", *overrides],
            return_hydra_config=True,
        )
    GlobalHydra.instance().clear()
    return instantiate(cfg.hydra.launcher).params


def _executor(cluster: str, params: dict, folder) -> submitit.AutoExecutor:
    """What BaseSubmititLauncher.launch() does with its params before submitting."""
    init = {"folder": folder}
    if "max_num_timeout" in params:
        init[f"{cluster}_max_num_timeout"] = params["max_num_timeout"]
    executor = submitit.AutoExecutor(cluster=cluster, **init)
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(
        **{
            k if k in base else f"{cluster}_{k}": v
            for k, v in params.items()
            if k not in ("submitit_folder", "max_num_timeout")
        }
    )
    return executor


def test_submitit_slurm_asks_one_gpu_requeues_and_the_preemption_signal(tmp_path, monkeypatch):
    monkeypatch.setattr(submitit.SlurmExecutor, "affinity", classmethod(lambda cls: 1))  # no srun
    params = _launcher_params(
        "submitit_slurm", "hydra.launcher.partition=gpu", sweep_dir=tmp_path / "sweep"
    )
    assert params["gpus_per_node"] == 1 and params["tasks_per_node"] == 1
    assert params["max_num_timeout"] >= 1  # the plugin's default, 0, would never requeue
    assert params["submitit_folder"] == f"{tmp_path / 'sweep'}/.submitit/%j"
    executor = _executor("slurm", params, tmp_path / "jobs")
    assert executor._executor.max_num_timeout == params["max_num_timeout"]
    script = executor._executor._make_submission_file_text("python -m job", "uid")
    for line in (
        "#SBATCH --gpus-per-node=1",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --partition=gpu",
        f"#SBATCH --signal=USR2@{params['signal_delay_s']}",
        "#SBATCH --requeue",
        f"#SBATCH --time={params['timeout_min']}",
        f"#SBATCH --cpus-per-task={params['cpus_per_task']}",
    ):
        assert line in script.splitlines(), line


def test_submitit_local_does_not_hide_the_gpu(tmp_path):
    params = _launcher_params("submitit_local", sweep_dir=tmp_path / "sweep")
    executor = _executor("local", params, tmp_path / "jobs")
    # submitit's local executor exports CUDA_VISIBLE_DEVICES=range(gpus_per_node): 0 hides all.
    assert executor._executor.parameters["gpus_per_node"] >= 1
