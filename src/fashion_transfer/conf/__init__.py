"""The suite's Hydra configs (package data, so an installed wheel finds them) and their schemas.

`CONF_DIR` is the one place code finds them. Importing this package registers what composing
them needs: the structured-config schemas (`schema.py`, in Hydra's ConfigStore), the resolvers
`${ft_job_dir:}` (sweep job folders, jobs.py) and `${ft_trial:NAME}` (experiment=tune's drawn
hyperparameters, tuning/space.py), and `${ft_user_conf:}` behind `hydra.searchpath`, which adds
the user's own config folder:
`$FASHION_TRANSFER_CONF`, else `conf/` in the launch folder when there is one. A user's
`conf/strategy/mine.yaml` is then `strategy=mine`; the suite's own files win on equal names.
"""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf

from fashion_transfer.conf.schema import register_schemas
from fashion_transfer.jobs import resolve_job_dirname
from fashion_transfer.tuning.space import register_resolver as register_trial_resolver

CONF_DIR = Path(__file__).resolve().parent
USER_CONF_ENV = "FASHION_TRANSFER_CONF"


def user_conf_dir() -> Path | None:
    """The user's config folder on Hydra's search path, or None when there is none."""
    given = os.environ.get(USER_CONF_ENV)
    folder = Path(given) if given else Path.cwd() / "conf"
    if not given and not folder.is_dir():
        return None
    folder = folder.resolve()
    return None if folder == CONF_DIR else folder


def user_searchpath() -> list[str]:
    """OmegaConf resolver `ft_user_conf`: `hydra.searchpath` in config.yaml."""
    folder = user_conf_dir()
    return [f"file://{folder}"] if folder else []


register_schemas()
OmegaConf.register_new_resolver("ft_user_conf", user_searchpath, replace=True)
OmegaConf.register_new_resolver("ft_job_dir", resolve_job_dirname, replace=True)
register_trial_resolver()
