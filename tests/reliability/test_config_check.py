"""A bad configuration is rejected before any data is read or model built: one line, the key named."""

from __future__ import annotations

import re
import subprocess

import pytest
import timm
import torch
from hydra.errors import ConfigCompositionException

from fashion_transfer.config_check import MIN_SIDE_SIMPLE_CNN, MIN_SIDE_TIMM, check_group_choices
from fashion_transfer.errors import ConfigError
from fashion_transfer.models.simple_cnn import SimpleFashionCNN
from fashion_transfer.train import CONF_DIR, train

ADAPTER = ("experiment=smoke", "strategy=adapter_scratch")
BASELINE = ("experiment=smoke", "strategy=fmnist_baseline")
SCRATCH = ("experiment=smoke", "strategy=deepfashion_scratch")

CASES = [  # (overrides, what the message starts with)
    ((*ADAPTER, "budget.target.epochs=0"), "budget.target.epochs=0: must be a positive integer"),
    ((*ADAPTER, "budget.adapter_source.epochs=-2"), "budget.adapter_source.epochs=-2"),
    ((*ADAPTER, "budget.target.batch_size=0"), "budget.target.batch_size=0"),
    ((*BASELINE, "budget.source.batch_size=-32"), "budget.source.batch_size=-32"),
    ((*ADAPTER, "budget.target.lr=0"), "budget.target.lr=0: must be a positive number"),
    ((*BASELINE, "budget.source.lr=-0.001"), "budget.source.lr=-0.001"),
    ((*BASELINE, "budget.source.lr=null", "optimizer.lr=0"), "optimizer.lr=0"),
    ((*ADAPTER, "transfer.backbone_lr_factor=0"), "transfer.backbone_lr_factor=0"),
    ((*BASELINE, "budget.source.ema_decay=1.0"), "budget.source.ema_decay=1.0: must be in (0, 1)"),
    ((*ADAPTER, "budget.target.ema_decay=0"), "budget.target.ema_decay=0"),
    ((*ADAPTER, "transfer.unfreeze_after=3"), "transfer.unfreeze_after=3: must be an integer"),
    ((*ADAPTER, "transfer.unfreeze_after=-1"), "transfer.unfreeze_after=-1"),
    ((*ADAPTER, "target.train_fraction=0"), "target.train_fraction=0: must be in (0, 1]"),
    ((*ADAPTER, "target.train_fraction=1.5"), "target.train_fraction=1.5"),
    ((*BASELINE, "source.train_fraction=-0.5"), "source.train_fraction=-0.5"),
    ((*SCRATCH, "backbone.resolution=16"), "backbone.resolution=16: must be an integer >= 32"),
    ((*SCRATCH, "backbone.resolution=31"), "backbone.resolution=31"),
    ((*SCRATCH, "backbone.resolution=40.5"), "backbone.resolution=40.5"),
    ((*SCRATCH, "model@backbone=resnet", "backbone.resolution=24"), "backbone.resolution=24"),
    ((*ADAPTER, "model.resolution=16"), "model.resolution=16: must be an integer >= 32"),
    ((*ADAPTER, "backbone.resolution=8"), "backbone.resolution=8"),
    ((*BASELINE, "model.resolution=4"), "model.resolution=4: must be an integer >= 8"),
    ((*SCRATCH, "backbone.prepad_depthwise=off"), "backbone.prepad_depthwise=off: choose true or"),
    ((*SCRATCH, "backbone.pretrained=no"), "backbone.pretrained=no: choose true or false"),
    ((*ADAPTER, "backbone.channels_last=1"), "backbone.channels_last=1: choose true or false"),
    ((*BASELINE, "model.pool_first=off"), "model.pool_first=off: choose true or false"),
    ((*SCRATCH, "target.resolution=0"), "target.resolution=0: must be a positive integer"),
    ((*SCRATCH, "target.view=fmnist"), "target.resolution=32: must be 28 with target.view=fmnist"),
    ((*SCRATCH, "logger=wandb", "logger.init_timeout=0"), "logger.init_timeout=0"),
    ((*BASELINE, "target.fmnist_background=blur"), "target.fmnist_background=blur: choose one of"),
    (
        (*BASELINE, "eval.zero_shot_backgrounds=[keep,blur]"),
        "eval.zero_shot_backgrounds=[keep,blur]",
    ),
    ((*SCRATCH, "target.root=/nonexistent/wild"), "target.root=/nonexistent/wild: no such folder"),
    # deepfashion_scratch reads the source only to score the model back on it, at the very end:
    ((*SCRATCH, "source.root=/nonexistent/src"), "source.root=/nonexistent/src: no such folder"),
    ((*BASELINE, "source.root=/nonexistent/src"), "source.root=/nonexistent/src"),
]


@pytest.mark.parametrize("overrides, expected", CASES, ids=[c[0][-1] for c in CASES])
def test_bad_value_rejected_before_data_or_model(
    overrides, expected, make_cfg, tiny_synth, tmp_path, monkeypatch
):
    def untouchable(*args, **kwargs):
        raise AssertionError("data was read or a model built before the check")

    for name in ("_load_domain", "instantiate", "build"):  # whichever builds data and models
        monkeypatch.setattr(f"fashion_transfer.training.run.{name}", untouchable, raising=False)
    cfg = make_cfg(*overrides, f"paths.synth_dir={tiny_synth}", run_dir=tmp_path / "run")
    with pytest.raises(ConfigError) as err:
        train(cfg)
    message = str(err.value)
    assert message.startswith(expected), message
    assert "\n" not in message
    assert not (tmp_path / "run").exists()  # nothing written either


