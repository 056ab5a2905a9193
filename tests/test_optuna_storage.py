"""Optuna storage on a cluster: the storage node the sweeper instantiates, and settling lost trials."""

from __future__ import annotations

import pickle

import optuna
from hydra.core.utils import JobReturn, JobStatus
from hydra.utils import instantiate
from omegaconf import OmegaConf
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from astro.sweeps.storage import (
    RETRIED_FROM,
    plugins_instantiated_recursively,
    record_sweep_dir,
    resilient_storage,
    retry_lost_trials,
    storage_url,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_storage_becomes_a_pre_pinging_rdb_storage(tmp_path):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    sweeper = OmegaConf.create({"storage": url})
    resilient_storage(sweeper)
    assert storage_url(sweeper) == url
    if plugins_instantiated_recursively():  # Hydra 1.3: a node the sweeper's instantiation makes
        storage = instantiate(sweeper.storage)
    else:  # Hydra 1.4: the URL stays; create_study's storage lookup opens it with pool_pre_ping
        assert sweeper.storage == url
        storage = optuna.storages.get_storage(url)._backend
    assert isinstance(storage, RDBStorage) and storage.url == url
    assert storage.engine.pool._pre_ping
    assert not optuna.storages.get_storage(
        f"sqlite:///{tmp_path / 'other.db'}"
    )._backend.engine.pool._pre_ping
    assert storage_url(OmegaConf.create({"storage": None})) is None


def finished_job(folder, overrides: list[str], value: float) -> None:
    """A submitit result file as a Slurm job leaves it, whether or not its launcher is still there."""
    job = JobReturn(overrides=overrides, status=JobStatus.COMPLETED, _return_value=value)
    folder.mkdir(parents=True)
    with open(folder / "7_0_0_result.pkl", "wb") as fh:
        pickle.dump(("success", job), fh)


def test_lost_trials_take_their_jobs_result_or_run_again(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    record_sweep_dir(study, str(tmp_path / "sweep"))
    finished, cancelled = study.ask(), study.ask()  # both left RUNNING by a launcher that died
    gammas = finished.suggest_float("loss.gamma", 0, 5), cancelled.suggest_float("loss.gamma", 0, 5)
    finished_job(tmp_path / "sweep" / ".submitit" / "7_0", [f"loss.gamma={gammas[0]}", "epochs=2"], 0.25)
    study = optuna.load_study(study_name="s", storage=storage)
    assert retry_lost_trials(study) == (1, 1)
    first, second, retry = optuna.load_study(study_name="s", storage=storage).get_trials()
    assert (first.state, first.value) == (TrialState.COMPLETE, 0.25)
    assert (second.state, retry.state, retry.system_attrs[RETRIED_FROM]) == (
        TrialState.FAIL,
        TrialState.WAITING,
        second.number,
    )
