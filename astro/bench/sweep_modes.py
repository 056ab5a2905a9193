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

import json
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


def bench_pruning(work: Path, n_trials: int, epochs: list[int], data: list[str], pruners: list[str]) -> dict:
    """One arm per pruner (the first is the baseline); an arm already measured in `work` (its
    pruner-<name>.json) is read back, so another pruner can be added without re-running the others."""
    _warm_cache(work, data)
    space = [*data, f"epochs=choice({','.join(map(str, epochs))})", f"hydra.sweeper.n_trials={n_trials}"]
    arms = {pruner: _pruning_arm(work, pruner, space) for pruner in pruners}
    base = pruners[0]
    client = MlflowClient(f"sqlite:///{work}/mlflow.db")
    deltas = {
        f"{p}_minus_{base}": _paired(client, arms[base]["best_run_id"], arms[p]["best_run_id"])
        for p in pruners[1:]
    }
    settings = {"n_trials": n_trials, "epochs": epochs, "data": data}
    return {
        "benchmark": "sweep_pruning",
        "machine": machine(),
        "settings": settings,
        "arms": arms,
        "best_trial_test_macro_f1_deltas": deltas,
    }


def _pruning_arm(work: Path, pruner: str, space: list[str]) -> dict:
    saved = work / f"pruner-{pruner}.json"
    if saved.is_file():
        return json.loads(saved.read_text())
    wall = _sweep(work, f"pruner-{pruner}", [*space, f"hydra/sweeper/pruner={pruner}"])
    study = _study(work, f"pruner-{pruner}")
    trials = study.get_trials(deepcopy=False)
    number = str(study.best_trial.number)
    best = next(r for r in _jobs(work, f"pruner-{pruner}") if r.data.tags.get(OPTUNA_TRIAL) == number)
    metrics = best.data.metrics
    arm = {
        "wall_s": wall,
        "epochs_trained": sum(len(t.intermediate_values) for t in trials),
        "trials": {state.name: sum(t.state == state for t in trials) for state in TrialState},
        "best_val_macro_f1": study.best_value,
        "best_params": study.best_params,
        "best_run_id": best.info.run_id,
        "best_test_macro_f1": [metrics[f"test/macro_f1{s}"] for s in ("", "_ci_low", "_ci_high")],
    }
    saved.write_text(json.dumps(arm, indent=2))
    return arm


def _paired(client: MlflowClient, base_id: str, other_id: str) -> dict:
    """The paired Δ of the best runs' test macro F1 (other − base) with its 95% bootstrap interval."""
    (base, classes), (other, _) = (test_predictions(client, client.get_run(i)) for i in (base_id, other_id))
    counts = resample_counts(len(base.labels))
    delta = score_deltas(f1_scores(other, counts, len(classes)), f1_scores(base, counts, len(classes)))[0]
    return {"delta": delta.value, "low": delta.low, "high": delta.high}


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
