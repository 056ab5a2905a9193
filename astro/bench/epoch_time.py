"""Epoch wall time and peak RSS of `train.py` on a Galaxy10-sized synthetic file (cache cold, then warm)."""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from astro.bench.machine import machine
from astro.paths import PROJECT_ROOT


def bench_epoch(images: int, image_size: int, batch_size: int) -> dict:
    """Two `train.py` runs of one epoch on a Galaxy10-sized file: the first builds the cache, the second
    reuses it. Wall time and peak RSS per process."""
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = PROJECT_ROOT / "data"
        for name in ("first_run_builds_cache", "second_run_reuses_cache"):
            args = [
                sys.executable,
                str(PROJECT_ROOT / "train.py"),
                "epochs=1",
                f"image_size={image_size}",
                f"batch_size={batch_size}",
                f"data.source.num_images={images}",
                "progress=false",
                f"paths.data_dir={data_dir}",
                f"paths.cache_dir={tmp}/cache",
                f"hydra.run.dir={tmp}/{name}",
                f"tracking.uri=sqlite:///{tmp}/mlflow.db",
                f"tracking.artifact_root={tmp}/art",
            ]
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            start = time.perf_counter()
            subprocess.run(args, check=True, capture_output=True, text=True)
            wall = time.perf_counter() - start
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            log = (Path(tmp) / name / "train.log").read_text()
            runs[name] = {
                "wall_s": wall,
                "peak_rss_mb": max(peak, before) / 1024,
                "epoch_s": _epoch_seconds(log),
            }
    return {
        "benchmark": "epoch_galaxy10_size",
        "machine": machine(),
        "settings": {
            "images": images,
            "image_size": image_size,
            "batch_size": batch_size,
            "note": "synthetic file generated under data/ on first use (not timed here if present)",
        },
        "runs": runs,
    }


def _epoch_seconds(log: str) -> float | None:
    """Seconds between the model line and the end of epoch 1 in train.log (training + validation)."""
    stamps = {}
    for line in log.splitlines():
        for key, marker in (("start", "parameters"), ("end", "epoch 1/1")):
            if marker in line and key not in stamps:
                stamps[key] = (
                    time.mktime(time.strptime(line[1:20], "%Y-%m-%d %H:%M:%S")) + int(line[21:24]) / 1000
                )
    return stamps["end"] - stamps["start"] if len(stamps) == 2 else None
