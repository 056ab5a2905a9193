"""Shared entrypoint behaviour: quiet third-party logs, and one-line errors for a user's mistakes."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import TypeVar

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from astro.errors import AstroError

T = TypeVar("T")
NOISY_LOGGERS = ("alembic", "mlflow", "matplotlib", "PIL", "urllib3", "h5py")


def user_errors_as_one_line(fn: Callable[..., T]) -> Callable[..., T]:
    """In a single run, print an AstroError as `error: ...` and exit 1; in a sweep, re-raise it so the
    sweeper records a failed job and carries on."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs) -> T:
        for name in NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        try:
            return fn(*args, **kwargs)
        except AstroError as exc:
            logging.getLogger("astro").error("%s", exc)
            if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
                raise
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(1)

    return wrapper
