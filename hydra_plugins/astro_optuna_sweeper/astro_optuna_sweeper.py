"""The sweeper class Hydra instantiates; the work is in astro.sweeps.optuna_sweep, imported only when a
sweep runs (Hydra imports every plugin module at each start, a single run included)."""

import sys
from typing import Any

from hydra.types import HydraContext, TaskFunction
from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper
from omegaconf import DictConfig

from . import config as config  # registers hydra/sweeper=astro_optuna when loaded by entry point


class AstroOptunaSweeper(OptunaSweeper):
    """hydra-optuna-sweeper's OptunaSweeper, with `pruner` and `mode` (batch | async)."""

    def __init__(self, pruner: Any = None, mode: str = "batch", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mode = mode  # the pruner is read from the composed config, where the jobs read it too

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self.task_function = task_function

    def sweep(self, arguments: list[str]) -> None:
        from astro.errors import AstroError
        from astro.sweeps.optuna_sweep import sweep

        try:
            sweep(self.sweeper, self.task_function, self.mode, arguments)
        except AstroError as error:  # a setting to fix: one line, as a single run prints it
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)