def test_a_wrongly_typed_value_fails_at_composition(make_cfg):
    """Typed keys (conf/schema.py) refuse a value of another type with Hydra's own message."""
    with pytest.raises(ConfigCompositionException) as err:
        make_cfg(*ADAPTER, "budget.target.epochs=1.5")
    assert "Error merging override budget.target.epochs=1.5" in str(err.value)
    assert "could not be converted to Integer" in str(err.value.__cause__)


def test_missing_data_root_names_the_paths_key(make_cfg, tmp_path):
    cfg = make_cfg(*SCRATCH, f"paths.synth_dir={tmp_path / 'nowhere'}")
    with pytest.raises(ConfigError, match=r"set paths\.synth_dir or target\.root"):
        train(cfg)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_device_without_cuda(make_cfg, tiny_synth):
    cfg = make_cfg(*BASELINE, f"paths.synth_dir={tiny_synth}", "device=cuda:0")
    with pytest.raises(ConfigError, match=r"^device=cuda:0: no CUDA device here"):
        train(cfg)


def test_the_smoke_configs_pass(make_cfg, tiny_synth):
    from fashion_transfer.config_check import check_config

    for strategy in ("fmnist_baseline", "deepfashion_scratch", "adapter_scratch"):
        check_config(
            make_cfg("experiment=smoke", f"strategy={strategy}", f"paths.synth_dir={tiny_synth}")
        )


@pytest.mark.parametrize("name", ["resnet18", "tf_efficientnet_lite0"])
def test_min_side_is_the_backbones_total_stride(name):
    """The rule's 32 px: timm's backbones reduce the input 5 times (a 1x1 map at 32 px)."""
    model = timm.create_model(name, pretrained=False, num_classes=0)
    assert model.feature_info[-1]["reduction"] == MIN_SIDE_TIMM


def test_min_side_of_simple_cnn():
    """Three poolings: 8 px leaves a 1x1 map; below it the head would have no input at all."""
    model = SimpleFashionCNN(num_classes=10, resolution=MIN_SIDE_SIMPLE_CNN).eval()
    assert model(torch.rand(2, 1, MIN_SIDE_SIMPLE_CNN, MIN_SIDE_SIMPLE_CNN)).shape == (2, 10)
    assert model.num_features == model.features[-1][0].out_channels  # 1x1 map


def test_entrypoint_prints_one_line_and_exits_2(tiny_synth, tmp_path, helpers):
    run = tmp_path / "run"
    proc = subprocess.run(
        helpers.train_cmd(
            *ADAPTER,
            f"paths.synth_dir={tiny_synth}",
            "budget.target.epochs=0",
            f"hydra.run.dir={run}",
        ),
        capture_output=True,
        text=True,
        env=helpers.cli_env(tmp_path),
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: budget.target.epochs=0: must be a positive integer "
        "(read as strategy.stages.target.epochs)"
    ]
    assert not (run / "metrics.json").exists()


def test_unknown_strategy_gets_one_line_before_hydra_composes(tiny_synth, tmp_path, helpers):
    """Checked from the command line, before Hydra would print its dozen-line error: exit code 2,
    no run, and in a multirun no job of the sweep starts."""
    for mode in ([], ["-m"]):
        out = tmp_path / f"out{len(mode)}"
        proc = subprocess.run(
            helpers.train_cmd(
                *mode,
                "strategy=fmnist_baseline,foo" if mode else "strategy=foo",
                f"paths.synth_dir={tiny_synth}",
                f"hydra.run.dir={out}",
                f"hydra.sweep.dir={out}",
            ),
            capture_output=True,
            text=True,
            env=helpers.cli_env(tmp_path),
            timeout=120,
        )
        assert proc.returncode == 2
        assert proc.stderr.strip().splitlines() == [
            "error: strategy=foo: there is no conf/strategy/foo.yaml; choose one of "
            "adapter_pretrained, adapter_scratch, deepfashion_imagenet, deepfashion_scratch, "
            "fmnist_baseline"
        ]
        assert not out.exists()


@pytest.mark.parametrize(
    "overrides",
    [
        ["strategy=fmnist_baseline", "seed=3", "budget.source.lr=0.1"],
        ["-m", "strategy=glob(*)", "seed=0,1,2"],  # sweep functions are Hydra's to expand
        ["dataset@target=synth_wild", "+experiment=smoke", "model=resnet"],
        ["strategy=adapter_scratch,fmnist_baseline", "strategy='fmnist_baseline'"],
        ["hydra/launcher=submitit_slurm", "hydra.run.dir=x", "~logger", "logger=null"],
        ["hydra/launcher=basic", "hydra/sweeper=basic", "hydra/job_logging=disabled"],
        ["hydra/launcher=joblib,submitit_local", "hydra/nonexistent_group=x"],
    ],
)
def test_group_choices_that_exist_or_are_hydras_pass(overrides):
    check_group_choices(overrides, CONF_DIR)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["strategy=fmnist_baseline,nope"], "strategy=nope: there is no conf/strategy/nope.yaml"),
        (["dataset@source=nope"], "dataset@source=nope: there is no conf/dataset/nope.yaml"),
        (["+experiment=nope"], "experiment=nope: there is no conf/experiment/nope.yaml"),
        (["optimizer=adam"], "choose one of adamw, sgd"),
        (
            ["hydra/launcher=submitit_slurmm"],  # a plugin's launcher, misspelt
            "hydra/launcher=submitit_slurmm: there is no hydra/launcher option 'submitit_slurmm' "
            "in Hydra or its installed plugins; choose one of basic, joblib, submitit_local, "
            "submitit_slurm",
        ),
        (["hydra/job_logging=verbose"], "choose one of default, disabled, none, stdout"),
    ],
)
def test_unknown_group_choice_names_the_option_and_the_choices(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_group_choices(overrides, CONF_DIR)
