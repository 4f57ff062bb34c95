"""Reject a bad configuration before any data is read or model built: one line naming the key.

Strategies read their budgets through interpolations (`epochs: ${budget.target.epochs}`), so a
message names the key the user actually sets (`budget.target.epochs`) and, in brackets, where it
is used. An unknown choice of a config group (`strategy=foo`) is caught earlier, from the command
line (`check_group_choices`), before Hydra composes and would print its own multi-line error.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from fashion_transfer.data.fmnist_view import BACKGROUNDS
from fashion_transfer.errors import ConfigError, UserError, in_slot
from fashion_transfer.models.adapter import INPUT_ADAPTERS

# model@backbone takes a timm classifier only: the adapter wraps a backbone and SimpleFashionCNN is
# no timm model (neither has the `name`/`pretrained` a backbone strategy sets).
NOT_BACKBONES = {"adapter", "simple_cnn"}
_NOT_PLAIN = re.compile(r"[()\[\]{}*?$'\"\s]")  # sweep functions, interpolations, quoting
_REFERENCE = re.compile(r"\$\{([A-Za-z_][\w.]*)\}")
_PATHS_KEY = re.compile(r"\$\{(paths\.\w+)\}")

# The smallest input side a model can take: its stride-2 reductions must leave a feature map of at
# least 1x1. SimpleFashionCNN pools three times (8 px). timm's ResNets and EfficientNets (the
# shared `backbone`, also inside the adapter) reduce five times, output stride 32: below 32 px the
# last stages convolve padding only. Checked against timm's `feature_info` in the tests.
MIN_SIDE_SIMPLE_CNN = 8
MIN_SIDE_TIMM = 32


def _user_key(cfg: DictConfig, path: str) -> str:
    """The key a user sets to change `path`: follows plain `${a.b}` interpolations."""
    for _ in range(8):  # a chain of references, never a cycle in a composed config
        parts, node = path.split("."), cfg
        for i, part in enumerate(parts):
            child = node._get_node(part) if isinstance(node, DictConfig) else None
            if child is None:
                return path
            raw = child._value()
            match = _REFERENCE.fullmatch(raw) if isinstance(raw, str) else None
            if match:  # `model: ${backbone}` -> model.resolution is set as backbone.resolution
                path = ".".join([match.group(1), *parts[i + 1 :]])
                break
            node = child
        else:
            return path
    return path


def _show(value: object) -> str:
    """A value as it is typed on the command line."""
    return (
        "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    )


def _typed(key: str) -> str | None:
    """The value as the user typed `key=...` (a typed key converts `0` to `0.0`), if they did."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    for override in HydraConfig.get().overrides.task:
        typed_key, _, value = override.partition("=")
        if typed_key.lstrip("+~") == key:
            return value
    return None


def _error(cfg: DictConfig, path: str, value: object, rule: str) -> ConfigError:
    """`user.key=value: rule`, plus where it is read when that is another key."""
    key = _user_key(cfg, path)
    where = "" if key == path else f" (read as {path})"
    return ConfigError(f"{key}={_typed(key) or _show(value)}: {rule}{where}")


def _positive_number(cfg: DictConfig, path: str) -> float:
    """For keys no schema types (optimizer.lr, logger.init_timeout): a finite number > 0."""
    value = OmegaConf.select(cfg, path)
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise _error(cfg, path, value, "must be a positive number")
    return value


def _require(cfg: DictConfig, path: str, ok: Callable[[Any], bool], rule: str) -> Any:
    """A typed key's value (conf/schema.py gives its type) within the range `ok` accepts."""
    value = OmegaConf.select(cfg, path)
    try:
        good = ok(value)
    except TypeError:  # a node no schema types (a user's own config): the wrong kind of value
        good = False
    if not good:
        raise _error(cfg, path, value, rule)
    return value


def _positive(value: Any) -> bool:
    return value is not None and math.isfinite(value) and value > 0


