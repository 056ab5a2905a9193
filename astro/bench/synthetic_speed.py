"""Generation time of the synthetic set (generator v3) at the default size: the budget is 3,000 images in
60 s on two cores, measured here rather than in a timed test (a loaded CI machine would make one flaky)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from astro.bench.machine import machine
from astro.data.synthetic import VERSION, generate_h5


def bench_synthetic(images: int, workers: int | None) -> dict:
    """Wall time of one `generate_h5` into a temporary folder, and the image rate it implies."""
    workers = workers or min(os.cpu_count() or 1, 8)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        generate_h5(str(Path(tmp) / "bench.h5"), images, seed=0, workers=workers)
        wall = time.perf_counter() - start
    return {
        "benchmark": "synthetic_generation",
        "machine": machine(),
        "settings": {"images": images, "workers": workers, "generator_version": VERSION},
        "wall_s": wall,
        "images_per_s": images / wall,
        "within_60_s_for_3000": wall * 3000 / images <= 60.0,
    }
