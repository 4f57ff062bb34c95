"""TimmClassifier: the model interface, pretrained_file loading and fail-fast hub access.

Everything runs on timm's tiny `test_resnet`/`test_efficientnet` at 32 px; no test touches the
network (the hub is pointed at a closed local port and an empty cache).
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
import timm
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from fashion_transfer import network
from fashion_transfer.conf import CONF_DIR
from fashion_transfer.errors import ConfigError
from fashion_transfer.models import hub
from fashion_transfer.models.backbone import (
    IMAGENET_MEAN,
    PrePaddedConv2d,
    TimmClassifier,
    prepad_depthwise_convs,
)

CONF = CONF_DIR / "model"
TINY = dict(name="test_resnet", resolution=32)


def tiny(num_classes: int = 5, **kwargs) -> TimmClassifier:
    torch.manual_seed(0)
    return TimmClassifier(num_classes, **{**TINY, **kwargs})


def assert_partition(model: torch.nn.Module) -> None:
    """backbone_parameters() and head_parameters() cover every parameter exactly once."""
    ids = [id(p) for p in [*model.backbone_parameters(), *model.head_parameters()]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in model.parameters()}


@pytest.fixture
def no_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An unreachable hub (closed local port), an empty HF cache, offline mode off."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "hf"


def test_interface_shapes_and_split() -> None:
    model = tiny().eval()
    x = torch.rand(2, 3, 32, 32)
    features = model.forward_features(x)
    assert features.shape == (2, model.num_features)
    assert torch.equal(model.forward_head(features), model(x))
    assert model(x).shape == (2, 5)
    assert (model.input_channels, model.input_size, model.num_classes) == (3, 32, 5)
    assert_partition(model)


def test_normalisation_inside_from_config_or_timm() -> None:
    assert torch.equal(
        tiny().mean.flatten(), torch.tensor([0.5, 0.5, 0.5])
    )  # timm's for test_resnet
    model = tiny(mean=IMAGENET_MEAN, std=(0.229, 0.224, 0.225)).eval()
    assert torch.allclose(model.mean.flatten(), torch.tensor(IMAGENET_MEAN))
    x = torch.rand(2, 3, 32, 32)
    expected = model.model((x - model.mean) / model.std)
    assert torch.allclose(model(x), expected)
    assert "mean" in model.state_dict()  # checkpoints carry the normalisation


def test_reset_classifier_gives_a_new_head() -> None:
    model = tiny()
    old = model.head_parameters()
    model.reset_classifier(7)
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 7)
    assert {id(p) for p in model.head_parameters()}.isdisjoint(id(p) for p in old)
    assert_partition(model)


def test_channels_last_same_numbers() -> None:
    plain, fast = tiny().eval(), tiny(channels_last=True).eval()
    fast.load_state_dict(plain.state_dict())
    convs = [p for p in fast.model.parameters() if p.dim() == 4]
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    x = torch.rand(2, 3, 32, 32)
    assert torch.allclose(plain(x), fast(x), atol=1e-5)


@pytest.mark.parametrize("channels_last", [False, True])
def test_prepadded_depthwise_convs_compute_the_same_network(channels_last: bool) -> None:
    # tf_efficientnet_lite0 as the demo builds it: padded depthwise 3x3 and 5x5 convs; the
    # stride-2 ones pad asymmetrically themselves (timm's Conv2dSame) and stay as they are.
    def lite0() -> TimmClassifier:
        torch.manual_seed(0)
        return TimmClassifier(
            6, name="tf_efficientnet_lite0", resolution=32, channels_last=channels_last
        )

    plain, fast = lite0(), lite0()
    changed = prepad_depthwise_convs(fast.model)
    padded = [
        m for m in plain.model.modules()
        if type(m) is torch.nn.Conv2d and m.groups == m.in_channels > 1 and any(m.padding)
    ]  # fmt: skip
    assert changed == len(padded) == 12
    assert sum(isinstance(m, PrePaddedConv2d) for m in fast.model.modules()) == 12

    def dense(model: TimmClassifier) -> list[str]:
        return [
            n
            for n, m in model.model.named_modules()
            if type(m) is torch.nn.Conv2d and m.groups == 1
        ]

    assert dense(fast) == dense(plain) != []  # dense convolutions stay as they are
    assert fast.state_dict().keys() == plain.state_dict().keys()  # checkpoints interchange
    assert all(
        torch.equal(a, b) for a, b in zip(plain.parameters(), fast.parameters(), strict=True)
    )
    x = torch.rand(4, 3, 32, 32)
    outs = []
    for model in (plain, fast):
        model.train()
        out = model(x)
        out.square().sum().backward()
        outs.append((out.detach(), [p.grad for p in model.parameters()]))
    (out_a, grads_a), (out_b, grads_b) = outs
    assert torch.allclose(out_a, out_b, atol=1e-5)
    # each gradient to float rounding of its own scale (some reach 1e4 at random init)
    assert all(
        (a - b).abs().max() <= 1e-5 * a.abs().max() for a, b in zip(grads_a, grads_b, strict=True)
    )


def test_prepad_is_off_in_the_model_configs_and_works_when_typed() -> None:
    cfg = OmegaConf.load(CONF / "efficientnet_lite0.yaml")
    assert cfg.prepad_depthwise is False  # it helps on some CPUs and slows others (README)
    model = instantiate(cfg, num_classes=3, resolution=32)
    assert not any(isinstance(m, PrePaddedConv2d) for m in model.modules())
    on = instantiate(cfg, num_classes=3, resolution=32, prepad_depthwise=True)
    assert sum(isinstance(m, PrePaddedConv2d) for m in on.modules()) == 12
    assert OmegaConf.load(CONF / "resnet.yaml").prepad_depthwise is False


def test_config_file_instantiates() -> None:
    cfg = OmegaConf.load(CONF / "resnet.yaml")
    model = instantiate(cfg, num_classes=4, name="test_resnet", resolution=32)
    assert isinstance(model, TimmClassifier) and model.num_classes == 4
    assert torch.allclose(model.mean.flatten(), torch.tensor(IMAGENET_MEAN))


def trained_like(model: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """A state dict unlike any fresh init: every float tensor moved (BN ones/zeros included)."""
    gen = torch.Generator().manual_seed(seed)
    return {
        k: (v + 0.1 * torch.rand(v.shape, generator=gen) + 0.01) if v.is_floating_point() else v
        for k, v in model.state_dict().items()
    }


def test_pretrained_file_loads_its_weights_with_a_new_head(tmp_path: Path) -> None:
    source = trained_like(timm.create_model("test_resnet"), 1)  # 1000-way, as ImageNet's
    file = tmp_path / "weights.pth"
    torch.save(source, file)
    model = tiny(4, pretrained=True, pretrained_file=str(file))
    random = tiny(4).model.state_dict()
    head = hub.classifier_keys(model.model)
    loaded = model.model.state_dict()
    trunk = [k for k in source if k not in head and not k.endswith("num_batches_tracked")]
    assert len(trunk) > 50
    for key in trunk:
        assert torch.equal(loaded[key], source[key]), key
        assert not torch.equal(loaded[key], random[key]), key
    assert model.model.get_classifier().weight.shape == (4, model.num_features)


def test_pretrained_file_head_of_task_size_is_still_reset(tmp_path: Path) -> None:
    source = trained_like(timm.create_model("test_resnet", num_classes=4), 2)
    file = tmp_path / "four.pth"
    torch.save(source, file)
    model = tiny(4, pretrained=True, pretrained_file=file)
    assert not torch.equal(model.model.fc.weight, source["fc.weight"])
    assert torch.equal(model.model.conv1[0].weight, source["conv1.0.weight"])


def test_pretrained_file_missing_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="backbone.pretrained_file") as err:
        tiny(pretrained=True, pretrained_file=tmp_path / "nope.pth")
    assert "\n" not in str(err.value)


def test_pretrained_file_of_another_architecture_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "other.pth"
    torch.save(timm.create_model("test_efficientnet").state_dict(), file)
    with pytest.raises(ConfigError, match="backbone.pretrained_file") as err:
        tiny(pretrained=True, pretrained_file=file)
    assert "\n" not in str(err.value)


def test_pretrained_file_ignored_for_scratch_models(tmp_path: Path) -> None:
    """A sweep-wide file override must leave the scratch twins random (and not fail)."""
    model = tiny(pretrained=False, pretrained_file=tmp_path / "nope.pth")
    assert isinstance(model, TimmClassifier)


def test_unknown_model_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="backbone.name=no_such_net"):
        TimmClassifier(3, name="no_such_net")


def test_unreachable_hub_fails_fast_naming_pretrained_file(no_hub: Path) -> None:
    with pytest.raises(ConfigError, match="backbone.pretrained_file") as err:
        tiny(pretrained=True)
    assert "\n" not in str(err.value)


def test_hub_offline_mode_checks_only_the_cache(
    no_hub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "reachable", lambda *a, **k: pytest.fail("probed the network"))
    with pytest.raises(ConfigError, match="HF_HUB_OFFLINE.*backbone.pretrained_file"):
        tiny(pretrained=True)


def test_hub_cache_is_used_without_network(no_hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from safetensors.torch import save_file

    torch.manual_seed(3)
    source = timm.create_model("test_resnet")
    repo_id = timm.models.get_pretrained_cfg("test_resnet").hf_hub_id
    commit = "0" * 40
    repo = no_hub / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    save_file(source.state_dict(), repo / "snapshots" / commit / "model.safetensors")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = tiny(3, pretrained=True)
    assert torch.equal(model.model.conv1[0].weight, source.conv1[0].weight)
    assert model.num_classes == 3


def test_probe_refused_port_is_unreachable() -> None:
    assert not network.reachable("http://127.0.0.1:9", timeout=3)


def test_probe_gives_up_on_a_hanging_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe answers while the connect still hangs (no timing: an event says who finished)."""
    release = threading.Event()

    def hang(*args, **kwargs) -> socket.socket:
        release.wait(60)
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    assert not network.reachable("https://huggingface.co", timeout=0.3)
    assert not release.is_set()  # the probe returned without waiting for the connect to end
    release.set()
