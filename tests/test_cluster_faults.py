"""Faults on the one-machine cluster: a trial's job cancelled mid-training, the mlflow server stopped
mid-sweep, and two jobs writing one sqlite store at once. (The PostgreSQL restart is part of the Optuna
sweep in test_cluster.py.)"""

from __future__ import annotations

import subprocess
import sys

import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from tests.conftest import ROOT, smoke_overrides
from tests.test_cluster import (
    optuna_args,
    run,
    slurm,
    store_warnings,
    sweep_runs,
    train_sweep,
    wait_until,
)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def start(command: list, cluster: dict) -> subprocess.Popen:
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=cluster
    )


def running_task(cluster: dict, index: int) -> str | None:
    """The Slurm id (ARRAY_TASK) of the running array task `index`, None until it runs."""
    out = slurm(cluster, "squeue", "-h", "-t", "R", "-o", "%i")
    return next((job for job in out.split() if job.endswith(f"_{index}")), None)


def test_cancelled_trial_resumes_from_last_pt_with_the_same_command(cluster, data_dir, tmp_path):
    def command(invocation: str) -> list[str]:
        sweep = optuna_args(cluster, "preempted", tmp_path / invocation, "hydra.sweeper.n_jobs=2")
        return train_sweep(
            cluster,
            data_dir,
            tmp_path,
            "cluster-scancel",
            *sweep,
            "hydra.sweeper.n_trials=2",
            "epochs=12",
            "resume=auto",
            "hydra/sweeper/pruner=none",  # this is about resuming: every trial trains its 12 epochs
        )

    sweep = start(command("first"), cluster)
    last = tmp_path / "first" / "0" / "checkpoints" / "last.pt"
    wait_until(last.is_file, 180, "trial 0 wrote no last.pt")
    slurm(cluster, "scancel", running_task(cluster, 0))  # as a preemption would
    _, stderr = sweep.communicate(timeout=300)
    assert sweep.returncode != 0 and "CANCELLED" in stderr  # the launcher stops: its job was lost
    again = run(command("second"), cluster)
    assert again.returncode == 0, again.stderr[-3000:]
    study = optuna.load_study(study_name="preempted", storage=cluster["ASTRO_OPTUNA_STORAGE"])
    states = [t.state for t in study.get_trials()]
    # trial 0 lost and re-run as trial 2; trial 1 finished while its launcher died: its result is kept
    assert states == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]
    assert "Resuming" in (tmp_path / "second" / "0" / "train.log").read_text()
    _, jobs = sweep_runs(cluster, "cluster-scancel")
    assert len(jobs) == 2, jobs  # no duplicate run
    assert all(j.info.status == "FINISHED" for j in jobs), store_warnings(tmp_path)
    resumed = next(j for j in jobs if j.data.tags["astro.output_dir"] == str(tmp_path / "first" / "0"))
    history = MlflowClient(cluster["MLFLOW_TRACKING_URI"]).get_metric_history(
        resumed.info.run_id, "epoch/train_loss"
    )
    assert sorted(m.step for m in history) == list(range(1, 13))  # every epoch once


def test_server_stopped_mid_sweep_jobs_train_offline_and_sync(cluster, data_dir, tmp_path):
    experiment = "cluster-offline"
    sweep = start(
        train_sweep(
            cluster,
            data_dir,
            tmp_path,
            experiment,
            "loss.gamma=1.0,3.0",
            f"hydra.sweep.dir={tmp_path / 'multirun'}",
            "epochs=15",
        ),
        cluster,
    )
    client = MlflowClient(cluster["MLFLOW_TRACKING_URI"])
    wait_until(lambda: len(sweep_runs(cluster, experiment)[1]) == 2, 180, "the jobs started no runs")
    assert run([ROOT / "scripts/cluster/down", "mlflow"], cluster).returncode == 0
    wait_until(lambda: not slurm(cluster, "squeue", "-h").strip(), 300, "the jobs did not finish")
    assert run([ROOT / "scripts/cluster/up", "mlflow"], cluster).returncode == 0
    _, stderr = sweep.communicate(timeout=300)
    assert sweep.returncode == 0, stderr[-3000:]
    journals = sorted((tmp_path / "multirun").glob("*/mlflow_offline.jsonl"))
    assert len(journals) == 2
    for journal in journals:
        synced = run([sys.executable, "-m", "astro", "sync", str(journal.parent)], cluster)
        assert synced.returncode == 0, synced.stderr[-3000:]
    _, jobs = sweep_runs(cluster, experiment)
    assert len(jobs) == 2 and all(j.info.status == "FINISHED" for j in jobs)  # continued, not duplicated
    for job in jobs:
        assert "kept/val_macro_f1" in job.data.metrics
        assert len(client.get_metric_history(job.info.run_id, "epoch/train_loss")) == 15


def test_two_joblib_jobs_share_one_sqlite_store(data_dir, tmp_path):
    store = {"uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "artifact_root": str(tmp_path / "art")}
    command = [
        sys.executable,
        str(ROOT / "train.py"),
        "-m",
        "loss.gamma=1.0,2.0,3.0,4.0",
        "hydra/launcher=local_joblib",
    ]
    command += ["hydra.launcher.n_jobs=2", *smoke_overrides(data_dir, tmp_path, store), "epochs=1"]
    command += [f"hydra.sweep.dir={tmp_path / 'multirun'}"]
    env = {"OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "0", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=400, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "database is locked" not in result.stderr
    client = MlflowClient(store["uri"])
    runs = client.search_runs([client.get_experiment_by_name("astro-debug").experiment_id])
    statuses = sorted(r.info.status for r in runs)
    assert statuses == ["FINISHED"] * 5, store_warnings(tmp_path)  # the parent and its 4 jobs
