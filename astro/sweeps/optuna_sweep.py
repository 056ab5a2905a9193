"""What astro's Optuna sweeper runs (hydra/sweeper=astro_optuna): the plugin's study, search space and
launcher, with jobs that report every epoch to their trial (pruning, astro.training.pruning) and two
ways to run the trials:

- batch: `n_jobs` trials asked and launched together; the next batch starts after the slowest job (the
  plugin's way, and the only one with the basic launcher);
- async: `n_jobs` workers launched once through the configured launcher (joblib processes, submitit,
  Slurm array tasks), each taking the next trial from the shared study as soon as it finishes one,
  until the study has n_trials decided trials (astro.sweeps.workers).
"""

from __future__ import annotations

import logging
from typing import Any

import optuna
from hydra.core.plugins import Plugins
from hydra.types import TaskFunction
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from astro.config.compat import allowed_targets
from astro.errors import ConfigError, TrainingInterrupted
from astro.sweeps.trials import DECIDED, SearchSpace, settle
from astro.sweeps.workers import TrialWorker

log = logging.getLogger(__name__)
MODES = ("batch", "async")


def sweep(impl: Any, task_function: TaskFunction, mode: str, arguments: list[str]) -> None:
    """Run `impl.n_trials` more trials (the plugin's OptunaSweeperImpl holds the settings) in `mode`."""
    if mode not in MODES:
        raise ConfigError(f"hydra.sweeper.mode={mode!r} must be one of {', '.join(MODES)}")
    if impl.custom_search_space_extender is not None:
        raise ConfigError("hydra.sweeper.custom_search_space is not supported by astro_optuna: use params")
    check_pruner(impl.config.hydra.sweeper.pruner)
    impl._process_searchspace_config()
    space = SearchSpace.parse([*impl._parse_sweeper_params_config(), *arguments])
    directions = impl._get_directions()
    study = optuna.create_study(
        study_name=impl.study_name,
        storage=impl.storage,
        sampler=impl.sampler,
        directions=directions,
        load_if_exists=True,
    )
    log.info("Optuna study '%s': %d trials to go, %s mode", study.study_name, impl.n_trials, mode)
    if mode == "async":
        _run_async(impl, task_function, study, space)
    else:
        _run_batches(impl, study, space)
    _save_results(study, directions, f"{impl.config.hydra.sweep.dir}/optimization_results.yaml")


def check_pruner(node: DictConfig | None) -> None:
    """Build the pruner once here, so that a bad setting stops the sweep before any job, in one line
    naming the key, instead of failing every trial."""
    try:
        with allowed_targets():
            instantiate(node) if node is not None else None
    except Exception as error:  # optuna raises ValueError/TypeError, Hydra InstantiationException
        cause = error.__cause__ or error
        raise ConfigError(f"hydra.sweeper.pruner: {cause}") from None


def _run_batches(impl: Any, study: optuna.Study, space: SearchSpace) -> None:
    to_go = impl.n_trials
    while to_go > 0:
        trials = [study.ask() for _ in range(min(to_go, impl.n_jobs))]
        returns = impl.launcher.launch([space.overrides(t) for t in trials], initial_job_idx=impl.job_idx)
        impl.job_idx += len(returns)
        outcomes = [settle(study, t.number, r) for t, r in zip(trials, returns, strict=True)]
        failures = [error for error in outcomes if error is not None]
        for error in failures:
            if isinstance(error, TrainingInterrupted):  # its trial stays RUNNING: re-running retries it
                raise SystemExit(error.exit_code)
        if len(failures) / len(returns) > impl.max_failure_rate:
            log.error(
                "%d of %d trials failed (max_failure_rate %s)",
                len(failures),
                len(returns),
                impl.max_failure_rate,
            )
            for ret in returns:
                ret.return_value  # noqa: B018 (raises the first failure with its own traceback)
        to_go -= len(trials)


def _run_async(impl: Any, task_function: TaskFunction, study: optuna.Study, space: SearchSpace) -> None:
    target = len(study.get_trials(deepcopy=False, states=DECIDED)) + impl.n_trials
    worker = TrialWorker.create(impl, task_function, space, target)
    launcher = Plugins.instance().instantiate_launcher(
        config=impl.config, hydra_context=impl.hydra_context, task_function=worker
    )
    fixed = [f"{name}={value}" for name, value in space.fixed.items()]  # a worker's config is a job's
    overrides = [[*fixed, f"hydra.sweep.subdir=workers/{i}"] for i in range(impl.n_jobs)]
    reports = [
        ret.return_value for ret in launcher.launch(overrides, initial_job_idx=0)
    ]  # raises a worker's failure
    for report in reports:
        log.info(
            "worker %d: trials %s, %d failed, busy %.0f of %.0f s",
            report.worker,
            report.trials,
            report.failed,
            report.busy_s,
            report.wall_s,
        )
    if any(report.interrupted for report in reports):
        raise SystemExit(130)  # as in batch mode: the sweep stops, its trials are retried on a re-run


def _save_results(study: optuna.Study, directions: list[str], path: str) -> None:
    """optimization_results.yaml, as the plugin writes it."""
    if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        return
    if len(directions) < 2:
        best = study.best_trial
        results = {"name": "optuna", "best_params": best.params, "best_value": best.value}
        log.info("Best parameters: %s, best value: %s", best.params, best.value)
    else:
        solutions = [{"params": t.params, "values": t.values} for t in study.best_trials]
        results = {"name": "optuna", "solutions": solutions}
    OmegaConf.save(OmegaConf.create(results), path)
