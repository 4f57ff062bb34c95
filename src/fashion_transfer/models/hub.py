"""Where timm's pretrained weights come from: a local file, the Hugging Face cache, or the hub.

timm alone waits ~50 s of retries (measured) before it reports that the hub is unreachable, and
with some checkpoint files it loads with `strict=False` and only logs the keys it skipped. Here a
short reachability probe runs first, the local cache is used without any network traffic, and a
file that does not cover the model's trunk is an error: never random weights in place of
pretrained ones.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import timm
import torch
from torch import nn

from fashion_transfer.errors import ConfigError
from fashion_transfer.network import reachable

PROBE_TIMEOUT_S = 3.0
"""How long the hub may take to accept a TCP connection (DNS included) before we give up."""

HUB_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
"""The files timm looks for in a hub repository, in its order of preference."""

FILE_HINT = (
    "set backbone.pretrained_file=PATH to a local timm checkpoint, or backbone.pretrained=false"
)


def hub_offline() -> bool:
    """HF_HUB_OFFLINE as huggingface_hub saw it at import, or as the environment says now."""
    from huggingface_hub import constants

    env = os.environ.get("HF_HUB_OFFLINE", "").strip().upper()
    return constants.is_offline_mode() or env in {"1", "ON", "YES", "TRUE"}


def cached_hub_file(hf_hub_id: str, filename: str | None = None) -> Path | None:
    """A weight file of `hf_hub_id` already in the local Hugging Face cache, without network."""
    from huggingface_hub import try_to_load_from_cache

    repo_id, _, revision = hf_hub_id.partition("@")
    for name in (filename,) if filename else HUB_WEIGHT_FILES:
        found = try_to_load_from_cache(repo_id, name, revision=revision or None)
        if isinstance(found, str):
            return Path(found)
    return None


def hub_weights_file(name: str) -> Path | None:
    """Resolve `pretrained=true` for timm model `name` before timm is asked to download.

    Returns a cached file to load offline, or None when the hub is reachable and timm may download.
    Raises ConfigError, within about PROBE_TIMEOUT_S, when the weights cannot be had.
    """
    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None or not (cfg.hf_hub_id or cfg.url):
        raise ConfigError(f"timm has no pretrained weights for backbone.name={name}; {FILE_HINT}")
    if cfg.hf_hub_id:
        cached = cached_hub_file(cfg.hf_hub_id, cfg.hf_hub_filename)
        if cached is not None:
            return cached
        from huggingface_hub import constants

        if hub_offline():
            raise ConfigError(
                f"HF_HUB_OFFLINE is set and {cfg.hf_hub_id} is not in the Hugging Face cache "
                f"({constants.HF_HUB_CACHE}); {FILE_HINT}"
            )
        url = constants.ENDPOINT
    else:
        cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlsplit(cfg.url).path).name
        if cached.is_file():
            return cached
        url = cfg.url
    if not reachable(url, PROBE_TIMEOUT_S):
        raise ConfigError(
            f"cannot reach {urlsplit(url).hostname} (probe limit {PROBE_TIMEOUT_S:g} s) to download "
            f"pretrained weights for {name}; {FILE_HINT}"
        )
    return None


def checked_file(path: str | os.PathLike) -> Path:
    """`backbone.pretrained_file` as an existing file, or a one-line ConfigError."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"backbone.pretrained_file={path} does not exist; {FILE_HINT}")
    return file


def classifier_keys(model: nn.Module) -> set[str]:
    """State-dict keys of the model's classification head (what a new task replaces)."""
    head = model.get_classifier()
    for prefix, module in model.named_modules():
        if module is head:
            return {f"{prefix}.{key}" for key in head.state_dict()}
    return set()


def check_covers_trunk(model: nn.Module, file: Path) -> None:
    """Raise unless `file` held every trunk tensor of `model` (timm skips missing keys quietly)."""
    state = timm.models.load_state_dict(str(file))
    skip = classifier_keys(model)
    missing = [
        key
        for key in model.state_dict()
        if key not in skip and not key.endswith("num_batches_tracked") and key not in state
    ]
    if missing:
        raise ConfigError(
            f"backbone.pretrained_file={file} lacks {len(missing)} tensors of timm's "
            f"{model.pretrained_cfg.get('architecture')} (e.g. {missing[0]}); "
            "give a checkpoint of that architecture with timm key names"
        )


def create_timm_model(
    name: str,
    num_classes: int,
    pretrained: bool = False,
    pretrained_file: str | os.PathLike | None = None,
    **kwargs,
) -> nn.Module:
    """timm.create_model with fail-fast pretrained weights and a fresh head for `num_classes`.

    `pretrained_file` is used only when `pretrained` is true, so one sweep-wide file override
    leaves the scratch twins random. Extra kwargs (e.g. drop_rate) go to timm.
    """
    if not timm.is_model(name):
        raise ConfigError(f"backbone.name={name} is not a timm model; see timm.list_models()")
    if not pretrained:
        return timm.create_model(name, pretrained=False, num_classes=num_classes, **kwargs)
    file = checked_file(pretrained_file) if pretrained_file else hub_weights_file(name)
    overlay = {"file": str(file)} if file is not None else None
    try:
        model = timm.create_model(
            name,
            pretrained=True,
            num_classes=num_classes,
            pretrained_cfg_overlay=overlay,
            **kwargs,
        )
    except (RuntimeError, OSError, ValueError, KeyError) as exc:
        source = f"backbone.pretrained_file={file}" if file else "the hub"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"loading {name} weights from {source} failed ({first[:200]}); {FILE_HINT}"
        ) from exc
    if file is not None:
        check_covers_trunk(model, file)
    if num_classes == model.pretrained_cfg.get("num_classes"):
        # timm kept the checkpoint's head because its size matched; the task gets a new one.
        model.reset_classifier(num_classes)
    return model
