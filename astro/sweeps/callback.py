"""Sweeps: one MLflow parent run per Hydra multirun with every job nested under it, and Optuna study
resume and summary. Done in a Hydra callback (registered in conf/train.yaml under hydra.callbacks), so the
training code knows nothing about sweeps and a single run is untouched.

The parent is created in the launching process and stays RUNNING while the jobs run, wherever they run
(in-process, joblib workers, submitit processes or Slurm nodes): the callback object travels to the jobs
with Hydra's context, and `on_job_start` hands the parent id and the job's tags to `Tracker.start`
(astro.tracking.handoff).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
from hydra.core.utils import JobReturn
from hydra.experimental.callback import Callback
from mlflow.entities import Run
from mlflow.tracking import MlflowClient
from mlflow.tracking.context.registry import resolve_tags
from omegaconf import DictConfig

from astro.comparison.selection import is_pruned
from astro.errors import TrainingInterrupted
from astro.sweeps.multirun import is_optuna, job_error, metric_key, search_space, sweep_name, trial_link
from astro.sweeps.storage import storage_url
from astro.sweeps.study import keep_in_job_configs, log_study, resume_study
from astro.sweeps.summary import summarize
from astro.tracking import handoff
from astro.tracking.store import configure
from astro.tracking.tags import (
    ERROR,
    JOB,
    JOB_NUM,
    JOB_OVERRIDES,
    OPTUNA_TRIAL,
    PARENT,
    PARENT_RUN_ID,
    SWEEP_DIR,
    SWEEP_FAILED_JOBS,
    SWEEP_ID,
    SWEEP_JOBS,
    SWEEP_LAUNCHER,
    SWEEP_NAME,
    SWEEP_OVERRIDES,
    SWEEP_PRUNED_JOBS,
    SWEEP_ROLE,
    SWEEP_SWEEPER,
)
from astro.training.pruning import RunPruned, TrialLink

log = logging.getLogger(__name__)


class _NoObjectRepr(logging.Filter):
    """Optuna's sweeper logs `Storage: <optuna.storages...RDBStorage object at 0x...>`; the parent run's
    astro.optuna.storage tag says which storage it is (without its password)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return " object at 0x" not in record.getMessage()


logging.getLogger("hydra_plugins.hydra_optuna_sweeper._impl").addFilter(_NoObjectRepr())


