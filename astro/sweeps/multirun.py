"""What a Hydra multirun is, read from its composed config: the sweeper, what it varies, the sweep's
name, the metric the parent run records, and why a job failed. Pure functions, kept apart from the
callback that acts on them (astro.sweeps.callback) so they can be tested without MLflow."""

from __future__ import annotations

import os

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import DictConfig, OmegaConf

from astro.sweeps.storage import storage_url
from astro.tracking.metric_names import kept_key
from astro.training.pruning import TrialLink

TRIAL_NUMBER_ENV = "ASTRO_OPTUNA_TRIAL_NUMBER"  # set in each job by astro's sweeper (hydra.job.env_set)

OPTUNA_SWEEPERS = (
    "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper",
    "hydra_plugins.astro_optuna_sweeper.astro_optuna_sweeper.AstroOptunaSweeper",
)


def search_space(config: DictConfig) -> dict[str, str]:
    """What the sweep varies, as the sweeper sees it: `hydra.sweeper.params` (Optuna), then the
    command line's sweep overrides (which win), less the keys the command line fixes."""
    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    space = {_plain_key(str(k)): str(v) for k, v in params.items()}
    for override in OverridesParser.create().parse_overrides(list(config.hydra.overrides.task)):
        key = _plain_key(override.get_key_element())
        if override.is_sweep_override():
            space[key] = override.input_line.split("=", 1)[1]
        else:
            space.pop(key, None)
    return space


def _plain_key(key: str) -> str:
    """`+seed_pair` -> `seed_pair`: Hydra's add/delete prefixes are not part of the key, and MLflow
    rejects '+' in a param name (which silently left a sweep's jobs without their sweep tags)."""
    return key.lstrip("+~")


def sweep_name(config: DictConfig) -> str:
    """The Optuna study name, else the swept keys ('loss.gamma', 'experiment'), else 'multirun'."""
    study = OmegaConf.select(config, "hydra.sweeper.study_name")
    if is_optuna(config) and study:
        return str(study)
    return ",".join(search_space(config)) or "multirun"


def is_optuna(config: DictConfig) -> bool:
    return OmegaConf.select(config, "hydra.sweeper._target_") in OPTUNA_SWEEPERS


def trial_link(config: DictConfig) -> TrialLink | None:
    """The Optuna trial a job trains (its number set by astro's sweeper in the job's environment), with
    the study's storage and pruner from the job's config; None outside astro's Optuna sweeper."""
    number = os.environ.get(TRIAL_NUMBER_ENV)
    storage = storage_url(config.hydra.sweeper) if is_optuna(config) else None
    if number is None or not storage:
        return None
    pruner = OmegaConf.select(config, "hydra.sweeper.pruner")
    plain = OmegaConf.to_container(pruner, resolve=True) if pruner is not None else None
    return TrialLink(storage, str(config.hydra.sweeper.study_name), int(number), plain)


def metric_key(optimized_metric: str) -> str:
    """'val/macro_f1' -> 'kept/val_macro_f1', the name train.py logs the kept model's value under."""
    return kept_key(optimized_metric)


def job_error(job_return: JobReturn) -> BaseException | None:
    """The exception a job raised, None if it did not fail (JobReturn re-raises it on access)."""
    if job_return.status != JobStatus.FAILED:
        return None
    # read directly: the return_value property prints "Error executing job" to stderr each time it is read
    error = getattr(job_return, "_return_value", None)
    return error if isinstance(error, BaseException) else None
