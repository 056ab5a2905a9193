"""A whole training recipe end to end (`train.py experiment=run2` by default) on a Galaxy10-sized synthetic
file: wall time, time per epoch, training images/s and peak GPU memory, with torch.compile off and on.

This is the GPU path's measure (data resident on the device, bf16 autocast, channels_last): each variant is
a real `train.py` process with its MLflow run, checkpoints, validation every epoch and the test step. The
synthetic file and the resized cache are built first, so the variants time training, not preparation.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from mlflow.tracking import MlflowClient

from astro.bench.machine import machine
from astro.config.compat import VERSION_BASE, allowed_targets
from astro.paths import PROJECT_ROOT
from astro.tracking.tags import RUN_NAME


def bench_recipe(
    experiment: str,
    images: int,
    epochs: int | None,
    compile_modes: list[bool],
    extra: tuple[str, ...] | list[str] = (),
    data_dir: Path = PROJECT_ROOT / "data",
) -> dict:
    """One `train.py` process per compile mode, on the same file and cache."""
    with tempfile.TemporaryDirectory() as tmp:
        overrides = [
            f"experiment={experiment}",
            f"data.source.num_images={images}",
            f"paths.data_dir={data_dir}",
            f"paths.cache_dir={tmp}/cache",
            *([f"epochs={epochs}"] if epochs else []),
            *extra,
        ]
        prepared = _prepare(overrides)
        runs = {f"compile_{str(mode).lower()}": _run(overrides, mode, Path(tmp)) for mode in compile_modes}
    return {
        "benchmark": "recipe_end_to_end",
        "machine": machine(),
        "settings": {"experiment": experiment, "images": images, "overrides": list(extra), **prepared},
        "runs": runs,
    }


def _prepare(overrides: list[str]) -> dict:
    """Generate the synthetic file and build the cache as train.py will find them; time both."""
    start = time.perf_counter()
    with initialize_config_dir(str(PROJECT_ROOT / "conf"), **VERSION_BASE), allowed_targets():
        cfg = compose("train", overrides=overrides)
    data = instantiate(cfg.data)
    generated = time.perf_counter()
    _ = data.splits  # builds the resized cache
    return {
        "epochs": int(cfg.epochs),
        "image_size": int(cfg.image_size),
        "batch_size": int(cfg.batch_size),
        "train_images": len(data.labels("train")),
        "prepare_file_s": generated - start,
        "prepare_cache_s": time.perf_counter() - generated,
    }


def _run(overrides: list[str], compile_mode: bool, tmp: Path) -> dict:
    name = f"compile_{str(compile_mode).lower()}"
    out = tmp / name
    store = f"sqlite:///{tmp}/mlflow.db"
    args = [
        sys.executable,
        str(PROJECT_ROOT / "train.py"),
        *overrides,
        f"compile={compile_mode}",
        "progress=false",
        f"hydra.run.dir={out}",
        f"tracking.uri={store}",
        f"tracking.artifact_root={tmp}/artifacts",
        f"run_name=bench-{name}",
    ]
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"train.py ({name}) exited {done.returncode}:\n{done.stderr[-3000:]}")
    results = json.loads((out / "results.json").read_text())
    client = MlflowClient(store)
    run = client.search_runs(  # run names get the recipe's gamma and epochs appended (-g3-e75)
        [e.experiment_id for e in client.search_experiments()], f"tags.{RUN_NAME} LIKE 'bench-{name}-%'"
    )[0]
    epoch_s = [m.value for m in client.get_metric_history(run.info.run_id, "time/epoch_s")]
    rates = [m.value for m in client.get_metric_history(run.info.run_id, "time/train_images_per_s")]
    return {
        "process_wall_s": wall,
        "fit_s": results["time/fit_s"],
        "first_epoch_s": epoch_s[0],
        "median_epoch_s": statistics.median(epoch_s),
        "median_train_images_per_s": statistics.median(rates),
        "peak_gpu_memory_mb": results.get("system/peak_gpu_memory_mb"),
        "val_macro_f1": results["val/macro_f1"],
        "test_macro_f1": results["test/macro_f1"],
    }
