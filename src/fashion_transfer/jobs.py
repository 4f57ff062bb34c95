"""A sweep job's folder name, from its settings: a rerun of a sweep finds each job's folder again
whatever order or job number it gets. No torch import (the status command uses it).

`{strategy}_s{seed}` when the job's overrides hold nothing else that changes the experiment, else
`{strategy}_s{seed}_{8 hex}` with a hash of those other overrides. Keys that only say where
things are or how they are shown (paths, logger, device, ...) do not make another experiment.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

# Keys that never change what a run computes (the same list resume.py ignores when it compares).
FREE_TOP = {"paths", "logger", "device", "resume", "overwrite", "name", "group", "eval"}
FREE_TOP |= {"optimized_metric", "hydra"}
FREE_LEAF = {"root", "cache", "cache_dir", "workers", "download", "pretrained_file"}
FREE_LEAF |= {"eval_batch_size", "log_every"}


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def is_free(key: str) -> bool:
    parts = key.split("@", 1)[0].replace("/", ".").split(".")
    return parts[0] in FREE_TOP or parts[-1] in FREE_LEAF


def flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    """A nested config as `{"a.b.c": value}`."""
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(flat(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: tree}


def settings_key(config: dict[str, Any]) -> str:
    """A digest of what a run computes: its config less the free keys. Equal digests mean the
    same experiment (same strategy, seed and settings), wherever and whenever it ran."""

    kept = {k: v for k, v in flat(config).items() if not is_free(k)}
    return hashlib.sha1(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()


def job_dirname(task_overrides: list[str]) -> str:
    """The folder name of the job whose Hydra task overrides are `task_overrides`."""
    values = dict(o.split("=", 1) for o in task_overrides if "=" in o)
    strategy = {_key(k): v for k, v in values.items()}.get("strategy", "fmnist_baseline")
    seed = {_key(k): v for k, v in values.items()}.get("seed", "0")
    rest = sorted(
        o for o in task_overrides if _key(o) not in ("strategy", "seed") and not is_free(_key(o))
    )
    name = f"{strategy}_s{seed}"
    if rest:
        name += "_" + hashlib.sha1("\n".join(rest).encode()).hexdigest()[:8]
    return name.replace("/", "_")


def resolve_job_dirname() -> str:
    """OmegaConf resolver `ft_job_dir`: this job's folder name from Hydra's runtime config."""
    from hydra.core.hydra_config import HydraConfig

    return job_dirname(list(HydraConfig.get().overrides.task))


def expand_sweep(conf_dir: Path, arguments: list[str]) -> list[list[str]]:
    """Every job's task overrides, in launch order, as Hydra's basic sweeper expands `arguments`
    (the sweeper's params as `key=value`, then the command line's overrides).

    Hydra parses them (lists, ranges, `glob(...)` over the config groups of `conf_dir`) and
    BasicSweeper builds the product; `split_arguments` sits in a private module of hydra-core
    (pinned below 1.4 in pyproject.toml), and a copy of its product would drift from what Hydra
    launches. Raises HydraException for overrides Hydra cannot parse or sweep.
    """
    from hydra import initialize_config_dir
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    with initialize_config_dir(config_dir=str(conf_dir.resolve()), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        parsed = OverridesParser.create(config_loader=loader).parse_overrides(arguments)
        batches = BasicSweeper.split_arguments(parsed, None)
    return [job for batch in batches for job in batch]
