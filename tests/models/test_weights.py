"""The packaged EfficientNet-Lite0 ImageNet weights map one-to-one onto timm's tf_efficientnet_lite0."""

from __future__ import annotations

import pytest
import timm
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import OmegaConf

from fashion_transfer.conf import CONF_DIR
from fashion_transfer.models import hub
from fashion_transfer.models.backbone import TimmClassifier
from fashion_transfer.models.weights import (
    LITE0_MEAN,
    LITE0_STD,
    LITE0_TENSORS,
    LITE0_TIMM_NAME,
    create_efficientnet_lite0,
    lite0_file,
    load_lite0_imagenet,
    map_lite0_state,
)

CONF = CONF_DIR / "model"


@pytest.fixture(scope="module")
def package_state() -> dict[str, torch.Tensor]:
    return torch.load(lite0_file(), map_location="cpu", weights_only=True)


def weights_only(state: dict[str, torch.Tensor]) -> list[tuple[str, torch.Tensor]]:
    return [(k, v) for k, v in state.items() if not k.endswith("num_batches_tracked")]


def test_every_packaged_tensor_maps_in_order_and_shape(package_state) -> None:
    timm_state = timm.create_model(LITE0_TIMM_NAME).state_dict()  # 1000-way, like the package
    src, dst = weights_only(package_state), weights_only(timm_state)
    assert len(src) == len(dst) == LITE0_TENSORS
    for (s_key, s_val), (t_key, t_val) in zip(src, dst, strict=True):
        assert s_val.shape == t_val.shape, (s_key, t_key)
    assert src[0][0] == "_conv_stem.weight" and dst[0][0] == "conv_stem.weight"
    mapped = map_lite0_state(package_state, timm_state)
    assert list(mapped) == [k for k, _ in dst]
    assert all(mapped[t] is s for (_, s), (t, _) in zip(src, dst, strict=True))


def test_mapping_refuses_a_misaligned_checkpoint(package_state) -> None:
    timm_state = timm.create_model(LITE0_TIMM_NAME).state_dict()
    items = list(package_state.items())
    swapped = dict(items[:1] + [items[2], items[1]] + items[3:])  # BN weight <-> bias, same shape
    with pytest.raises(ValueError, match="does not map"):
        map_lite0_state(swapped, timm_state)
    with pytest.raises(ValueError, match="tensors"):
        map_lite0_state(dict(items[:-1]), timm_state)


def test_pretrained_loads_the_package_tensors_and_a_new_head(package_state) -> None:
    torch.manual_seed(0)
    model = create_efficientnet_lite0(7, pretrained=True, resolution=32)
    random = create_efficientnet_lite0(7, pretrained=False, resolution=32).model.state_dict()
    loaded = model.model.state_dict()
    head = hub.classifier_keys(model.model)
    src = weights_only(package_state)
    dst = [k for k, _ in weights_only(loaded)]
    checked = 0
    for (s_key, s_val), t_key in zip(src, dst, strict=True):
        if t_key in head:
            continue
        assert torch.equal(loaded[t_key], s_val), (s_key, t_key)
        assert not torch.equal(loaded[t_key], random[t_key]), t_key
        checked += 1
    assert checked == LITE0_TENSORS - 2
    assert model.model.classifier.weight.shape == (7, 1280)
    assert not torch.equal(model.model.classifier.weight[:7], package_state["_fc.weight"][:7])
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 7)


def test_lite0_normalisation_is_its_own() -> None:
    assert LITE0_MEAN == LITE0_STD == (0.5, 0.5, 0.5)
    cfg = timm.models.get_pretrained_cfg(LITE0_TIMM_NAME)
    assert tuple(cfg.mean) == LITE0_MEAN and tuple(cfg.std) == LITE0_STD
    model = create_efficientnet_lite0(3, resolution=32)
    assert torch.equal(model.mean.flatten(), torch.tensor(LITE0_MEAN))


def test_config_file_instantiates_offline() -> None:
    cfg = OmegaConf.load(CONF / "efficientnet_lite0.yaml")
    model = instantiate(cfg, num_classes=4, pretrained=True, resolution=32)
    assert isinstance(model, TimmClassifier)
    assert (model.num_classes, model.input_size, model.channels_last) == (4, 32, True)
    assert torch.allclose(model.mean.flatten(), torch.tensor(LITE0_MEAN))


def test_imagenet_predictions_are_sane() -> None:
    """With its normalisation the packaged model recognises sklearn's two bundled photos."""
    from sklearn import datasets  # a dev dependency, for these two photos
    from timm.data import ImageNetInfo

    photos = datasets.load_sample_images().images  # china.jpg (a temple), flower.jpg (a daisy)
    x = torch.stack([torch.from_numpy(p.copy()).permute(2, 0, 1) for p in photos]).float() / 255
    x = F.interpolate(x[..., 106:533], size=224, mode="bilinear", antialias=True)  # centre square
    model = TimmClassifier(1000, name=LITE0_TIMM_NAME, mean=LITE0_MEAN, std=LITE0_STD).eval()
    load_lite0_imagenet(model.model, head=True)
    with torch.no_grad():
        top3 = model(x).topk(3).indices
    info = ImageNetInfo()
    temple = {info.index_to_description(int(i)).split(",")[0] for i in top3[0]}
    flower = info.index_to_description(int(top3[1, 0])).split(",")[0]
    assert temple & {"palace", "bell cote", "castle", "monastery", "church"}, temple
    assert flower == "daisy"
