"""What differs between Hydra 1.3 and Hydra 1.4 for astro's entry points, in one place: the version_base
argument, and the execution whitelist of the `_target_`s a config may name.

Hydra 1.3 needs `version_base="1.3"` (without it, 1.1 defaults and a warning); Hydra 1.4 deprecates the
parameter and uses its own defaults. Hydra 1.4 warns for every `_target_` instantiated with no execution
whitelist (an error from Hydra 1.5): astro's entry points run with TARGETS whitelisted. A config naming a
target outside TARGETS (your own model class) needs it added here.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import hydra

HYDRA_1_4 = tuple(int(part) for part in hydra.__version__.split(".")[:2]) >= (1, 4)
# keyword arguments for hydra.main and initialize_config_dir
VERSION_BASE: dict[str, str] = {} if HYDRA_1_4 else {"version_base": "1.3"}
# what conf/ names: astro's own classes and functions, torch's optimizers, torchvision's models
TARGETS = ["astro.*", "torch.optim.*", "torchvision.models.*", "optuna.pruners.*", "optuna.samplers.*"]

F = TypeVar("F", bound=Callable[..., Any])


def allowed_targets() -> contextlib.AbstractContextManager:
    """A context in which hydra's instantiate accepts TARGETS (Hydra 1.4); nothing to do under 1.3."""
    if not HYDRA_1_4:
        return contextlib.nullcontext()
    from hydra.utils import execution_whitelist

    return execution_whitelist(TARGETS)


def with_allowed_targets(function: F) -> F:
    """Run function in allowed_targets(): outside hydra.main it covers what Hydra instantiates in the
    launching process (callbacks), inside it a job run by a launcher in another process."""

    @functools.wraps(function)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with allowed_targets():
            return function(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