class MlflowSweepCallback(Callback):
    """Parent MLflow run per multirun; jobs nest under it with sweep id, job number and overrides tags."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.parent_run_id: str | None = None
        self.tracking_uri: str | None = None
        self.experiment_id: str | None = None
        self.sweep_tags: dict[str, str] = {}
        self.failures: list[str] = []
        self.launcher_pid: int | None = None
        self.interrupted = False

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        optuna_tags = resume_study(config.hydra.sweeper, config.hydra.sweep.dir) if is_optuna(config) else {}
        if optuna_tags:
            keep_in_job_configs(config)
        # The Optuna sweeper writes its results there even when no trial is left to launch.
        Path(config.hydra.sweep.dir).mkdir(parents=True, exist_ok=True)
        name = self.name or sweep_name(config)
        tracking = config.tracking
        self.tracking_uri = tracking.uri
        self.experiment_id = configure(tracking.uri, tracking.experiment, tracking.artifact_root)
        client = MlflowClient(self.tracking_uri)
        choices = config.hydra.runtime.choices
        tags = {
            SWEEP_NAME: name,
            SWEEP_ROLE: PARENT,
            SWEEP_SWEEPER: str(choices.get("hydra/sweeper")),
            SWEEP_LAUNCHER: str(choices.get("hydra/launcher")),
            SWEEP_DIR: str(Path(config.hydra.sweep.dir).resolve()),
            SWEEP_OVERRIDES: json.dumps(list(config.hydra.overrides.task)),
            **optuna_tags,
        }
        run = client.create_run(
            self.experiment_id, run_name=f"{name}-{datetime.now():%b%d-%H%M}", tags=resolve_tags(tags)
        )
        self.parent_run_id = run.info.run_id
        self.sweep_tags = {SWEEP_ID: self.parent_run_id, SWEEP_NAME: name, SWEEP_ROLE: JOB}
        client.set_tag(self.parent_run_id, SWEEP_ID, self.parent_run_id)
        for key, value in search_space(config).items():
            client.log_param(self.parent_run_id, f"search.{key}", value)
        self.launcher_pid = os.getpid()
        atexit.register(self._end_if_open)
        log.info("MLflow parent run %s (%s): every job of this sweep nests under it", run.info.run_name, name)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if self.parent_run_id is None:
            return
        tags = self._job_tags(config)
        link = trial_link(config)
        if link is not None:
            link.hand_off()
            tags[OPTUNA_TRIAL] = str(link.trial)
        handoff.hand_off(self.parent_run_id, tags)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if self.parent_run_id is None:
            return
        handoff.clear()
        TrialLink.clear()
        error = job_error(job_return)
        if error is None or isinstance(error, RunPruned):
            return
        if isinstance(error, TrainingInterrupted) and os.getpid() == self.launcher_pid:
            # Ctrl-C/SIGTERM stopped this job gracefully: stop the sweep too, instead of starting the next
            # job or trial (a SystemExit passes through Hydra's per-job and per-callback exception guards).
            self.interrupted = True
            raise SystemExit(error.exit_code)
        self._record_failure(config, error)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.parent_run_id is None:
            return
        client = MlflowClient(self.tracking_uri)
        if is_optuna(config) and storage_url(config.hydra.sweeper):
            out_dir = Path(config.hydra.sweep.dir) / "optuna"
            log_study(
                client, self.parent_run_id, config.hydra.sweeper, metric_key(config.optimized_metric), out_dir
            )
        results = Path(config.hydra.sweep.dir) / "optimization_results.yaml"
        if results.is_file():
            client.log_artifact(self.parent_run_id, str(results), "optuna")
        summarize(client, self.parent_run_id, self.tracking_uri, Path(config.hydra.sweep.dir) / "report")
        jobs = self.jobs(client)
        pruned = [run for run in jobs if is_pruned(run)]
        failed = [run for run in jobs if run.info.status != "FINISHED" and not is_pruned(run)]
        client.set_tag(self.parent_run_id, SWEEP_JOBS, str(len(jobs)))
        client.set_tag(self.parent_run_id, SWEEP_FAILED_JOBS, str(len(failed)))
        client.set_tag(self.parent_run_id, SWEEP_PRUNED_JOBS, str(len(pruned)))
        client.set_terminated(self.parent_run_id, "FAILED" if failed else "FINISHED")
        log.info(
            "MLflow parent run %s: %d jobs, %d pruned, %d failed",
            self.parent_run_id,
            len(jobs),
            len(pruned),
            len(failed),
        )
        self.parent_run_id = None

    def jobs(self, client: MlflowClient) -> list[Run]:
        """The parent's job runs, in job order."""
        runs = client.search_runs(
            [self.experiment_id],
            f"tags.`{SWEEP_ID}` = '{self.parent_run_id}' and tags.`{SWEEP_ROLE}` = '{JOB}'",
            max_results=50000,
        )
        return sorted(runs, key=lambda run: int(run.data.tags.get(JOB_NUM, "0")))

    def _job_tags(self, config: DictConfig) -> dict[str, str]:
        return {
            **self.sweep_tags,
            JOB_NUM: str(config.hydra.job.num),
            JOB_OVERRIDES: json.dumps(list(config.hydra.overrides.task)),
        }

    def _record_failure(self, config: DictConfig, error: BaseException) -> None:
        """A job that failed before it started its MLflow run (e.g. a rejected value) still gets a FAILED
        child run carrying the reason, so the sweep's MLflow tree has every job."""
        reason = f"{type(error).__name__}: {error}"
        self.failures.append(f"job {config.hydra.job.num}: {reason}")
        client = MlflowClient(self.tracking_uri)
        num = str(config.hydra.job.num)
        if any(run.data.tags.get(JOB_NUM) == num for run in self.jobs(client)):
            return
        tags = {**self._job_tags(config), ERROR: reason[:5000], PARENT_RUN_ID: self.parent_run_id}
        run = client.create_run(
            self.experiment_id, run_name=f"{self.sweep_tags[SWEEP_NAME]}-job{num}", tags=tags
        )
        client.set_terminated(run.info.run_id, "FAILED")

    def _end_if_open(self) -> None:
        """At exit of a multirun that never reached on_multirun_end (the basic sweeper raises when a job
        failed; Ctrl-C), end the parent FAILED, or KILLED for an interruption, instead of RUNNING forever."""
        if self.parent_run_id is None:
            return
        interrupted = self.interrupted or isinstance(getattr(sys, "last_value", None), KeyboardInterrupt)
        reason = "; ".join(self.failures) or "the multirun stopped before all its jobs returned"
        client = MlflowClient(self.tracking_uri)
        client.set_tag(self.parent_run_id, ERROR, ("interrupted" if interrupted else reason)[:5000])
        client.set_terminated(self.parent_run_id, "KILLED" if interrupted else "FAILED")
        self.parent_run_id = None
