"""Optuna's study storage for sweeps on a cluster: a database server that restarts mid-sweep, and trials
lost with their job (a cancelled or preempted Slurm job whose launcher died with it).

The sweeper is given an RDBStorage instead of the bare URL, so its engine checks each pooled connection
before use (pool_pre_ping): after a PostgreSQL restart the next call reconnects instead of failing on a
dead connection. Hydra 1.3 instantiates the plugin's config recursively, so there the storage is a
`_target_` node in the sweeper's config. Hydra 1.4 instantiates plugins non-recursively (the node would
reach create_study as a config) and requires the sweeper's config to stay as composed (each job's config
is recomposed and compared with it), so there the config keeps the URL and optuna's storage lookup in the
launching process opens that URL with pool_pre_ping.

Trials still RUNNING when a sweep starts belonged to a sweep that is gone: one whose job finished anyway
gets that job's result; the others are marked FAIL and their parameters enqueued, so the same command
re-runs them (with `resume=auto` a retried trial continues its MLflow run from its last.pt).
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any

import optuna
from hydra.core.utils import JobStatus
from omegaconf import DictConfig, OmegaConf, read_write
from optuna.storages import RDBStorage
from optuna.trial import TrialState
from sqlalchemy.engine import make_url

from astro.config.compat import HYDRA_1_4
from astro.errors import AstroError

log = logging.getLogger(__name__)
RDB_STORAGE = "optuna.storages.RDBStorage"
ENGINE_KWARGS = {"pool_pre_ping": True}
RETRIED_FROM = "astro.retried_from"  # system attr of an enqueued retry: the lost trial's number
SWEEP_DIRS = "astro.sweep_dirs"  # study user attr: every invocation's sweep folder


def storage_url(sweeper: DictConfig) -> str | None:
    """The storage URL, whether still the string the user gave or the node made by resilient_storage."""
    storage = sweeper.get("storage")
    if isinstance(storage, str) or storage is None:
        return storage
    return OmegaConf.select(storage, "url")


def plugins_instantiated_recursively() -> bool:
    """Whether Hydra instantiates a plugin's config recursively (1.3), so that a `_target_` node in the
    sweeper's config reaches the sweeper as the object (1.4 passes it on as a config)."""
    return not HYDRA_1_4


def resilient_storage(sweeper: DictConfig) -> None:
    """Make the sweeper's storage an RDBStorage with pool_pre_ping: under Hydra 1.3 a node in its config
    that Hydra instantiates with the sweeper; under Hydra 1.4 the URL, which optuna's storage lookup in
    this process opens with pool_pre_ping."""
    url = storage_url(sweeper)
    if not url or not isinstance(sweeper.storage, str):
        return
    if not plugins_instantiated_recursively():
        _PRE_PING_URLS.add(url)
        optuna.storages.get_storage = _get_storage  # what create_study calls with the sweeper's storage
        return
    node: dict[str, Any] = {"_target_": RDB_STORAGE, "url": url, "engine_kwargs": ENGINE_KWARGS}
    with read_write(sweeper):
        sweeper.storage = OmegaConf.create(node)


_PRE_PING_URLS: set[str] = set()
_optuna_get_storage = optuna.storages.get_storage


def _get_storage(storage: Any) -> Any:
    """optuna's storage lookup, opening the sweeps' storage URLs with pool_pre_ping (Hydra 1.4)."""
    if isinstance(storage, str) and storage in _PRE_PING_URLS:
        return _optuna_get_storage(open_storage(storage))
    return _optuna_get_storage(storage)


class OptunaStorageError(AstroError):
    """The study storage cannot be opened as it is (e.g. its schema is older than this optuna)."""


def open_storage(url: str) -> RDBStorage:
    try:
        return RDBStorage(url, engine_kwargs=dict(ENGINE_KWARGS))
    except RuntimeError as error:
        raise upgrade_needed(url, error) or error from None


def upgrade_needed(url: str, error: BaseException) -> OptunaStorageError | None:
    """The one-line error for a storage whose tables an older optuna made (an optuna 2.10 study opened by
    optuna >= 3); None for any other error."""
    if "storage upgrade" not in str(error):
        return None
    shown = make_url(url).render_as_string(hide_password=True)
    return OptunaStorageError(
        f"the Optuna storage {shown} was made by an older optuna than {optuna.__version__}: back it up, then "
        f"run `optuna storage upgrade --storage {shown}` (docs/install.md; the upgraded storage no longer "
        "opens with the older optuna)"
    )


def record_sweep_dir(study: optuna.Study, sweep_dir: str) -> None:
    """Remember each invocation's sweep folder, where a later one finds the results of lost trials."""
    dirs = list(study.user_attrs.get(SWEEP_DIRS, []))
    study.set_user_attr(SWEEP_DIRS, [*dirs, str(Path(sweep_dir).resolve())])


def finished_jobs(sweep_dirs: list[str]) -> list[tuple[set[str], float]]:
    """(overrides, returned value) of every job whose submitit result (.submitit/*/*_result.pkl) says it
    completed: jobs can finish after the launcher that waited for them died."""
    found = []
    for sweep_dir in sweep_dirs:
        for path in Path(sweep_dir).glob(".submitit/*/*_result.pkl"):
            with open(path, "rb") as fh:
                outcome, job = pickle.load(fh)
            if outcome == "success" and job.status == JobStatus.COMPLETED:
                found.append((set(job.overrides), float(job.return_value)))
    return found


def retry_lost_trials(study: optuna.Study) -> tuple[int, int]:
    """Settle every RUNNING trial: COMPLETE with its job's result if that job finished, else FAIL with its
    parameters enqueued to run again. Return (recovered, retried). Assumes, as n_trials counting does,
    that no other sweep of this study runs now."""
    lost = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    jobs = finished_jobs(study.user_attrs.get(SWEEP_DIRS, [])) if lost else []
    recovered = 0
    for trial in lost:
        wanted = {f"{name}={value}" for name, value in trial.params.items()}
        value = next((value for overrides, value in jobs if wanted <= overrides), None)
        if value is not None:
            study.tell(trial.number, value)
            recovered += 1
            log.warning("Optuna trial %d: its launcher was lost, its job finished: COMPLETE", trial.number)
            continue
        # tell, not the storage's setter: optuna 2.10 names it set_trial_state, optuna >= 3
        # set_trial_state_values; tell settles a RUNNING trial of another process on both
        study.tell(trial.number, state=TrialState.FAIL)
        study.enqueue_trial(trial.params)
        waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))[-1]
        study._storage.set_trial_system_attr(waiting._trial_id, RETRIED_FROM, trial.number)
        log.warning(
            "Optuna trial %d was lost with its job: marked FAIL, re-run with %s", trial.number, trial.params
        )
    return recovered, len(lost) - recovered
