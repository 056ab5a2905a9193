"""Sweeps on the one-machine cluster (scripts/cluster/up): Optuna trials and a basic sweep as sbatch jobs
with the study on PostgreSQL and every run on the mlflow server, and predict.py shards on Slurm."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import optuna
import pyarrow.parquet as pq
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from tests.conftest import ROOT, smoke_overrides

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
SLURM = [
    "hydra/launcher=slurm",
    "hydra.launcher.gpus_per_node=0",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
    "hydra.launcher.timeout_min=15",
]


def train_sweep(cluster: dict, data_dir: Path, tmp_path: Path, experiment: str, *args: str) -> list[str]:
    """`python train.py -m ...` on Slurm, smoke-sized, logging to the cluster's mlflow server."""
    return [
        sys.executable,
        str(ROOT / "train.py"),
        "-m",
        *SLURM,
        *smoke_overrides(data_dir, tmp_path),
        f"tracking.uri={cluster['MLFLOW_TRACKING_URI']}",
        "tracking.artifact_root=null",  # artifacts go through the server's proxy
        f"tracking.experiment={experiment}",
        *args,
    ]


def optuna_args(cluster: dict, study: str, sweep_dir: Path, *args: str) -> list[str]:
    return [
        "hparams_search=focal_optuna",
        f"hydra.sweeper.study_name={study}",
        f"hydra.sweeper.storage={cluster['ASTRO_OPTUNA_STORAGE']}",
        f"hydra.sweep.dir={sweep_dir}",
        *args,
    ]


def run(command: list, cluster: dict, timeout: int = 400) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=cluster)


def slurm(cluster: dict, *command: str) -> str:
    return run(list(command), cluster, timeout=60).stdout


def wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {seconds}s"
        time.sleep(0.5)


def sweep_runs(cluster: dict, experiment: str):
    """The experiment's parent runs and job runs on the server (none while the sweep has not created it)."""
    client = MlflowClient(cluster["MLFLOW_TRACKING_URI"])
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return [], []
    runs = client.search_runs([found.experiment_id])
    parents = [r for r in runs if r.data.tags.get("astro.sweep.role") == "parent"]
    return parents, [r for r in runs if r not in parents]


def store_warnings(folder: Path) -> list[str]:
    """The jobs' warnings that their MLflow store failed them (train.log), to say why a run did not finish."""
    return [
        line
        for log in sorted(folder.rglob("train.log"))
        for line in log.read_text().splitlines()
        if "MLflow store" in line
    ]


def sacct_states(cluster: dict, name: str = "train") -> list[str]:
    """The jobs' final accounting states. submitit returns once a job has written its result, which is a
    moment before slurmdbd records the job's end: wait (up to 60 s) until no job is still active."""
    active = {"PENDING", "RUNNING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED"}

    def states() -> list[str]:
        out = slurm(cluster, "sacct", "-X", "-n", "-P", "-o", "JobName,State", "--name", name)
        return [line.split("|")[1] for line in out.splitlines() if line]

    wait_until(lambda: not active.intersection(states()), 60, f"the {name} jobs ended in sacct")
    return states()


@pytest.fixture(scope="module")
def optuna_sweep(cluster, data_dir, tmp_path_factory):
    """4 Optuna trials, two sbatch jobs at a time; PostgreSQL is restarted while the first two run."""
    tmp_path = tmp_path_factory.mktemp("optuna_slurm")
    command = train_sweep(
        cluster,
        data_dir,
        tmp_path,
        "cluster-optuna",
        *optuna_args(cluster, "cluster", tmp_path / "multirun", "hydra.sweeper.n_jobs=2"),
        "hydra.sweeper.n_trials=4",
        "epochs=2",
    )
    sweep = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=cluster
    )
    wait_until(lambda: " R " in slurm(cluster, "squeue", "-h", "-o", " %t "), 120, "no job started")
    down_up = [ROOT / "scripts/cluster/down", "postgres"], [ROOT / "scripts/cluster/up", "postgres"]
    for step in down_up:
        assert run(step, cluster, timeout=120).returncode == 0
    _, stderr = sweep.communicate(timeout=400)
    assert sweep.returncode == 0, stderr[-3000:]
    return tmp_path


