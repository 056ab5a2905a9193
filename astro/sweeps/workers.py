"""The asynchronous mode's worker: one Hydra job, launched through the sweep's own launcher (a joblib
process, a submitit process, a Slurm array task), that takes trial after trial from the shared study and
runs each as a Hydra job of its own (its folder, config, callbacks and MLflow run, as in batch mode)
until the study has its target of decided trials. No worker waits for another.

Each worker samples with its own sampler, seeded with the sweep's seed plus the worker's number.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import optuna
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, run_job
from hydra.types import HydraContext, TaskFunction
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from astro.config.compat import allowed_targets
from astro.errors import TrainingInterrupted
from astro.sweeps.storage import open_storage, storage_url
from astro.sweeps.trials import SearchSpace, ask_within, settle

log = logging.getLogger(__name__)


@dataclass
class WorkerReport:
    """What one worker did, returned to the launching process and logged there."""

    worker: int
    trials: list[int] = field(default_factory=list)
    failed: int = 0
    interrupted: bool = False  # SIGINT/SIGTERM stopped its trial, which stays RUNNING to be retried
    busy_s: float = 0.0
    wall_s: float = 0.0


@dataclass
class TrialWorker:
    """The task function of a worker job: pickled with the launcher's job, as the training task is."""

    hydra_context: HydraContext
    task_function: TaskFunction
    config: DictConfig  # the sweep's config, from which each trial's config is composed
    space: SearchSpace
    target: int  # decided trials the study must hold when the workers stop
    max_failure_rate: float

    @classmethod
    def create(cls, impl: Any, task_function: TaskFunction, space: SearchSpace, target: int) -> TrialWorker:
        return cls(impl.hydra_context, task_function, impl.config, space, target, impl.max_failure_rate)

    def __call__(self, _worker_cfg: DictConfig) -> WorkerReport:
        report = WorkerReport(worker=int(HydraConfig.get().job.num))
        job_id = str(HydraConfig.get().job.id)
        study = self._study(report.worker)
        start = time.perf_counter()
        while (trial := ask_within(study, self.target)) is not None:
            began = time.perf_counter()
            ret = self._run_trial(job_id, trial.number, self.space.overrides(trial))
            report.busy_s += time.perf_counter() - began
            report.trials.append(trial.number)
            error = settle(study, trial.number, ret)
            if isinstance(error, TrainingInterrupted):
                report.interrupted = True
                break
            report.failed += error is not None
            if self._too_many_failures(report):
                log.error(
                    "worker %d stops: %d of %d trials failed",
                    report.worker,
                    report.failed,
                    len(report.trials),
                )
                break
        report.wall_s = time.perf_counter() - start
        return report

    def _study(self, worker: int) -> optuna.Study:
        sweeper = self.config.hydra.sweeper
        sampler_cfg = OmegaConf.to_container(sweeper.sampler, resolve=True)
        if sampler_cfg.get("seed") is not None:
            sampler_cfg["seed"] = int(sampler_cfg["seed"]) + worker
        with allowed_targets():
            sampler = instantiate(sampler_cfg)
        storage = open_storage(storage_url(sweeper))
        return optuna.load_study(study_name=sweeper.study_name, storage=storage, sampler=sampler)

    def _run_trial(self, worker_job_id: str, number: int, overrides: list[str]) -> JobReturn:
        config = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        with open_dict(config):
            config.hydra.job.id = f"{worker_job_id}_trial{number}"
            config.hydra.job.num = number
        HydraConfig.instance().set_config(config)
        return run_job(
            hydra_context=self.hydra_context,
            task_function=self.task_function,
            config=config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )

    def _too_many_failures(self, report: WorkerReport) -> bool:
        """max_failure_rate per worker; and at most `target` failures, so a sweep whose every trial
        fails ends even with max_failure_rate=1.0."""
        rate = report.failed / len(report.trials)
        return report.failed > 0 and (rate > self.max_failure_rate or report.failed >= self.target)
