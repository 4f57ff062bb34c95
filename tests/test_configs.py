"""Every file in every config group composes with the real root config and instantiates."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from fashion_transfer.conf import CONF_DIR
from fashion_transfer.data.base import Domain

GROUPS = [
    "dataset",
    "model",
    "optimizer",
    "schedule",
    "strategy",
    "logger",
    "paths",
    "experiment",
    "label_map",
]


def _files(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def test_every_group_has_files():
    for group in GROUPS:
        assert _files(group), group


@pytest.mark.parametrize("name", _files("dataset"))
def test_dataset_configs_load(name, make_cfg, tiny_synth, tiny_data):
    data_dir = tiny_data
    if name == "deepfashion":  # the real layout, here written by FashionSynth
        (data_dir / "DeepFashion").symlink_to(tiny_synth / "wild")
    idx_format = name in ("fashion_mnist", "synth_studio")
    cfg = make_cfg(
        f"dataset@source={name}",
        f"paths.synth_dir={tiny_synth}",
        f"paths.data_dir={data_dir}",
        "source.val_size=50" if idx_format else "source.cache=false",
    )
    domain = instantiate(cfg.source)
    assert isinstance(domain, Domain) and len(domain.train) and len(domain.val) and len(domain.test)
    x, y = domain.train.batch(torch.arange(4))
    assert x.dtype == torch.uint8 and x.shape[1:] == (
        domain.channels,
        domain.resolution,
        domain.resolution,
    )
    assert int(y.max()) < domain.num_classes


@pytest.mark.parametrize("name", _files("model"))
def test_model_configs_instantiate(name, make_cfg):
    cfg = make_cfg(f"model={name}", "model@backbone=efficientnet_lite0", "backbone.resolution=32")
    if name != "adapter":  # the adapter wraps ${backbone}; the others stand alone
        cfg.model.resolution = 32
    if name == "resnet":
        cfg.model.name = "resnet18"
    model = instantiate(cfg.model, num_classes=7)
    x = torch.rand(2, model.input_channels, model.input_size, model.input_size)
    assert model(x).shape == (2, 7) and model.num_classes == 7
    params = {id(p) for p in model.parameters()}
    split = [id(p) for p in model.backbone_parameters()] + [id(p) for p in model.head_parameters()]
    assert sorted(split) == sorted(params)


@pytest.mark.parametrize("opt", _files("optimizer"))
@pytest.mark.parametrize("sched", _files("schedule"))
def test_optimizer_and_schedule_configs(opt, sched, make_cfg):
    cfg = make_cfg(f"optimizer={opt}", f"schedule={sched}")
    param = torch.nn.Parameter(torch.zeros(3))
    optimizer = instantiate(cfg.optimizer)([param])
    scheduler = instantiate(cfg.schedule)(optimizer, steps_per_epoch=10, epochs=3)
    lrs = []
    for _ in range(30):
        optimizer.step()
        scheduler.step()
        lrs.append(optimizer.param_groups[0]["lr"])
    assert all(0 < lr <= cfg.optimizer.lr for lr in lrs)


@pytest.mark.parametrize("opt", _files("optimizer"))
def test_optimizers_are_fused_and_match_the_per_tensor_update(opt, make_cfg):
    """`fused: true` (one kernel per step, not torch's CPU loop over parameters) changes the speed,
    not the update: five steps on two parameter groups agree with the per-tensor optimizer."""
    cfg = make_cfg(f"optimizer={opt}")
    torch.manual_seed(0)
    a = [torch.nn.Parameter(torch.randn(4, 3)), torch.nn.Parameter(torch.randn(3))]
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    start = [p.detach().clone() for p in a]
    fused = instantiate(cfg.optimizer)([{"params": a[:1]}, {"params": a[1:], "weight_decay": 0.0}])
    loop = instantiate(cfg.optimizer, fused=False, foreach=False)(
        [{"params": b[:1]}, {"params": b[1:], "weight_decay": 0.0}]
    )
    assert fused.defaults["fused"] is True and not loop.defaults["fused"]
    for _ in range(5):
        grads = [torch.randn_like(p) for p in a]
        for p, q, g in zip(a, b, grads, strict=True):
            p.grad, q.grad = g.clone(), g.clone()
        fused.step()
        loop.step()
    for p, q, p0 in zip(a, b, start, strict=True):
        assert (p - p0).abs().min() > 1e-4  # every element moved
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", _files("logger"))
def test_logger_configs(name, make_cfg, tmp_path):
    cfg = make_cfg(f"logger={name}")
    tracker = instantiate(cfg.logger, _partial_=True)(
        run_dir=tmp_path, name="t", group="g", job_type="fmnist_baseline", run_config={"a": 1}
    )
    tracker.log({"x": 1.0}, step=1)
    tracker.finish()


@pytest.mark.parametrize("name", _files("strategy"))
def test_strategy_configs_compose(name, make_cfg):
    cfg = make_cfg(f"strategy={name}")
    assert cfg.strategy.name == name
    assert all(s.data in ("source", "target") for s in cfg.strategy.stages.values())


@pytest.mark.parametrize("name", _files("experiment"))
def test_experiment_configs_compose(name, make_cfg):
    cfg = make_cfg(f"experiment={name}", "strategy=adapter_pretrained")
    assert cfg.strategy.stages.target.epochs >= 1


def test_paths_and_label_map(make_cfg):
    cfg = make_cfg()
    assert set(cfg.paths) >= {"data_dir", "synth_dir", "cache_dir", "output_dir"}
    mapped = [n for names in cfg.label_map.classes.values() for n in names]
    assert len(mapped) + len(cfg.label_map.unmapped) == 50