def test_optuna_trials_run_as_sbatch_jobs_through_a_postgresql_restart(cluster, optuna_sweep):
    study = optuna.load_study(study_name="cluster", storage=cluster["ASTRO_OPTUNA_STORAGE"])
    assert [t.state for t in study.get_trials()] == [TrialState.COMPLETE] * 4
    assert sacct_states(cluster).count("COMPLETED") >= 4
    parents, jobs = sweep_runs(cluster, "cluster-optuna")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert len(jobs) == 4 and {j.data.tags["mlflow.parentRunId"] for j in jobs} == {parents[0].info.run_id}
    assert all(j.info.status == "FINISHED" and "kept/val_macro_f1" in j.data.metrics for j in jobs)
    artifacts = MlflowClient(cluster["MLFLOW_TRACKING_URI"]).list_artifacts(
        jobs[0].info.run_id, "checkpoints"
    )
    assert any(a.path.endswith("best.pt") for a in artifacts)  # through the server's artifact proxy


def test_compare_latest_reads_the_server(cluster, optuna_sweep):
    out = optuna_sweep / "report"
    result = run([sys.executable, "-m", "astro", "compare", "--latest", "--out", str(out)], cluster)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Optuna study cluster" in (out / "report.md").read_text()


def test_async_workers_on_slurm_take_trials_until_n_trials(cluster, data_dir, tmp_path):
    """Two array tasks start at the same moment and each takes trial after trial from the PostgreSQL study
    until 4 are decided: every trial runs once, none is lost, none is over."""
    command = train_sweep(
        cluster,
        data_dir,
        tmp_path,
        "cluster-async",
        *optuna_args(cluster, "cluster_async", tmp_path / "multirun", "hydra.sweeper.mode=async"),
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.n_trials=4",
        "epochs=1",
    )
    result = run(command, cluster)
    assert result.returncode == 0, result.stderr[-3000:]
    study = optuna.load_study(study_name="cluster_async", storage=cluster["ASTRO_OPTUNA_STORAGE"])
    decided = [t.number for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(decided) == 4
    assert all("astro.unused" in t.system_attrs for t in study.trials if t.state == TrialState.FAIL)
    assert sorted(p.name for p in (tmp_path / "multirun" / "workers").iterdir()) == ["0", "1"]
    parents, jobs = sweep_runs(cluster, "cluster-async")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert sorted(int(j.data.tags["astro.optuna.trial"]) for j in jobs) == sorted(decided)
    assert {j.data.tags["mlflow.parentRunId"] for j in jobs} == {parents[0].info.run_id}


def test_basic_sweep_on_slurm(cluster, data_dir, tmp_path):
    sweep_dir = f"hydra.sweep.dir={tmp_path / 'multirun'}"
    result = run(
        train_sweep(
            cluster, data_dir, tmp_path, "cluster-gamma", "loss.gamma=1.0,3.0", sweep_dir, "epochs=1"
        ),
        cluster,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    parents, jobs = sweep_runs(cluster, "cluster-gamma")
    assert len(parents) == 1 and sorted(j.data.params["loss.gamma"] for j in jobs) == ["1.0", "3.0"]
    assert all(j.info.status == "FINISHED" for j in jobs), store_warnings(tmp_path)


def test_predict_shards_on_slurm_merge_to_the_whole(cluster, optuna_sweep, data_dir, tmp_path):
    _, jobs = sweep_runs(cluster, "cluster-optuna")
    checkpoint = f"runs:/{jobs[0].info.run_id}/checkpoints/best.pt"
    source = next(data_dir.rglob("*.h5"))
    output = tmp_path / "labels.parquet"
    predict = [sys.executable, str(ROOT / "predict.py"), "-m", "shard=range(0,2)", "num_shards=2", *SLURM]
    predict += [f"checkpoint={checkpoint}", f"input={source}", f"output={output}", "progress=false"]
    predict += [f"tracking.uri={cluster['MLFLOW_TRACKING_URI']}", f"hydra.sweep.dir={tmp_path / 'multirun'}"]
    result = run(predict, cluster)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sacct_states(cluster, "predict")[-2:] == ["COMPLETED", "COMPLETED"]
    merged = run([sys.executable, "-m", "astro", "merge-shards", str(output)], cluster)
    assert merged.returncode == 0, merged.stderr[-3000:]
    assert pq.read_table(output)["index"].to_pylist() == list(range(300))
