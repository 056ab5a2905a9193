"""Shared entrypoint behaviour: quiet third-party logs, and one-line errors for a user's mistakes."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import TypeVar

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from astro.errors import AstroError, TrainingInterrupted

T = TypeVar("T")
NOISY_LOGGERS = ("alembic", "mlflow", "matplotlib", "PIL", "urllib3", "h5py")


def user_errors_as_one_line(fn: Callable[..., T]) -> Callable[..., T]:
    """In a single run, print an AstroError as `error: ...` and exit non-zero (1, or 128+signal for an
    interruption); in a sweep, re-raise it so the sweeper records a failed job and carries on, except an
    interruption (SIGINT/SIGTERM), which stops the whole sweep."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs) -> T:
        for name in NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            cause = user_error(exc)
            if cause is None:
                raise
            in_sweep = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
            if in_sweep and not isinstance(cause, TrainingInterrupted):
                logging.getLogger("astro").error("%s", cause)
                raise
            print(f"error: {cause}", file=sys.stderr)
            sys.exit(getattr(cause, "exit_code", 1))

    return wrapper


def user_error(exc: BaseException | None) -> AstroError | None:
    """The AstroError behind an exception, looking through wrappers such as Hydra's
    InstantiationException (raised `from` the target's own error)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, AstroError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None
