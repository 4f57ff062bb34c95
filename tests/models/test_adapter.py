"""FashionAdapter: gray replication at init, the RGB bypass, freezing, Hydra composition, and the
timm gray-stem variant."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from timm.models import adapt_input_conv

from fashion_transfer.conf import CONF_DIR
from fashion_transfer.errors import ConfigError
from fashion_transfer.models.adapter import FashionAdapter, resize, to_gray
from fashion_transfer.models.backbone import TimmClassifier
from fashion_transfer.models.freeze import backbone_frozen, set_backbone_trainable
from fashion_transfer.models.weights import create_efficientnet_lite0

CONF = CONF_DIR / "model"
R = 32


def adapter(num_classes: int = 5) -> FashionAdapter:
    torch.manual_seed(0)
    return FashionAdapter(TimmClassifier(num_classes, name="test_resnet", resolution=R))


def assert_partition(model: torch.nn.Module) -> None:
    ids = [id(p) for p in [*model.backbone_parameters(), *model.head_parameters()]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in model.parameters()}


def test_init_replicates_gray_exactly() -> None:
    model = adapter()
    gray = torch.rand(4, 1, 28, 28)
    assert torch.equal(model.mix(gray), gray.repeat(1, 3, 1, 1))
    expected = F.interpolate(gray, size=(R, R), mode="bilinear", align_corners=False)
    assert torch.allclose(model.adapt(gray), expected.repeat(1, 3, 1, 1), atol=1e-6)


def test_rgb_bypasses_the_mixing() -> None:
    model = adapter()
    with torch.no_grad():
        model.mix.weight.fill_(7.0)  # would change any input that went through it
    rgb = torch.rand(2, 3, R, R)
    assert model.adapt(rgb) is rgb
    big = torch.rand(2, 3, 2 * R, 2 * R)
    assert torch.equal(model.adapt(big), resize(big, R))
    assert model(big).shape == (2, 5)


def test_resize_antialiases_only_when_shrinking() -> None:
    x = torch.rand(1, 3, 64, 64)
    assert torch.equal(
        resize(x, 16), F.interpolate(x, size=(16, 16), mode="bilinear", antialias=True)
    )
    small = torch.rand(1, 1, 28, 28)
    assert torch.equal(resize(small, 56), F.interpolate(small, size=(56, 56), mode="bilinear"))


def test_interface() -> None:
    model = adapter().eval()
    gray = torch.rand(2, 1, 28, 28)
    features = model.forward_features(gray)
    assert features.shape == (2, model.backbone.num_features)
    assert torch.equal(model.forward_head(features), model(gray))
    assert (model.input_channels, model.input_size, model.num_classes) == (3, R, 5)
    assert model.accepts_channels == (1, 3) and model.accepts_any_input
    with pytest.raises(ValueError, match="1 or 3 channels"):
        model(torch.rand(2, 2, 28, 28))
    assert_partition(model)
    assert {id(p) for p in model.mix.parameters()} <= {id(p) for p in model.head_parameters()}
    model.reset_classifier(9)
    assert model(gray).shape == (2, 9) and model.num_classes == 9
    assert torch.equal(model.mix.weight, torch.ones(3, 1, 1, 1))
    assert_partition(model)


def _step(model: torch.nn.Module, x: torch.Tensor) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1)
    for _ in range(2):
        opt.zero_grad()
        F.cross_entropy(model(x), torch.tensor([0, 1, 2, 3])).backward()
        opt.step()


def _trunk_state(model: FashionAdapter) -> dict[str, torch.Tensor]:
    head = {k for k in model.backbone.model.state_dict() if k.startswith("fc.")}
    return {k: v.clone() for k, v in model.backbone.model.state_dict().items() if k not in head}


@pytest.mark.parametrize("how", ["methods", "function"])
def test_frozen_backbone_does_not_move_then_trains_after_unfreeze(how: str) -> None:
    model = adapter().train()
    freeze = (
        model.freeze_backbone if how == "methods" else lambda: set_backbone_trainable(model, False)
    )
    x = torch.rand(4, 1, 28, 28)
    before, head_before = _trunk_state(model), model.backbone.model.fc.weight.clone()
    freeze()
    freeze()  # idempotent: the loop calls it every epoch
    model.train()  # as train_one_epoch does; BatchNorm must stay in eval mode anyway
    assert backbone_frozen(model) and model.backbone_frozen
    _step(model, x)
    after = _trunk_state(model)
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and BN statistics
    assert not torch.equal(model.backbone.model.fc.weight, head_before)
    assert not torch.equal(model.mix.weight, torch.ones(3, 1, 1, 1))
    model.unfreeze_backbone()
    assert not backbone_frozen(model)
    assert all(m.training for m in model.modules())
    _step(model, x)
    after = _trunk_state(model)
    assert not torch.equal(before["conv1.0.weight"], after["conv1.0.weight"])
    assert not torch.equal(before["conv1.1.running_mean"], after["conv1.1.running_mean"])


def test_non_adapter_models_freeze_the_same_way() -> None:
    torch.manual_seed(0)
    model = TimmClassifier(4, name="test_resnet", resolution=R).train()
    before = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("model.fc")}
    set_backbone_trainable(model, False)
    x = torch.rand(4, 3, R, R)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.1)
    F.cross_entropy(model(x), torch.tensor([0, 1, 2, 3])).backward()
    opt.step()
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def _conf_tree(tmp_path: Path) -> Path:
    """A minimal root config holding a `backbone` node, as conf/config.yaml is meant to."""
    (tmp_path / "model").mkdir()
    for name in ("resnet", "efficientnet_lite0", "adapter"):
        shutil.copy(CONF / f"{name}.yaml", tmp_path / "model" / f"{name}.yaml")
    (tmp_path / "config.yaml").write_text(
        "defaults:\n  - model@backbone: resnet\n  - model: adapter\n  - _self_\n"
        "transfer:\n  input_adapter: learned\n"  # the root key model/adapter.yaml reads
    )
    return tmp_path


@pytest.mark.parametrize(
    "overrides",
    [
        ["backbone.name=test_resnet", f"backbone.resolution={R}"],
        ["model@backbone=efficientnet_lite0", f"backbone.resolution={R}"],
    ],
)
def test_adapter_config_builds_its_backbone_with_the_same_classes(
    tmp_path: Path, overrides: list[str]
) -> None:
    with initialize_config_dir(config_dir=str(_conf_tree(tmp_path)), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    model = instantiate(cfg.model, num_classes=6)
    assert isinstance(model, FashionAdapter)
    assert isinstance(model.backbone, TimmClassifier)
    assert (model.num_classes, model.backbone.num_classes, model.input_size) == (6, 6, R)
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 6)
    # the same node also builds the non-adapter strategies' model
    assert instantiate(cfg.backbone, num_classes=3).num_classes == 3


def test_timm_stem_builds_a_gray_backbone_and_takes_both_inputs() -> None:
    torch.manual_seed(0)
    cfg = {"_target_": "fashion_transfer.models.backbone.TimmClassifier", "name": "test_resnet"}
    model = FashionAdapter({**cfg, "resolution": R}, num_classes=5, input_adapter="timm_stem")
    assert model.mix is None and model.input_channels == 1
    assert model.backbone.model.conv1[0].weight.shape[1] == 1  # timm built it with in_chans=1
    assert model.backbone.mean.shape == (1, 1, 1, 1)
    rgb = torch.rand(2, 3, 2 * R, 2 * R)
    assert torch.allclose(model.adapt(rgb), resize(to_gray(rgb), R))
    gray = torch.rand(2, 1, 28, 28)
    assert torch.equal(model.adapt(gray), resize(gray, R))
    assert model(gray).shape == model(rgb).shape == (2, 5)
    assert_partition(model)
    with pytest.raises(ConfigError, match="transfer.input_adapter=rgb"):
        FashionAdapter({**cfg, "resolution": R}, num_classes=5, input_adapter="rgb")
    with pytest.raises(ConfigError, match="1 input channels, got 3"):
        FashionAdapter(TimmClassifier(5, name="test_resnet"), input_adapter="timm_stem")


def test_timm_stem_pretrained_is_timms_summed_rgb_stem() -> None:
    rgb = create_efficientnet_lite0(4, pretrained=True, resolution=R).model.conv_stem.weight
    model = FashionAdapter(
        {
            "_target_": "fashion_transfer.models.weights.create_efficientnet_lite0",
            "pretrained": True,
        },
        num_classes=4,
        resolution=R,
        input_adapter="timm_stem",
    )
    stem = model.backbone.model.conv_stem.weight
    assert stem.shape == (32, 1, 3, 3)
    assert torch.equal(stem, adapt_input_conv(1, rgb.detach()))
    assert torch.allclose(stem, rgb.sum(1, keepdim=True))
    # every other tensor is the RGB model's, so only the stem differs
    other = create_efficientnet_lite0(4, pretrained=True).model.blocks[0][0].conv_dw.weight
    assert torch.equal(model.backbone.model.blocks[0][0].conv_dw.weight, other)
