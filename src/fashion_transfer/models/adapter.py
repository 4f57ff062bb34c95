"""FashionAdapter: gray 28x28 Fashion-MNIST into an RGB backbone through a learned input adapter.

The adapter is a 1x1 convolution from 1 to 3 channels, initialised to copy the gray channel into
R, G and B (weights 1, bias 0), followed by a bilinear resize to the backbone's resolution R. At
initialisation a gray image therefore reaches the backbone exactly as a gray photo would, which is
what an ImageNet backbone has seen; training may then learn a better colour mapping.

Input shapes (what `accepts_channels` and `accepts_any_input` announce to the training loop):
- (B, 1, H, W), stage 1 (Fashion-MNIST, 28x28): mixed to 3 channels, then resized to R x R;
- (B, 3, H, W), stage 2 (DeepFashion RGB): bypasses the mixing, resized only if not R x R.
`input_channels` (3) and `input_size` (R) describe what the backbone computes on, the input that
needs no adaptation; the loop should feed batches as they come (`accepts_any_input`), so that gray
images pass through the learned mixing instead of being repeated to RGB before it.

`input_adapter="timm_stem"` is the free baseline for the learned mixing: the backbone is built with
one input channel (`in_chans=1`; a pretrained RGB stem is summed by timm's `adapt_input_conv`), gray
input goes straight in and RGB input is converted to gray (ITU-R 601 luma, `to_gray`) first.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from fashion_transfer.errors import ConfigError
from fashion_transfer.models.freeze import BackboneFreezing

INPUT_ADAPTERS = ("learned", "timm_stem")
LUMA = (0.299, 0.587, 0.114)
"""ITU-R 601 luma weights: how RGB becomes gray for every gray model of the suite."""


def to_gray(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB -> (B, 1, H, W) gray luma."""
    weights = torch.tensor(LUMA, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * weights).sum(1, keepdim=True)


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize to size x size; antialiased when shrinking so small details do not alias."""
    if x.shape[-2:] == (size, size):
        return x
    shrinking = x.shape[-2] > size or x.shape[-1] > size
    return F.interpolate(
        x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrinking
    )


class FashionAdapter(BackboneFreezing, nn.Module):
    """Input adapter + a backbone classifier (any model of this package with the contract).

    Parameter split: `backbone_parameters()` is the backbone's trunk; `head_parameters()` is the
    input adapter and the classifier, the parts a new domain retrains at the full learning rate.
    """

    accepts_channels = (1, 3)
    accepts_any_input = True

    def __init__(
        self,
        backbone: nn.Module | Mapping,
        num_classes: int | None = None,
        resolution: int | None = None,
        input_adapter: str = "learned",
    ) -> None:
        """Wrap `backbone`.

        Args:
            backbone: a classifier (e.g. TimmClassifier) or its Hydra config; a config is built
                here with `num_classes`, which is how `instantiate(cfg.model, num_classes=K)` reaches
                the nested backbone (adapter.yaml sets `_recursive_: false`).
            num_classes: classes of the task; a built backbone with another head gets a new one.
            resolution: side R the backbone sees; None = the backbone's `input_size`.
            input_adapter: "learned" (the 1->3 mixing) or "timm_stem" (a 1-channel backbone).
        """
        super().__init__()
        if input_adapter not in INPUT_ADAPTERS:
            raise ConfigError(
                f"transfer.input_adapter={input_adapter} is not one of {', '.join(INPUT_ADAPTERS)}"
            )
        self.input_adapter = input_adapter
        self.input_channels = 1 if input_adapter == "timm_stem" else 3
        if not isinstance(backbone, nn.Module):
            from hydra.utils import instantiate

            if num_classes is None:
                raise TypeError("FashionAdapter needs num_classes to build its backbone config")
            backbone = instantiate(backbone, num_classes=num_classes, in_chans=self.input_channels)
        elif num_classes is not None and num_classes != getattr(backbone, "num_classes", None):
            backbone.reset_classifier(num_classes)
        if backbone.input_channels != self.input_channels:
            raise ConfigError(
                f"transfer.input_adapter={input_adapter} needs a backbone with "
                f"{self.input_channels} input channels, got {backbone.input_channels}"
            )
        self.backbone = backbone
        self.input_size = int(resolution or backbone.input_size)
        self.mix = nn.Conv2d(1, 3, kernel_size=1) if input_adapter == "learned" else None
        if self.mix is not None:
            with torch.no_grad():
                self.mix.weight.fill_(1.0)
                self.mix.bias.zero_()

    @property
    def num_classes(self) -> int:
        """Size of the current head."""
        return self.backbone.num_classes

    @property
    def channels_last(self) -> bool:
        """The backbone's memory format choice (it converts its own input)."""
        return bool(getattr(self.backbone, "channels_last", False))

    def adapt(self, x: torch.Tensor) -> torch.Tensor:
        """Gray or RGB float [0, 1] input of any size -> what the backbone takes, at R x R."""
        if x.shape[1] not in (1, 3):
            raise ValueError(f"FashionAdapter takes 1 or 3 channels, got shape {tuple(x.shape)}")
        if self.mix is None:
            x = to_gray(x) if x.shape[1] == 3 else x
        elif x.shape[1] == 1:
            x = self.mix(x)
        return resize(x, self.input_size)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled backbone features (B, F)."""
        return self.backbone.forward_features(self.adapt(x))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Logits (B, K)."""
        return self.backbone.forward_head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        """A new head for the next domain's classes; the input adapter is kept."""
        self.backbone.reset_classifier(num_classes)

    def backbone_parameters(self) -> list[nn.Parameter]:
        """The backbone's trunk."""
        return list(self.backbone.backbone_parameters())

    def head_parameters(self) -> list[nn.Parameter]:
        """The input adapter (when learned) and the classifier."""
        mix = list(self.mix.parameters()) if self.mix is not None else []
        return [*mix, *self.backbone.head_parameters()]
