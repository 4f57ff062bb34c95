"""TimmClassifier: any timm model as a classifier with the interface of docs/CONTRACTS.md."""

from __future__ import annotations

import os
from collections.abc import Sequence

import timm
import torch
import torch.nn.functional as F
from torch import nn

from fashion_transfer.errors import ConfigError
from fashion_transfer.models.freeze import BackboneFreezing
from fashion_transfer.models.hub import create_timm_model

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def default_normalisation(name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The mean/std timm's pretrained weights for `name` expect; ImageNet's if timm has none."""
    cfg = timm.models.get_pretrained_cfg(name) if timm.is_model(name) else None
    if cfg is None:
        return IMAGENET_MEAN, IMAGENET_STD
    return tuple(cfg.mean), tuple(cfg.std)


class PrePaddedConv2d(nn.Conv2d):
    """A Conv2d that zero-pads its input with `F.pad` and convolves unpadded: the same result.

    oneDNN picks another kernel for the unpadded convolution. On some CPUs its backward of a
    padded depthwise convolution is slow when the map is small next to the kernel (a 5x5 kernel
    over EfficientNet's last 2x2 maps at 64 px) and this is faster; on others it is slower
    (README, Performance; `make bench` says which). The parameters, and so the checkpoints, are
    Conv2d's.
    """

    prepad: tuple[int, int] = (0, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ph, pw = self.prepad
        return super().forward(F.pad(x, (pw, pw, ph, ph)))


def prepad_depthwise_convs(network: nn.Module) -> int:
    """Turn every zero-padded depthwise Conv2d of `network` into a PrePaddedConv2d, in place.

    Dense convolutions are left alone (padding them beforehand is slower). Returns how many
    layers changed. The sums run in another order, so results agree to float rounding.
    """
    changed = 0
    for layer in network.modules():
        if (
            type(layer) is nn.Conv2d
            and layer.groups > 1
            and layer.groups == layer.in_channels
            and layer.padding_mode == "zeros"
            and isinstance(layer.padding, tuple)
            and any(layer.padding)
        ):
            layer.prepad, layer.padding = layer.padding, (0, 0)
            layer.__class__ = PrePaddedConv2d
            changed += 1
    return changed


class TimmClassifier(BackboneFreezing, nn.Module):
    """A timm network with normalisation inside, so it takes float [0, 1] RGB like every model here.

    `forward_features` returns pooled features (what timm calls pre-logits) and `forward_head`
    only applies the classifier, so a caller can inspect, cache or re-head the features.
    """

    input_channels = 3
    accepts_channels = (3,)

    def __init__(
        self,
        num_classes: int,
        name: str = "resnet18",
        pretrained: bool = False,
        pretrained_file: str | os.PathLike | None = None,
        resolution: int = 224,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        channels_last: bool = False,
        drop_rate: float = 0.0,
        in_chans: int = 3,
        prepad_depthwise: bool = False,
    ) -> None:
        """Build `name` from timm with a `num_classes` head.

        Args:
            num_classes: classes of the task; the head is always new.
            name: any timm model name (`timm.list_models()`).
            pretrained: start from pretrained weights (hub or `pretrained_file`); else random.
            pretrained_file: local timm checkpoint used when `pretrained` is true.
            resolution: the input size the model expects (`input_size`); timm CNNs take any.
            mean, std: per-channel normalisation of [0, 1] input; None = timm's for `name`.
            channels_last: run the network in channels-last memory format (faster on CPU).
            drop_rate: dropout before the classifier.
            in_chans: input channels, 3 (RGB) or 1 (gray: timm sums a pretrained stem's RGB
                filters, `timm.models.adapt_input_conv`; the normalisation is the mean of the
                three per-channel values).
            prepad_depthwise: pad depthwise convolutions' input beforehand (`PrePaddedConv2d`):
                the same network, faster to train on some CPUs and slower on others (`make
                bench` says which); results agree to float rounding.
        """
        super().__init__()
        default_mean, default_std = default_normalisation(name)
        mean = tuple(mean) if mean is not None else default_mean
        std = tuple(std) if std is not None else default_std
        if len(mean) != 3 or len(std) != 3:
            raise ConfigError(f"model.mean/model.std need 3 values for RGB; got {mean} / {std}")
        if in_chans not in (1, 3):
            raise ConfigError(f"in_chans={in_chans}: TimmClassifier takes 1 (gray) or 3 (RGB)")
        if in_chans == 1:
            mean, std = (sum(mean) / 3,), (sum(std) / 3,)
        self.name = name
        self.input_size = int(resolution)
        self.input_channels = int(in_chans)
        self.accepts_channels = (self.input_channels,)
        self.channels_last = bool(channels_last)
        shape = (1, in_chans, 1, 1)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(shape))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(shape))
        self.model = create_timm_model(
            name, num_classes, pretrained, pretrained_file, drop_rate=drop_rate, in_chans=in_chans
        )
        if prepad_depthwise:
            prepad_depthwise_convs(self.model)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)

    @property
    def num_classes(self) -> int:
        """Size of the current head."""
        return self.model.num_classes

    @property
    def num_features(self) -> int:
        """Width of the pooled features `forward_features` returns."""
        return self.model.num_features

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """[0, 1] input to what the network was (or will be) trained on."""
        x = (x - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features (B, F) of float [0, 1] input (B, input_channels, H, W)."""
        return self.model.forward_head(
            self.model.forward_features(self.normalise(x)), pre_logits=True
        )

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Logits (B, K) of pooled features."""
        return self.model.get_classifier()(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        """A new, freshly initialised head on the model's device."""
        ref = self.mean
        self.model.reset_classifier(num_classes)
        self.model.get_classifier().to(device=ref.device, dtype=ref.dtype)

    def head_parameters(self) -> list[nn.Parameter]:
        """The classifier's parameters (trained at the full learning rate)."""
        return list(self.model.get_classifier().parameters())

    def backbone_parameters(self) -> list[nn.Parameter]:
        """Every parameter of the network except the classifier's."""
        head = {id(p) for p in self.head_parameters()}
        return [p for p in self.model.parameters() if id(p) not in head]
