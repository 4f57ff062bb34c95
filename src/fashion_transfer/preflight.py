"""The train command's checks before Hydra runs anything: every job a command line asks for
composes and passes `check_config`, or the command stops with one line and no job starts.

Hydra's own errors for a bad override span many lines and, for a typo'd key, suggest `+key=...`,
which would add an unused key; a sweep (`-m seed=0,l`) would run its good jobs first and end in a
traceback at the bad one. So the command line is composed here first, job by job, as Hydra's
basic sweeper would expand it. A value of the wrong type for a typed key (conf/schema.py) is
Hydra's error, told in one line: `budget.target.epochs=abc: Value 'abc' of type 'str' could not
be converted to Integer`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from pathlib import Path

from hydra.types import RunMode
from omegaconf import DictConfig, open_dict

from fashion_transfer.config_check import check_config, check_group_choices
from fashion_transfer.errors import ConfigError
from fashion_transfer.jobs import expand_sweep
from fashion_transfer.training.run_lock import check_owned

MULTIRUN = ("-m", "--multirun")
# Hydra flags after which the command does not train (help, printing the config, ...): left to it.
_HYDRA_FLAGS = ("-h", "--help", "--hydra-help", "-c", "--cfg", "-i", "--info", "-p", "--package")
_HYDRA_FLAGS += ("--resolve", "--shell-completion", "-sc", "--version", "--experimental-rerun")
_HYDRA_FLAGS += ("-cd", "--config-dir", "-cp", "--config-path", "-cn", "--config-name")


def _keys(node: object, prefix: str = "") -> list[str]:
    if not isinstance(node, DictConfig):
        return [prefix[:-1]]
    out = []
    for key in node:
        child = node._get_node(key)
        value = child._value() if child is not None else None
        if isinstance(value, str) and value.startswith("${"):
            out.append(f"{prefix}{key}")
        else:
            out.extend(_keys(node[key], f"{prefix}{key}."))
    return out


def _adds_key(override: str) -> bool:
    """`+a.b=v` under our nodes (not `++`, not hydra's, not a group such as `+experiment=`)."""
    key = override.split("=", 1)[0]
    path = key.lstrip("+")
    return (
        key.startswith("+")
        and not key.startswith("++")
        and "." in path
        and not path.startswith("hydra.")
    )


def _no_new_keys(overrides: Sequence[str], cfg: DictConfig) -> None:
    """`+a.b=v` adds a key no code reads (Hydra suggests it for a typo): refused under our nodes."""
    for arg in filter(_adds_key, overrides):
        path = arg.split("=", 1)[0].lstrip("+")
        close = difflib.get_close_matches(path, [k for k in _keys(cfg) if k != path], n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ConfigError(
            f"{arg}: fashion-transfer reads no key {path}; {hint}every setting it reads exists "
            "already, so set one without '+' (python -m fashion_transfer.train --cfg job lists them)"
        )


def _compose(conf_dir: Path, overrides: list[str]) -> DictConfig:
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=str(conf_dir.resolve()), version_base="1.3"):
            cfg = compose("config", overrides=overrides, return_hydra_config=True)
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(_one_line_compose_error(exc, conf_dir)) from None
    HydraConfig.instance().set_config(cfg)
    if cfg.hydra.mode != RunMode.MULTIRUN and overrides_has_run_dir(overrides):
        # Hydra writes .hydra/ and its log into the run folder before any job code runs.
        check_owned(Path(str(cfg.hydra.run.dir)).resolve())
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def overrides_has_run_dir(overrides: Sequence[str]) -> bool:
    return any(o.startswith("hydra.run.dir=") for o in overrides)


def _one_line_compose_error(exc: Exception, conf_dir: Path) -> str:
    text = " ".join(str(exc).split())
    merging = re.match(r"Error merging override (\S+)", text)
    if merging and exc.__cause__ is not None:  # e.g. a typed key given a value of another type
        return f"{merging.group(1)}: {str(exc.__cause__).splitlines()[0]}"
    missing = text.split("Could not override '", 1)
    if len(missing) == 2:  # a key that does not exist, e.g. budget.target.epoch=3
        key = missing[1].split("'", 1)[0]
        base = _compose_plain(conf_dir)
        close = difflib.get_close_matches(key, _keys(base), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        return (
            f"{key}: no such setting; {hint}python -m fashion_transfer.train --cfg job "
            "lists every key"
        )
    return f"the command line does not compose: {text}"


def _compose_plain(conf_dir: Path) -> DictConfig:
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(conf_dir.resolve()), version_base="1.3"):
        return compose("config")


def sweep_jobs(conf_dir: Path, overrides: list[str]) -> list[list[str]]:
    """The override lists of a sweep's jobs, expanded as Hydra's basic sweeper does."""
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
        plain = [o.input_line for o in parsed if not o.is_sweep_override()]
        with initialize_config_dir(config_dir=str(conf_dir.resolve()), version_base="1.3"):
            hydra_cfg = compose("config", overrides=plain, return_hydra_config=True).hydra
        # An experiment's own sweep (hydra.sweeper.params) comes first, as Hydra's sweeper does.
        params = [f"{k}={v}" for k, v in (hydra_cfg.sweeper.get("params") or {}).items()]
        return expand_sweep(conf_dir, [*params, *overrides])
    except HydraException as exc:
        text = " ".join(str(exc).split())
        if text.startswith("Error merging override"):
            raise ConfigError(_one_line_compose_error(exc, conf_dir)) from None
        raise ConfigError(f"the command line does not parse: {text}") from None


def compose_jobs(
    overrides: Sequence[str], conf_dir: Path, multirun: bool
) -> list[tuple[list[str], DictConfig]]:
    """Every job of a command line, as Hydra would launch them: its overrides and its composed
    (not checked) config. Raises ConfigError (one line) for an override that does not compose."""
    overrides = list(overrides)
    jobs = sweep_jobs(conf_dir, overrides) if multirun else [overrides]
    added = [o for o in jobs[0] if _adds_key(o)]
    if added:  # judged on the config without them: a typed node would refuse them less clearly
        _no_new_keys(added, _compose(conf_dir, [o for o in jobs[0] if o not in added]))
    return [(job, _compose(conf_dir, job)) for job in jobs]


def check_command_line(argv: Sequence[str], conf_dir: Path) -> None:
    """Raise ConfigError (one line) unless every job `argv` asks for composes and checks out."""
    check_group_choices(argv, conf_dir)
    if any(arg in _HYDRA_FLAGS or arg.startswith("--") and arg not in MULTIRUN for arg in argv):
        return
    overrides = [a for a in argv if a not in MULTIRUN]
    multirun = len(overrides) != len(argv)
    jobs = compose_jobs(overrides, conf_dir, multirun)
    for job, cfg in jobs:
        try:
            check_config(cfg)
        except ConfigError as exc:
            if multirun and len(jobs) > 1:
                raise ConfigError(
                    f"{exc} (sweep job {' '.join(job)}; no job was started)"
                ) from None
            raise