def _check_stage(cfg: DictConfig, name: str, stage: DictConfig) -> None:
    key = f"strategy.stages.{name}"
    if stage.get("data") not in ("source", "target"):
        raise ConfigError(f"{key}.data={stage.get('data')}: must be 'source' or 'target'")
    epochs = _require(cfg, f"{key}.epochs", _positive, "must be a positive integer")
    _require(cfg, f"{key}.batch_size", _positive, "must be a positive integer")
    if stage.get("lr") is None:
        _positive_number(cfg, "optimizer.lr")
    else:
        _require(cfg, f"{key}.lr", _positive, "must be a positive number")
    _require(cfg, f"{key}.backbone_lr_factor", _positive, "must be a positive number")
    rule = "must be in (0, 1), or null for no average"
    _require(cfg, f"{key}.ema_decay", lambda v: v is None or 0 < v < 1, rule)
    rule = f"must be an integer between 0 and the stage's epochs ({epochs})"
    _require(cfg, f"{key}.unfreeze_after", lambda v: 0 <= v <= epochs, rule)


def _check_fraction(cfg: DictConfig, slot: str) -> None:
    if "train_fraction" not in cfg[slot]:  # a loader of the user's without subsets
        return
    _require(cfg, f"{slot}.train_fraction", lambda v: 0 < v <= 1, "must be in (0, 1]")


# Switches of the model configs (conf/model/): a string such as `off` would be truthy when built.
MODEL_FLAGS = ("pretrained", "channels_last", "prepad_depthwise", "batch_norm", "pool_first")


def _check_model_nodes(cfg: DictConfig, path: str = "model") -> None:
    """Every model node that will be built takes a side its architecture can reduce, and its
    switches are true or false."""
    node = OmegaConf.select(cfg, path)
    if not isinstance(node, DictConfig):
        return
    for flag in MODEL_FLAGS:
        if flag in node and not isinstance(node[flag], bool):
            raise _error(cfg, f"{path}.{flag}", node[flag], "choose true or false")
    target = str(node.get("_target_", ""))
    side = node.get("resolution")
    if target and side is not None:
        least = MIN_SIDE_SIMPLE_CNN if target.endswith(".SimpleFashionCNN") else MIN_SIDE_TIMM
        if isinstance(side, bool) or not isinstance(side, int) or side < least:
            what = (
                "SimpleFashionCNN pools 3 times" if least == 8 else "the backbone halves it 5 times"
            )
            raise _error(cfg, f"{path}.resolution", side, f"must be an integer >= {least} ({what})")
    for key, child in node.items():
        if isinstance(child, DictConfig):
            _check_model_nodes(cfg, f"{path}.{key}")


def _check_data_side(cfg: DictConfig, slot: str) -> None:
    data = cfg[slot]
    if "resolution" not in data:  # idx data sets: 28x28 as stored
        return
    side = _require(cfg, f"{slot}.resolution", _positive, "must be a positive integer")
    if data.get("view") == "fmnist" and side != 28:
        raise _error(cfg, f"{slot}.resolution", side, f"must be 28 with {slot}.view=fmnist")


def slots_read(cfg: DictConfig) -> dict[str, str | None]:
    """The data set slots a run reads, each with None when a stage trains on it, or the option
    that turns off the cross-domain score that is its only use."""
    stages = list(cfg.strategy.stages.values())
    slots: dict[str, str | None] = {s.data: None for s in stages}
    if cfg.get("label_map") is not None:
        if stages[-1].data == "source" and cfg.eval.get("zero_shot", True):
            # the baseline is scored on the target's Fashion-MNIST view
            slots.setdefault("target", "eval.zero_shot")
        if stages[-1].data == "target" and cfg.eval.get("reverse", True):
            slots.setdefault("source", "eval.reverse")  # scored back on the source test set
    return slots


