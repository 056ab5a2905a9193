"""Sweeps: one MLflow parent per multirun with the jobs nested under it, Optuna resume and failed trials,
the submitit launcher; plus the study helpers on their own."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import optuna
import psutil
import pytest
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf
from optuna.trial import TrialState

from astro.comparison import report as comparison
from astro.comparison.registry import best_run
from astro.sweeps.callback import MlflowSweepCallback
from astro.sweeps.multirun import search_space, sweep_name
from astro.sweeps.storage import ENGINE_KWARGS, RDB_STORAGE, RETRIED_FROM, plugins_instantiated_recursively
from astro.sweeps.study import resume_study, storage_for_display, study_plots
from tests.conftest import ROOT, smoke_overrides

optuna.logging.set_verbosity(optuna.logging.WARNING)


def sweep_command(data_dir: Path, tmp_path: Path, store: dict[str, str], *args: str) -> list[str]:
    return [
        sys.executable,
        str(ROOT / "train.py"),
        "-m",
        *args,
        *smoke_overrides(data_dir, tmp_path, store),
        "epochs=1",
    ]


def sweep_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return {**env, "HYDRA_FULL_ERROR": "0", **extra}


def run_sweep(command: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=300, cwd=ROOT, env=sweep_env(**env)
    )


def sweep_tree(uri: str, experiment: str = "astro-debug"):
    """The parent run(s) and job runs of a store, each job list in job order."""
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    parents = [r for r in runs if r.data.tags.get("astro.sweep.role") == "parent"]
    jobs = sorted((r for r in runs if r not in parents), key=lambda r: int(r.data.tags["astro.job.num"]))
    return client, parents, jobs


def optuna_args(tmp_path: Path, invocation: str, *args: str) -> list[str]:
    return [
        "hparams_search=focal_optuna",
        f"hydra.sweep.dir={tmp_path / 'multirun' / invocation}",
        f"hydra.sweeper.storage=sqlite:///{tmp_path / 'multirun' / 'optuna.db'}",
        *args,
    ]


def load_study(tmp_path: Path) -> optuna.Study:
    return optuna.load_study(
        study_name="focal_optuna", storage=f"sqlite:///{tmp_path / 'multirun' / 'optuna.db'}"
    )


def trials(tmp_path: Path) -> list[optuna.trial.FrozenTrial]:
    return load_study(tmp_path).get_trials(deepcopy=False)


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory) -> Path:
    """An MLflow sqlite file with its tables made (about 5 s of migrations), copied for each sweep."""
    path = tmp_path_factory.mktemp("empty_store") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


def copy_store(empty_store: Path, tmp_path: Path) -> dict[str, str]:
    shutil.copy(empty_store, tmp_path / "mlflow.db")
    return {"uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "artifact_root": str(tmp_path / "art")}


@pytest.fixture
def store(empty_store, tmp_path) -> dict[str, str]:
    return copy_store(empty_store, tmp_path)


@pytest.fixture(scope="module")
def gamma_sweep(data_dir, empty_store, tmp_path_factory):
    """`python train.py -m loss.gamma=1.0,2.0,3.0`, with a stale MLFLOW_RUN_ID in the environment."""
    tmp_path = tmp_path_factory.mktemp("gamma")
    store = copy_store(empty_store, tmp_path)
    command = sweep_command(
        data_dir, tmp_path, store, "loss.gamma=1.0,2.0,3.0", f"hydra.sweep.dir={tmp_path / 'multirun'}"
    )
    result = run_sweep(command, MLFLOW_RUN_ID="0123456789abcdef0123456789abcdef")
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp_path, store


@pytest.mark.slow
def test_gamma_multirun_nests_one_run_per_job_under_one_parent(gamma_sweep):
    tmp_path, store = gamma_sweep
    _, parents, jobs = sweep_tree(store["uri"])
    assert len(parents) == 1 and len(jobs) == 3
    parent = parents[0]
    assert parent.info.status == "FINISHED" and parent.info.run_name.startswith("loss.gamma-")
    assert parent.data.tags["astro.sweep.name"] == "loss.gamma"
    assert parent.data.tags["astro.sweep.dir"] == str(tmp_path / "multirun")
    assert parent.data.params["search.loss.gamma"] == "1.0,2.0,3.0"
    assert (parent.data.tags["astro.sweep.jobs"], parent.data.tags["astro.sweep.failed_jobs"]) == ("3", "0")
    for num, (job, gamma) in enumerate(zip(jobs, ("1.0", "2.0", "3.0"), strict=True)):
        tags = job.data.tags
        assert job.info.status == "FINISHED"
        assert tags["mlflow.parentRunId"] == tags["astro.sweep.id"] == parent.info.run_id
        assert tags["astro.job.num"] == str(num) and tags["astro.sweep.name"] == "loss.gamma"
        assert f"loss.gamma={gamma}" in json.loads(tags["astro.job.overrides"])
        assert job.data.params["loss.gamma"] == gamma and "test/macro_f1" in job.data.metrics
    # the parent tells the sweep's story by itself: its best job on validation, scores and report
    best = max(jobs, key=lambda job: job.data.metrics["kept/val_macro_f1"])
    assert parent.data.tags["astro.sweep.best_run_id"] == best.info.run_id
    assert parent.data.metrics["test/macro_f1"] == best.data.metrics["test/macro_f1"]
    client = MlflowClient(store["uri"])
    assert "report/report.md" in {f.path for f in client.list_artifacts(parent.info.run_id, "report")}


@pytest.mark.slow
def test_report_on_a_gamma_sweep(gamma_sweep):
    tmp_path, store = gamma_sweep
    out = tmp_path / "report"
    path = comparison.main(["--sweep", "loss.gamma", "--tracking-uri", store["uri"], "--out", str(out)])
    text = path.read_text()
    client, parents, jobs = sweep_tree(store["uri"])
    rows = [line for line in text.splitlines() if line.startswith("| astro_cnn-focal-g")]
    assert len([row for row in rows if "| FINISHED |" in row]) == 3  # the comparison table
    paired = [row for row in rows if "| FINISHED |" not in row]
    assert len(paired) == 2 and all("[" in row for row in paired)  # each delta vs the baseline, with CI
    for job, gamma in zip(jobs, ("1.0", "2.0", "3.0"), strict=True):
        assert f"`loss.gamma={gamma}`" in text
        assert f"{job.data.metrics['test/macro_f1']:.4f}" in text
    assert (out / "per_class_f1.png").stat().st_size > 0
    logged = {Path(f.path).name for f in client.list_artifacts(parents[0].info.run_id, "report")}
    assert logged == {"report.md", "per_class_f1.png"}


@pytest.mark.slow
def test_optuna_sweep_killed_then_resumed_ends_with_n_trials_complete(data_dir, tmp_path, store):
    """Kill -9 the first invocation once 2 of 3 trials are COMPLETE; the same command then runs only
    the missing trial, at a new point (the sampler is reseeded past the study's trials)."""
    first = subprocess.Popen(
        sweep_command(data_dir, tmp_path, store, *optuna_args(tmp_path, "first", "hydra.sweeper.n_trials=3")),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env=sweep_env(),
    )
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and first.poll() is None:
            if _complete(tmp_path) >= 2:
                first.send_signal(signal.SIGKILL)
                break
            time.sleep(0.3)
    finally:
        first.kill()
        first.wait()
    assert first.returncode == -signal.SIGKILL and _complete(tmp_path) == 2

    second = run_sweep(
        sweep_command(data_dir, tmp_path, store, *optuna_args(tmp_path, "second", "hydra.sweeper.n_trials=3"))
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert "2 of 3 trials decided" in second.stdout + second.stderr
    complete = [t for t in trials(tmp_path) if t.state == TrialState.COMPLETE]
    assert len(complete) == 3
    assert len({t.params["loss.gamma"] for t in complete}) == 3

    client, parents, _ = sweep_tree(store["uri"])
    resumed = next(p for p in parents if p.data.tags["astro.sweep.dir"].endswith("second"))
    study = load_study(tmp_path)
    assert resumed.info.status == "FINISHED"
    assert resumed.data.tags["astro.optuna.complete_before"] == "2"
    assert resumed.data.metrics["kept/val_macro_f1"] == pytest.approx(study.best_value)
    assert float(resumed.data.params["best.loss.gamma"]) == pytest.approx(study.best_params["loss.gamma"])
    logged = {Path(f.path).name for f in client.list_artifacts(resumed.info.run_id, "optuna")}
    assert {"optimization_history.png", "param_importances.png", "slice.png", "trials.csv"} <= logged

    args = ["--sweep", "focal_optuna", "--tracking-uri", store["uri"], "--out", str(tmp_path / "report")]
    text = comparison.main(args).read_text()
    assert "# Optuna study focal_optuna (2 invocation(s)" in text  # both invocations' jobs
    assert all(f"`loss.gamma={t.params['loss.gamma']}`" in text for t in complete)


def _complete(tmp_path: Path) -> int:
    return _count(tmp_path, "COMPLETE")


@pytest.mark.slow
def test_optuna_trials_on_submitit_local_one_failing_leaves_the_sweep_alive(data_dir, tmp_path, store):
    """Two trials asked together (n_jobs=2) run as two submitit processes. Seed 0 draws both gammas, 1.0
    and -1.0, on optuna 2.10 and optuna 5 alike (TPE's defaults differ, so the order is not relied on):
    -1.0 is rejected, that trial fails, the sweep still ends normally with the other as best."""
    args = optuna_args(
        tmp_path,
        "run",
        "hydra/launcher=local_submitit",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.sampler.seed=0",
        "loss.gamma=choice(-1.0,1.0)",
    )
    result = run_sweep(sweep_command(data_dir, tmp_path, store, *args), OMP_NUM_THREADS="1")
    assert result.returncode == 0, result.stderr[-3000:]
    submitted = tmp_path / "multirun" / "run" / ".submitit"
    assert len([p for p in submitted.iterdir() if p.name.isdigit()]) == 2
    assert sorted(t.state.name for t in trials(tmp_path)) == ["COMPLETE", "FAIL"]
    _, (parent,), jobs = sweep_tree(store["uri"])
    gammas = [
        next(o for o in json.loads(job.data.tags["astro.job.overrides"]) if "gamma" in o) for job in jobs
    ]
    assert dict(zip(gammas, [job.info.status for job in jobs], strict=True)) == {
        "loss.gamma=1.0": "FINISHED",
        "loss.gamma=-1.0": "FAILED",
    }
    finished, failed = sorted(jobs, key=lambda job: job.info.status != "FINISHED")
    assert all(job.data.tags["mlflow.parentRunId"] == parent.info.run_id for job in jobs)
    assert "test/macro_f1" in finished.data.metrics
    assert "loss.gamma=-1.0 must be >= 0" in failed.data.tags["astro.error"]
    assert parent.info.status == "FAILED" and parent.data.tags["astro.sweep.failed_jobs"] == "1"
    assert float(parent.data.params["best.loss.gamma"]) == 1.0


def enqueue(tmp_path: Path, *params: dict) -> None:
    """A study holding these trials, first in line: a sweep runs them before sampling any."""
    storage = f"sqlite:///{tmp_path / 'multirun' / 'optuna.db'}"
    (tmp_path / "multirun").mkdir(exist_ok=True)
    study = optuna.create_study(study_name="focal_optuna", storage=storage, direction="maximize")
    for each in params:
        study.enqueue_trial(each)


@pytest.mark.slow
def test_an_optuna_sweep_prunes_the_clearly_worse_trials(data_dir, tmp_path, store):
    """Trials with lr=1e-7 do not learn; with the median pruner (2 finished trials, epochs 1 not judged)
    they stop after epoch 2, end PRUNED and KILLED with their checkpoints, and are never the best."""
    good, bad = (
        {"loss.gamma": 2.0, "optim.optimizer.lr": 0.002},
        {"loss.gamma": 2.0, "optim.optimizer.lr": 1.0e-7},
    )
    enqueue(tmp_path, good, good, bad, good, bad)
    args = optuna_args(
        tmp_path,
        "run",
        "hydra.sweeper.n_trials=5",
        "optim.optimizer.lr=choice(0.002,1.0e-7)",
        "hydra/sweeper/pruner=median",
        "hydra.sweeper.pruner.n_startup_trials=2",
        "hydra.sweeper.pruner.n_warmup_steps=2",
    )
    result = run_sweep([*sweep_command(data_dir, tmp_path, store, *args), "epochs=3"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Error executing job" not in result.stderr  # a pruned trial is no error
    states = [t.state.name for t in trials(tmp_path)]
    assert states == ["COMPLETE", "COMPLETE", "PRUNED", "COMPLETE", "PRUNED"]
    assert all(sorted(t.intermediate_values) == [1, 2] for t in trials(tmp_path) if t.state.name == "PRUNED")
    client, (parent,), jobs = sweep_tree(store["uri"])
    pruned = [job for job in jobs if job.data.tags.get("astro.optuna.state") == "PRUNED"]
    assert [job.data.tags["astro.optuna.trial"] for job in pruned] == ["2", "4"]
    for job in pruned:
        assert job.info.status == "KILLED" and job.data.tags["astro.optuna.pruned_at_epoch"] == "2"
        assert (Path(job.data.tags["astro.output_dir"]) / "checkpoints" / "last.pt").is_file()
    assert parent.info.status == "FINISHED"
    assert (parent.data.tags["astro.sweep.pruned_jobs"], parent.data.tags["astro.sweep.failed_jobs"]) == (
        "2",
        "0",
    )
    assert parent.data.tags["astro.sweep.best_run_id"] not in {job.info.run_id for job in pruned}
    report = client.download_artifacts(parent.info.run_id, "report/report.md", str(tmp_path))
    assert "## Pruned trials" in Path(report).read_text()
    assert best_run(client, jobs).info.run_id not in {job.info.run_id for job in pruned}  # register's choice


@pytest.mark.slow
def test_async_workers_killed_then_rerun_reach_n_trials(data_dir, tmp_path, store):
    """Two joblib workers take trials from the study; one is killed -9 mid-sweep. The same command then
    retries what was lost and ends with n_trials decided trials, each run by exactly one worker."""
    args = ["hydra.sweeper.mode=async", "hydra.sweeper.n_jobs=2", "hydra/launcher=local_joblib"]
    first = subprocess.Popen(
        sweep_command(
            data_dir, tmp_path, store, *optuna_args(tmp_path, "first", *args, "hydra.sweeper.n_trials=4")
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env=sweep_env(OMP_NUM_THREADS="1"),
    )
    try:
        wait_for(lambda: _count(tmp_path, "RUNNING") >= 1 and len(_workers(first.pid)) == 2, 240)
        os.kill(_workers(first.pid)[0], signal.SIGKILL)
        first.wait(timeout=240)
    finally:
        first.kill()
    assert first.returncode != 0  # the launcher saw its worker die
    second = run_sweep(
        sweep_command(
            data_dir, tmp_path, store, *optuna_args(tmp_path, "second", *args, "hydra.sweeper.n_trials=4")
        ),
        OMP_NUM_THREADS="1",
    )
    assert second.returncode == 0, second.stderr[-3000:]
    study = load_study(tmp_path)
    decided = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(decided) == 4
    lost = [t for t in study.trials if t.state == TrialState.FAIL and "astro.unused" not in t.system_attrs]
    retried = {t.system_attrs.get(RETRIED_FROM) for t in decided}
    assert all(t.number in retried for t in lost)
    workers = tmp_path / "multirun" / "second" / "workers"
    assert sorted(p.name for p in workers.iterdir()) == ["0", "1"]
    _, parents, jobs = sweep_tree(store["uri"])
    resumed = next(p for p in parents if p.data.tags["astro.sweep.dir"].endswith("second"))
    assert resumed.info.status == "FINISHED"
    nested = [j for j in jobs if j.data.tags["astro.sweep.id"] == resumed.info.run_id]
    assert nested and all(j.info.status == "FINISHED" for j in nested)
    finished = {int(j.data.tags["astro.optuna.trial"]) for j in jobs if j.info.status == "FINISHED"}
    assert {t.number for t in decided} <= finished  # every decided trial has its run


@pytest.mark.slow
@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ("hydra.sweeper.pruner.min_resource=0", "min_resource"),
        ("hydra.sweeper.mode=eager", "error: hydra.sweeper.mode='eager' must be one of batch, async"),
    ],
)
def test_bad_sweeper_settings_stop_before_any_job_naming_the_key(data_dir, tmp_path, store, setting, said):
    result = run_sweep(sweep_command(data_dir, tmp_path, store, *optuna_args(tmp_path, "bad", setting)))
    assert result.returncode != 0 and said in result.stderr
    assert "Traceback" not in result.stderr and "hydra.sweeper." in result.stderr
    assert not (tmp_path / "multirun" / "bad" / "0").exists()  # no job ran


def wait_for(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds}s"
        time.sleep(0.3)


def _count(tmp_path: Path, state: str) -> int:
    """Trials in `state`, read without creating anything: opening the study with optuna while the sweep
    creates its tables would race it."""
    uri = f"file:{tmp_path / 'multirun' / 'optuna.db'}?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True)) as db:
            return db.execute("SELECT count(*) FROM trials WHERE state = ?", (state,)).fetchone()[0]
    except sqlite3.OperationalError:  # no file or no tables yet
        return 0


def _workers(pid: int) -> list[int]:
    """The joblib (loky) worker processes of a sweep."""
    children = psutil.Process(pid).children(recursive=True)
    return [
        c.pid for c in children if "loky" in " ".join(c.cmdline()) and "tracker" not in " ".join(c.cmdline())
    ]


@pytest.mark.parametrize(
    ("interrupted", "status", "error"),
    [(False, "FAILED", "job 0: ConfigError: loss.gamma=-1.0 must be >= 0"), (True, "KILLED", "interrupted")],
)
def test_a_multirun_that_stops_early_ends_its_parent(store, interrupted, status, error):
    """What the exit hook does when the basic sweeper raises for a failed job, or on Ctrl-C."""
    client = MlflowClient(store["uri"])
    callback = MlflowSweepCallback()
    callback.tracking_uri = store["uri"]
    callback.parent_run_id = client.create_run(client.create_experiment("sweep")).info.run_id
    callback.failures = ["job 0: ConfigError: loss.gamma=-1.0 must be >= 0"]
    callback.interrupted = interrupted
    parent = callback.parent_run_id
    callback._end_if_open()
    run = client.get_run(parent)
    assert run.info.status == status and run.data.tags["astro.error"] == error
    assert callback.parent_run_id is None


def sweep_config(overrides: list[str], sweeper: dict | None = None):
    return OmegaConf.create({"hydra": {"overrides": {"task": overrides}, "sweeper": sweeper or {}}})


def test_search_space_and_name_follow_what_the_sweeper_sees():
    basic = sweep_config(["loss.gamma=1.0,2.0", "debug=smoke", "experiment=run1,run2"])
    assert search_space(basic) == {"loss.gamma": "1.0,2.0", "experiment": "run1,run2"}
    assert sweep_name(basic) == "loss.gamma,experiment"
    assert sweep_name(sweep_config(["debug=smoke"])) == "multirun"
    optuna_sweeper = {
        "_target_": "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper",
        "study_name": "focal_optuna",
        "params": {"loss.gamma": "interval(0.0, 5.0)", "epochs": "choice(10, 20, 30)"},
    }
    searched = sweep_config(["loss.gamma=choice(-1.0,1.0)", "epochs=1"], optuna_sweeper)
    assert search_space(searched) == {"loss.gamma": "choice(-1.0,1.0)"}
    assert sweep_name(searched) == "focal_optuna"
    added = sweep_config(["seed=1,2"], {"params": {"+seed_pair": "run1,run2"}})
    assert search_space(added) == {"seed_pair": "run1,run2", "seed": "1,2"}


def test_resume_study_counts_complete_trials_and_reseeds(tmp_path):
    storage = f"sqlite:///{tmp_path / 'new' / 'folder' / 'optuna.db'}"
    sweeper = OmegaConf.create({"storage": storage, "study_name": "s", "n_trials": 5, "sampler": {"seed": 3}})
    OmegaConf.set_readonly(sweeper, True)  # as Hydra hands it over
    assert resume_study(sweeper, str(tmp_path))["astro.optuna.complete_before"] == "0"
    assert (sweeper.n_trials, sweeper.sampler.seed) == (5, 3)  # no study yet: unchanged
    study = optuna.load_study(study_name="s", storage=storage)
    for state in (TrialState.COMPLETE, TrialState.COMPLETE, TrialState.FAIL):
        trial = study.ask()
        trial.suggest_float("x", 0, 1)
        study.tell(trial, 1.0 if state == TrialState.COMPLETE else None, state=state)
    study.ask().suggest_float("x", 0, 1)  # left RUNNING, as by a killed sweep
    tags = resume_study(sweeper, str(tmp_path))
    assert (sweeper.n_trials, sweeper.sampler.seed) == (3, 7)
    if plugins_instantiated_recursively():
        assert sweeper.storage == {"_target_": RDB_STORAGE, "url": storage, "engine_kwargs": ENGINE_KWARGS}
    else:  # Hydra 1.4 keeps the sweeper's config as composed (astro.sweeps.storage)
        assert sweeper.storage == storage
    study = optuna.load_study(study_name="s", storage=storage)  # not the cache of the trial's owner
    lost, retry = study.get_trials()[3:]  # the lost trial is FAIL, its parameters asked again first
    assert (lost.state, retry.state, retry.system_attrs[RETRIED_FROM]) == (
        TrialState.FAIL,
        TrialState.WAITING,
        3,
    )
    assert study.ask().suggest_float("x", 0, 1) == lost.params["x"] and tags["astro.optuna.retried"] == "1"
    assert tags["astro.optuna.complete_before"] == "2" and tags["astro.optuna.n_trials"] == "5"
    done = OmegaConf.create({"storage": storage, "study_name": "s", "n_trials": 2, "sampler": {"seed": 1}})
    resume_study(done, str(tmp_path))
    assert done.n_trials == 0


def test_study_plots_draw_what_the_trials_support(tmp_path):
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: t.suggest_float("loss.gamma", 0, 5) * t.suggest_int("epochs", 1, 3), n_trials=6)
    names = {p.name for p in study_plots(study, tmp_path / "all")}
    assert names == {"optimization_history.png", "param_importances.png", "slice.png", "contour.png"}
    assert all(p.stat().st_size > 0 for p in (tmp_path / "all").iterdir())
    single = optuna.create_study()
    single.optimize(lambda t: t.suggest_float("loss.gamma", 0, 5), n_trials=1)
    assert [p.name for p in study_plots(single, tmp_path / "one")] == ["optimization_history.png"]


def test_storage_is_shown_without_its_password():
    shown = storage_for_display("postgresql://astro:s3cret@db.example:5432/optuna")
    assert "s3cret" not in shown and "db.example" in shown
