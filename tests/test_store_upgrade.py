"""Upgrading a user's stores to the next stack: an Optuna 2.10 study and an MLflow 3.16 store, made by
astro on today's stack (a subprocess in ASTRO_CURRENT_PYTHON, the current venv), open on the next stack
after the documented step (`optuna storage upgrade`, `mlflow db upgrade`; docs/install.md) with every trial,
state, intermediate value, run and registered model as they were. `make test-next` runs it on the next
stack; elsewhere it is skipped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf
from optuna.trial import TrialState

from tests.conftest import ROOT

CURRENT_PYTHON = os.environ.get("ASTRO_CURRENT_PYTHON", "")
pytestmark = pytest.mark.skipif(
    optuna.__version__.startswith("2.") or not Path(CURRENT_PYTHON).is_file(),
    reason="upgrades today's stores on the next stack: `make test-next` "
    "(ASTRO_CURRENT_PYTHON=.venv/bin/python)",
)
STUDY, EXPERIMENT, MODEL = "focal_optuna", "astro-upgrade", "astro-upgrade-model"


def make_stores(optuna_url: str, mlflow_url: str, root: str) -> None:
    """What astro leaves in its stores (run on today's stack): a study made by resume_study with COMPLETE,
    FAIL, PRUNED and RUNNING trials and intermediate values; an experiment made by configure with a sweep
    parent, a job with params, a metric history and an artifact, and a registered model with an alias."""
    from astro.sweeps.study import resume_study
    from astro.tracking.store import configure

    sweeper = OmegaConf.create(
        {"storage": optuna_url, "study_name": STUDY, "n_trials": 4, "direction": "maximize"}
    )
    resume_study(sweeper, f"{root}/sweep")
    study = optuna.load_study(study_name=STUDY, storage=optuna_url)
    for number, state in enumerate((TrialState.COMPLETE, TrialState.COMPLETE, TrialState.FAIL, "pruned")):
        trial = study.ask()
        trial.suggest_float("loss.gamma", 0.0, 5.0)
        trial.suggest_categorical("epochs", [10, 20, 30])
        for step in (1, 2):
            trial.report(0.1 * step + number / 100, step)
        trial.set_user_attr("mlflow_run", f"job{number}")
        if state == "pruned":
            study.tell(trial, state=TrialState.PRUNED)
        else:
            study.tell(trial, 0.5 + number / 10 if state == TrialState.COMPLETE else None, state=state)
    study.ask().suggest_float("loss.gamma", 0.0, 5.0)  # left RUNNING, as by a killed sweep

    experiment = configure(mlflow_url, EXPERIMENT, f"{root}/mlartifacts")
    client = MlflowClient(mlflow_url, registry_uri=mlflow_url)
    parent = client.create_run(experiment, run_name="parent", tags={"astro.sweep.role": "parent"})
    job = client.create_run(
        experiment, run_name="job0", tags={"mlflow.parentRunId": parent.info.run_id, "astro.job.num": "0"}
    )
    client.log_param(job.info.run_id, "loss.gamma", "2.0")
    for step in range(3):
        client.log_metric(job.info.run_id, "val/macro_f1", 0.1 * step, step=step)
    card = Path(root) / "card.json"
    card.write_text('{"architecture": "AstroCNN"}')
    client.log_artifact(job.info.run_id, str(card), "model")
    client.set_terminated(job.info.run_id, "FINISHED")
    client.set_terminated(parent.info.run_id, "FAILED")
    client.create_registered_model(MODEL, tags={"task": "galaxy10"})
    version = client.create_model_version(MODEL, f"{root}/mlartifacts/model", run_id=job.info.run_id)
    client.set_registered_model_alias(MODEL, "champion", version.version)


def summary(optuna_url: str, mlflow_url: str) -> dict:
    """Everything the upgrade must keep, as JSON (the same function reads the stores on both stacks)."""
    study = optuna.load_study(study_name=STUDY, storage=optuna_url)
    trials = [
        {
            "number": t.number,
            "state": t.state.name,
            "value": t.value,
            "params": t.params,
            "intermediate": {str(step): value for step, value in sorted(t.intermediate_values.items())},
            "user_attrs": t.user_attrs,
        }
        for t in study.get_trials(deepcopy=False)
    ]
    client = MlflowClient(mlflow_url, registry_uri=mlflow_url)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = sorted(client.search_runs([experiment.experiment_id]), key=lambda run: run.info.run_name)
    model = client.get_registered_model(MODEL)
    versions = client.search_model_versions(f"name = '{MODEL}'")
    return json.loads(
        json.dumps(
            {
                "study": {
                    "direction": study.direction.name,
                    "user_attrs": study.user_attrs,
                    "trials": trials,
                },
                "experiment": {"name": experiment.name, "tags": experiment.tags},
                "runs": [
                    {
                        "id": run.info.run_id,
                        "name": run.info.run_name,
                        "status": run.info.status,
                        "params": run.data.params,
                        "metrics": run.data.metrics,
                        "tags": {
                            k: v for k, v in run.data.tags.items() if k.startswith(("astro.", "mlflow.p"))
                        },
                        "history": [
                            (m.step, m.value)
                            for m in client.get_metric_history(run.info.run_id, "val/macro_f1")
                        ],
                        "artifacts": [f.path for f in client.list_artifacts(run.info.run_id, "model")],
                    }
                    for run in runs
                ],
                "model": {
                    "tags": model.tags,
                    "aliases": model.aliases,
                    "versions": [(v.version, v.run_id, v.source, v.status) for v in versions],
                },
            },
            sort_keys=True,
        )
    )


def on_current_stack(code: str) -> str:
    result = subprocess.run(
        [CURRENT_PYTHON, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def command(name: str, *args: str) -> subprocess.CompletedProcess:
    """A console script of the next stack's venv (optuna, mlflow)."""
    return subprocess.run(
        [str(Path(sys.executable).parent / name), *args], capture_output=True, text=True, timeout=300
    )


def test_todays_stores_open_on_the_next_stack_after_the_upgrade_step(tmp_path):
    optuna_url, mlflow_url = f"sqlite:///{tmp_path / 'optuna.db'}", f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = f"{optuna_url!r}, {mlflow_url!r}"
    made = on_current_stack(
        "import json, optuna, mlflow, tests.test_store_upgrade as t\n"
        f"t.make_stores({args}, {str(tmp_path)!r})\n"
        f"print(json.dumps([optuna.__version__, mlflow.__version__, t.summary({args})]))"
    )
    optuna_version, mlflow_version, before = json.loads(made.strip().splitlines()[-1])
    assert optuna_version.startswith("2.10") and mlflow_version.startswith("3.16")
    assert [t["state"] for t in before["study"]["trials"]] == [
        "COMPLETE",
        "COMPLETE",
        "FAIL",
        "PRUNED",
        "RUNNING",
    ]

    # without the step, astro says what to do in one line
    from astro.sweeps.storage import OptunaStorageError, open_storage

    with pytest.raises(OptunaStorageError, match="optuna storage upgrade --storage"):
        open_storage(optuna_url)

    upgraded = command("optuna", "storage", "upgrade", "--storage", optuna_url)
    assert upgraded.returncode == 0, upgraded.stderr[-3000:]
    assert command("mlflow", "db", "upgrade", mlflow_url).returncode == 0
    assert summary(optuna_url, mlflow_url) == before

    # and astro carries on with the upgraded study: the RUNNING trial is settled and retried
    from astro.sweeps.study import resume_study

    sweeper = OmegaConf.create({"storage": optuna_url, "study_name": STUDY, "n_trials": 4})
    assert resume_study(sweeper, str(tmp_path / "sweep2"))["astro.optuna.retried"] == "1"
    assert sweeper.n_trials == 1  # 4 less the 3 decided: 2 COMPLETE and 1 PRUNED
