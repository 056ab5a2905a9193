"""The Optuna side of a sweep: resuming a study to a total of decided trials with a fresh sampler seed,
and the study's summary (best trial, trials table, history/slice/contour/importance plots) for MLflow."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import optuna
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf, read_write
from optuna.trial import TrialState
from optuna.visualization import matplotlib as optuna_plots
from sqlalchemy.engine import make_url

from astro.sweeps.importances import param_importances
from astro.sweeps.storage import (
    open_storage,
    record_sweep_dir,
    resilient_storage,
    retry_lost_trials,
    storage_url,
)
from astro.tracking.tags import (
    OPTUNA_BEST_TRIAL,
    OPTUNA_COMPLETE,
    OPTUNA_COMPLETE_BEFORE,
    OPTUNA_N_TRIALS,
    OPTUNA_RECOVERED,
    OPTUNA_RETRIED,
    STORAGE,
    STUDY,
)

log = logging.getLogger(__name__)


def storage_for_display(storage: str) -> str:
    return make_url(storage).render_as_string(hide_password=True)


def directions(sweeper: DictConfig) -> list[str]:
    direction = sweeper.get("direction", "minimize")
    return [str(direction)] if isinstance(direction, str) else [str(d) for d in direction]


def resume_study(sweeper: DictConfig, sweep_dir: str) -> dict[str, str]:
    """Make `n_trials` the study's total of decided (COMPLETE or PRUNED) trials, and move the sampler seed
    past the trials already in the study; return tags describing what was found.

    The plugin loads an existing study (load_if_exists) but always runs `n_trials` more trials, and a
    sampler seeded as on the first run proposes the same random startup points again.
    """
    storage, name = storage_url(sweeper), sweeper.study_name
    if not storage or not name:
        log.warning("Optuna study not resumable: set hydra.sweeper.storage and hydra.sweeper.study_name")
        return {}
    url = make_url(storage)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    # made here when new, so that it records this sweep's folder; the plugin loads it (load_if_exists)
    study = optuna.create_study(
        study_name=name, storage=open_storage(storage), directions=directions(sweeper), load_if_exists=True
    )
    trials = study.get_trials(deepcopy=False)
    recovered, retried = retry_lost_trials(study)
    record_sweep_dir(study, sweep_dir)
    complete = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials) + recovered
    total = int(sweeper.n_trials)
    with read_write(sweeper):
        sweeper.n_trials = max(total - complete, 0)
        if trials and OmegaConf.select(sweeper, "sampler.seed") is not None:
            sweeper.sampler.seed = int(sweeper.sampler.seed) + len(trials)
    resilient_storage(sweeper)
    if trials:
        log.info(
            "Optuna study '%s' resumed: %d of %d trials decided (%d in the study), running %d more",
            name,
            complete,
            total,
            len(trials),
            sweeper.n_trials,
        )
    return {
        STUDY: str(name),
        STORAGE: storage_for_display(storage),
        OPTUNA_N_TRIALS: str(total),
        OPTUNA_COMPLETE_BEFORE: str(complete),
        OPTUNA_RECOVERED: str(recovered),
        OPTUNA_RETRIED: str(retried),
    }


RESUMED_KEYS = ("n_trials", "sampler.seed")


def keep_in_job_configs(config: DictConfig) -> None:
    """Record what resume_study changed in the sweeper as Hydra overrides too. Each job's config is
    recomposed from the command line's overrides, and Hydra 1.4 refuses a job whose hydra.sweeper differs
    from the sweeper's ('must be configured before the sweep starts'); under Hydra 1.3 it makes the jobs'
    .hydra/hydra.yaml show the n_trials and seed the sweeper ran with."""
    sweeper = config.hydra.sweeper
    pinned = [
        f"hydra.sweeper.{key}={OmegaConf.select(sweeper, key)}"
        for key in RESUMED_KEYS
        if OmegaConf.select(sweeper, key) is not None
    ]
    with read_write(config.hydra.overrides):
        config.hydra.overrides.hydra = [*config.hydra.overrides.hydra, *pinned]


def study_plots(study: optuna.Study, out_dir: Path) -> list[Path]:
    """Optimization history, slice and contour plots (optuna's), and parameter importances: as many as the
    study's COMPLETE trials support."""
    out_dir.mkdir(parents=True, exist_ok=True)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    names = sorted({name for t in complete for name in t.params})
    plots: dict[str, Any] = {"optimization_history": optuna_plots.plot_optimization_history}
    if len(complete) >= 2 and names:
        plots["param_importances"] = _importances_plot
        plots["slice"] = optuna_plots.plot_slice
    if len(complete) >= 2 and len(names) >= 2:
        plots["contour"] = lambda s: optuna_plots.plot_contour(s, params=names[:2])
    paths = []
    # optuna's plots switch matplotlib to its ggplot style globally; rc_context restores the settings
    with warnings.catch_warnings(), matplotlib.rc_context():
        warnings.simplefilter("ignore")  # optuna marks its matplotlib plots experimental
        for name, draw in plots.items():
            draw(study)
            path = out_dir / f"{name}.png"
            plt.gcf().savefig(path, dpi=110, bbox_inches="tight")
            plt.close("all")
            paths.append(path)
    return paths


def _importances_plot(study: optuna.Study) -> None:
    """Drawn here: optuna 2.10's plot_param_importances needs matplotlib.cm.get_cmap (gone in matplotlib
    3.9) and its default fANOVA evaluator breaks on current scikit-learn trees; mean decrease in impurity
    (a random forest's own importances, as `python -m astro importances` prints them) works."""
    importances = param_importances(study)
    fig, ax = plt.subplots(figsize=(6, 1.0 + 0.5 * len(importances)))
    ax.barh(list(importances)[::-1], list(importances.values())[::-1], color="tab:blue")
    ax.set(xlabel="importance (mean decrease in impurity)", title="Hyperparameter importances")
    fig.tight_layout()


def log_study(client: MlflowClient, run_id: str, sweeper: DictConfig, metric: str, out_dir: Path) -> None:
    """Best params (as params `best.<name>`), best value, the trials table and the plots on the parent."""
    study = optuna.load_study(study_name=sweeper.study_name, storage=open_storage(storage_url(sweeper)))
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    client.set_tag(run_id, OPTUNA_COMPLETE, str(len(complete)))
    if not complete:
        return
    best = study.best_trial
    for name, value in best.params.items():
        client.log_param(run_id, f"best.{name}", value)
    client.log_metric(run_id, metric, float(best.value))
    client.set_tag(run_id, OPTUNA_BEST_TRIAL, str(best.number))
    study_plots(study, out_dir)
    study.trials_dataframe().to_csv(out_dir / "trials.csv", index=False)
    client.log_artifacts(run_id, str(out_dir), "optuna")
