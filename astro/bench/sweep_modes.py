"""Two questions about Optuna sweeps, each answered by real studies run side by side through train.py:

- pruning: the same study (search space, sampler seed, n_trials) with `pruner=none` and `pruner=median`:
  epochs trained in total, wall time, best val macro F1, and the best trial's test macro F1 with its 95%
  interval and the paired interval of the difference (both best runs scored on the same test images);
- modes: the same fixed list of trials of three lengths (enqueued, so both arms train exactly the same
  trials), with 2 workers in batch and in async mode: wall time to n_trials and the share of worker time
  spent outside a trial's run (idle).

Every arm has its own study storage and MLflow experiment under --work; the image cache is shared and
built before the first arm, so no arm pays for it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from astro.bench.machine import machine
from astro.comparison.noise import test_predictions
from astro.evaluation.bootstrap import f1_scores, resample_counts, score_deltas
from astro.paths import PROJECT_ROOT
from astro.tracking.tags import OPTUNA_TRIAL, SWEEP_ROLE

STUDY = "focal_optuna"


def _sweep(work: Path, arm: str, overrides: list[str], env: dict[str, str] | None = None) -> float:
    """Run one arm's `train.py -m hparams_search=focal_optuna ...`; its wall time in seconds."""
    args = [
        sys.executable,
        str(PROJECT_ROOT / "train.py"),
        "-m",
        "hparams_search=focal_optuna",
        "progress=false",
        f"paths.cache_dir={work}/cache",
        f"tracking.uri=sqlite:///{work}/mlflow.db",
        f"tracking.artifact_root={work}/artifacts",
        f"tracking.experiment=bench-{arm}",
        f"hydra.sweep.dir={work}/{arm}",
        f"hydra.sweeper.storage=sqlite:///{work}/{arm}.db",
        *overrides,
    ]
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env={**os.environ, **(env or {})})
    wall = time.perf_counter() - start
    (work / f"{arm}.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"arm {arm} exited {done.returncode}; log: {work / f'{arm}.log'}")
    return wall


def _study(work: Path, arm: str) -> optuna.Study:
    return optuna.load_study(study_name=STUDY, storage=f"sqlite:///{work}/{arm}.db")


def _jobs(work: Path, arm: str) -> list:
    client = MlflowClient(f"sqlite:///{work}/mlflow.db")
    experiment = client.get_experiment_by_name(f"bench-{arm}").experiment_id
    return client.search_runs([experiment], f"tags.`{SWEEP_ROLE}` = 'job'", max_results=10000)


def _warm_cache(work: Path, data: list[str]) -> None:
    """One 1-epoch run builds the resized cache every arm then reads."""
    _sweep(work, "warmup", [*data, "epochs=1", "hydra.sweeper.n_trials=1", "hydra/sweeper/pruner=none"])


def bench_pruning(work: Path, n_trials: int, epochs: list[int], data: list[str]) -> dict:
    _warm_cache(work, data)
    space = [*data, f"epochs=choice({','.join(map(str, epochs))})", f"hydra.sweeper.n_trials={n_trials}"]
    arms = {}
    for pruner in ("none", "median"):
        wall = _sweep(work, f"pruner-{pruner}", [*space, f"hydra/sweeper/pruner={pruner}"])
        study = _study(work, f"pruner-{pruner}")
        trials = study.get_trials(deepcopy=False)
        best = next(
            r
            for r in _jobs(work, f"pruner-{pruner}")
            if r.data.tags.get(OPTUNA_TRIAL) == str(study.best_trial.number)
        )
        arms[pruner] = {
            "wall_s": wall,
            "epochs_trained": sum(len(t.intermediate_values) for t in trials),
            "trials": {state.name: sum(t.state == state for t in trials) for state in TrialState},
            "best_val_macro_f1": study.best_value,
            "best_params": study.best_params,
            "best_run": best,
        }
    delta = _paired(arms["none"].pop("best_run"), arms["median"].pop("best_run"), work, arms)
    return {
        "benchmark": "sweep_pruning",
        "machine": machine(),
        "settings": {"n_trials": n_trials, "epochs": epochs, "data": data},
        "arms": arms,
        "median_minus_none_test_macro_f1": delta,
    }


def _paired(base, other, work: Path, arms: dict) -> dict:
    """Each best run's test macro F1 with its interval, and the paired Δ (median − none)."""
    client = MlflowClient(f"sqlite:///{work}/mlflow.db")
    for run, arm in ((base, "none"), (other, "median")):
        metrics = run.data.metrics
        arms[arm]["best_test_macro_f1"] = [metrics[f"test/macro_f1{s}"] for s in ("", "_ci_low", "_ci_high")]
    (base_found, classes), (other_found, _) = test_predictions(client, base), test_predictions(client, other)
    counts = resample_counts(len(base_found.labels))
    deltas = score_deltas(
        f1_scores(other_found, counts, len(classes)), f1_scores(base_found, counts, len(classes))
    )
    return {"delta": deltas[0].value, "low": deltas[0].low, "high": deltas[0].high}


def bench_modes(work: Path, n_trials: int, epochs: list[int], data: list[str], seed: int = 0) -> dict:
    _warm_cache(work, data)
    rng = np.random.default_rng(seed)
    planned = [
        {"loss.gamma": float(rng.uniform(0, 5)), "epochs": int(rng.choice(epochs))} for _ in range(n_trials)
    ]
    settings = [
        *data,
        f"epochs=choice({','.join(map(str, epochs))})",
        f"hydra.sweeper.n_trials={n_trials}",
        "hydra/sweeper/pruner=none",
        "hydra/launcher=local_joblib",
        "hydra.sweeper.n_jobs=2",
    ]
    arms = {}
    for mode in ("batch", "async"):
        arm = f"mode-{mode}"
        study = optuna.create_study(
            study_name=STUDY, storage=f"sqlite:///{work}/{arm}.db", direction="maximize"
        )
        for params in planned:
            study.enqueue_trial(params)
        wall = _sweep(work, arm, [*settings, f"hydra.sweeper.mode={mode}"], env={"OMP_NUM_THREADS": "1"})
        runs = _jobs(work, arm)
        busy = sum((r.info.end_time - r.info.start_time) / 1000 for r in runs)
        arms[mode] = {
            "wall_s": wall,
            "trials": len(runs),
            "busy_s": busy,
            "idle_share": 1 - busy / (2 * wall),
        }
    return {
        "benchmark": "sweep_modes",
        "machine": machine(),
        "settings": {"planned": planned, "data": data},
        "arms": arms,
        "async_speedup": arms["batch"]["wall_s"] / arms["async"]["wall_s"],
    }
