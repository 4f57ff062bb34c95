"""User-facing errors: the entrypoints print them as one line and exit non-zero, no traceback."""

import re


class UserError(Exception):
    """Bad input the user can fix; the message names the file or option and what to do."""

    exit_code = 2


class DataError(UserError):
    """A data set is missing, malformed or unreadable."""


class ConfigError(UserError):
    """A configuration value is out of range or inconsistent."""


class TrainingFailed(Exception):
    """A run diverged (NaN/inf loss); the run is recorded as failed and the job exits non-zero."""

    exit_code = 3


def in_slot(exc: UserError, slot: str) -> UserError:
    """`exc` with the options it names as the key a user types for this slot.

    Loaders name their options `dataset.<key>`; the config mounts a data set at `source` or
    `target` (`dataset@target=...`), so `dataset.download` is typed `source.download`.
    """
    return type(exc)(re.sub(r"\bdataset\.(?=[a-z_])", f"{slot}.", str(exc)))
