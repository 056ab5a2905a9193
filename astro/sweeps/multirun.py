"""What a Hydra multirun is, read from its composed config: the sweeper, what it varies, the sweep's
name, the metric the parent run records, and why a job failed. Pure functions, kept apart from the
callback that acts on them (astro.sweeps.callback) so they can be tested without MLflow."""

from __future__ import annotations

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import DictConfig, OmegaConf

from astro.tracking.metric_names import kept_key

OPTUNA_SWEEPER = "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"


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
    return OmegaConf.select(config, "hydra.sweeper._target_") == OPTUNA_SWEEPER


def metric_key(optimized_metric: str) -> str:
    """'val/macro_f1' -> 'kept/val_macro_f1', the name train.py logs the kept model's value under."""
    return kept_key(optimized_metric)


def job_error(job_return: JobReturn) -> BaseException | None:
    """The exception a job raised, None if it did not fail (JobReturn re-raises it on access)."""
    if job_return.status != JobStatus.FAILED:
        return None
    try:
        job_return.return_value  # noqa: B018
    except Exception as exc:
        return exc
    return None