def _check_root(cfg: DictConfig, slot: str) -> None:
    data = cfg[slot]
    if data.get("download", False) or not data.get("root"):
        return  # torchvision may fetch it
    root = Path(str(data.root))
    if root.is_dir():
        return
    raw = data._get_node("root")._value()
    keys = _PATHS_KEY.findall(raw) if isinstance(raw, str) else []
    hint = f"set {' or '.join(keys)} or {slot}.root" if keys else f"set {slot}.root"
    if data.get("synthetic", False):
        hint += " (python -m fashion_transfer.synth --out DIR writes FashionSynth)"
    raise ConfigError(f"{slot}.root={root}: no such folder ({data.get('name', slot)}); {hint}")


def _check_layout(cfg: DictConfig, slot: str, scored_only: str | None) -> None:
    """The files the slot's loader will read are there: a missing one fails now, not after
    the epochs before it is read. Each loader's module has `check_layout(root, ...)`."""
    data = cfg[slot]
    target = str(data.get("_target_", ""))
    try:
        _check_root(cfg, slot)
    except ConfigError as exc:
        if scored_only:
            raise ConfigError(
                f"{exc}; or {scored_only}=false to train without that score"
            ) from None
        raise
    if not target or not data.get("root"):
        return
    check = getattr(importlib.import_module(target.rsplit(".", 1)[0]), "check_layout", None)
    if check is None:
        return
    try:
        check(
            data.root,
            download=bool(data.get("download", False)),
            synthetic=bool(data.get("synthetic", False)),
        )
    except UserError as exc:
        err = in_slot(exc, slot)
        err = type(err)(f"{slot} ({data.get('name', slot)}): {err}")
        if scored_only:  # only evaluated: the run can go on without that score
            err = type(err)(f"{err}; or {scored_only}=false to train without that score")
        raise err from None


def _check_train(cfg: DictConfig) -> None:
    """The run-wide values: a value that means the opposite of what was typed is refused."""
    seed = cfg.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(
            f"seed={_show(seed)}: must be a whole number >= 0 (e.g. seed=0, or -m seed=0,1,2)"
        )
    amp = OmegaConf.select(cfg, "train.amp")
    if amp != "auto" and not isinstance(amp, bool):
        raise ConfigError(f"train.amp={_show(amp)}: choose auto, true or false")
    for key, off in (("threads", "torch's default"), ("max_steps_per_epoch", "whole epochs")):
        rule = f"must be a positive integer, or null for {off}"
        _require(cfg, f"train.{key}", lambda v: v is None or v > 0, rule)
    for key in ("log_every", "eval_batch_size"):
        _require(cfg, f"train.{key}", _positive, "must be a positive integer")
    _require(cfg, "train.label_smoothing", lambda v: 0 <= v < 1, "must be in [0, 1)")
    adapter = OmegaConf.select(cfg, "transfer.input_adapter")
    if adapter not in INPUT_ADAPTERS:
        choices = " or ".join(INPUT_ADAPTERS)
        raise ConfigError(f"transfer.input_adapter={_show(adapter)}: choose {choices}")
    samples = OmegaConf.select(cfg, "eval.samples")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
        raise ConfigError(f"eval.samples={_show(samples)}: must be a whole number >= 0")
    for key in ("eval.zero_shot", "eval.reverse", "resume", "overwrite"):
        value = OmegaConf.select(cfg, key)
        if not isinstance(value, bool):
            raise ConfigError(f"{key}={_show(value)}: choose true or false")


def _check_device(cfg: DictConfig) -> None:
    device = str(cfg.get("device", "auto"))
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={device}: no CUDA device here; use device=auto or device=cpu")


