"""`hydra/sweeper: astro_optuna`: the Optuna sweeper's config plus a pruner and a mode."""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra_plugins.hydra_optuna_sweeper.config import OptunaSweeperConf
from omegaconf import MISSING


@dataclass
class AstroOptunaSweeperConf(OptunaSweeperConf):
    _target_: str = "hydra_plugins.astro_optuna_sweeper.astro_optuna_sweeper.AstroOptunaSweeper"
    defaults: list[Any] = field(default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "none"}])
    # an optuna.pruners `_target_` node (group hydra/sweeper/pruner: none, median, percentile,
    # successive_halving, hyperband); each job reports the optimized metric after every epoch
    pruner: Any = MISSING
    # batch: n_jobs trials asked and launched together, the next batch after the slowest (the plugin's
    # way); async: n_jobs workers, each taking the next trial as soon as it finishes one
    mode: str = "batch"


ConfigStore.instance().store(
    group="hydra/sweeper", name="astro_optuna", node=AstroOptunaSweeperConf, provider="astro"
)