def _check_backgrounds(cfg: DictConfig, slots: list[str]) -> None:
    """The fmnist view's background choices: the data sets' and the extra zero-shot ones."""
    choices = ", ".join(BACKGROUNDS)
    for slot in slots:
        value = cfg[slot].get("fmnist_background", BACKGROUNDS[0])
        if value not in BACKGROUNDS:
            raise _error(cfg, f"{slot}.fmnist_background", value, f"choose one of {choices}")
    extra = OmegaConf.select(cfg, "eval.zero_shot_backgrounds")
    values = list(extra) if OmegaConf.is_list(extra) else [extra]
    if extra is not None and any(v not in BACKGROUNDS for v in values):
        shown = "[" + ",".join(str(v) for v in values) + "]"
        raise ConfigError(
            f"eval.zero_shot_backgrounds={shown}: a list of {choices} (e.g. [keep,flatten])"
        )


def check_config(cfg: DictConfig) -> None:
    """Cheap checks of the values a typo most often breaks; raises ConfigError (exit code 2)."""
    _check_train(cfg)
    strategy = cfg.get("strategy")
    if not isinstance(strategy, DictConfig) or not strategy.get("stages"):
        name = strategy.get("name") if isinstance(strategy, DictConfig) else strategy
        raise ConfigError(f"strategy={name}: has no stages; pick one of conf/strategy/")
    for name, stage in strategy.stages.items():
        _check_stage(cfg, name, stage)
    slots = slots_read(cfg)
    for slot in slots:
        _check_fraction(cfg, slot)
        _check_data_side(cfg, slot)
    _check_model_nodes(cfg)
    _check_backgrounds(cfg, slots)
    if OmegaConf.select(cfg, "logger.init_timeout") is not None:
        _positive_number(cfg, "logger.init_timeout")
    _check_device(cfg)
    for slot, scored_only in slots.items():  # last: a wrong value is the likelier typo
        _check_layout(cfg, slot, scored_only)


def check_group_choices(overrides: Sequence[str], conf_dir: Path) -> None:
    """`group=name` overrides (also `dataset@target=`, `+group=`, sweep lists) must name an option.

    Hydra composes before any of our code runs, and its error for a missing option spans a dozen
    lines; this checks the plain choices first, in one line. Keys with a dot set values, not
    choices; sweep functions (`glob(...)`) and quoted values are left to Hydra. The options are
    what Hydra's config loader finds on the search path of `conf_dir/config.yaml`: the suite's
    groups, the user's conf/ folder (`hydra.searchpath`), and Hydra's own groups with those its
    installed plugins register (`hydra/launcher=`, ...).
    """
    plain = []
    for arg in overrides:
        key, sep, value = arg.partition("=")
        key = key.lstrip("+~")
        if sep and not key.startswith("-") and "." not in key and not _NOT_PLAIN.search(value):
            plain.append((key, value))
    if not plain:
        return
    for key, value in plain:
        group = key.split("@", 1)[0]
        options = _group_options(group, conf_dir)
        if not options:  # not a config group (seed=1, device=cpu, ...)
            continue
        ours = not group.startswith("hydra/")
        if key == "model@backbone":
            options = [o for o in options if o not in NOT_BACKBONES]
        for choice in value.split(","):
            if choice and choice != "null" and choice not in options:
                where = (
                    f"conf/{group}/{choice}.yaml"
                    if ours
                    else f"{group} option {choice!r} in Hydra or its installed plugins"
                )
                what = f"there is no {where}"
                if ours and choice in NOT_BACKBONES and key == "model@backbone":
                    what = f"{choice} is not a timm classifier, so it cannot be the backbone"
                raise ConfigError(f"{key}={choice}: {what}; choose one of {', '.join(options)}")


def _group_options(group: str, conf_dir: Path) -> list[str]:
    """The options of config group `group` on the search path of `conf_dir/config.yaml`, less
    the structured-config schemas (conf/schema.py), which no user picks."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    with initialize_config_dir(config_dir=str(conf_dir.resolve()), version_base=None):
        loader = GlobalHydra.instance().config_loader()
        options = loader.get_group_options(group, config_name="config")
    return sorted(o for o in options if not o.endswith("_schema"))
