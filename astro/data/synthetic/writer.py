"""Writing the synthetic set: labels in Galaxy10's proportions, images rendered in worker processes, one
HDF5 file in the exact Galaxy10_DECals.h5 schema written atomically.

Every image is drawn from its own seed (seed, index), so the file is identical for a given seed whatever
the number of worker processes. The file name carries the generator version, so a cache written by an
older generator is never reused.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from astro.data.galaxy10 import CLASS_COUNTS, CLASS_NAMES, IMAGE_SHAPE, Galaxy10H5
from astro.data.synthetic.render import render

log = logging.getLogger(__name__)
VERSION = 3


def synthetic_path(directory: str | Path, num_images: int, seed: int) -> Path:
    """Where the file of this size and seed lives: the name says the generator version."""
    return Path(directory) / f"galaxy10_synthetic_v{VERSION}_n{num_images}_seed{seed}.h5"


def synthetic_galaxy10(
    directory: str,
    num_images: int = 3000,
    max_images: int | None = None,
    seed: int = 0,
    workers: int | None = None,
) -> Galaxy10H5:
    """The synthetic file of this size and seed in `directory` as a Galaxy10 source, generated on first
    use; with max_images (a smoke run), only that many images are generated."""
    count = min(num_images, max_images) if max_images is not None else num_images
    path = synthetic_path(directory, count, seed)
    if not path.exists():
        generate_h5(str(path), num_images=count, seed=seed, workers=workers)
    return Galaxy10H5(str(path))


def class_labels(num_images: int, seed: int) -> np.ndarray:
    """Labels with Galaxy10's class proportions (largest-remainder rounding), in shuffled order."""
    share = np.asarray(CLASS_COUNTS, float) / sum(CLASS_COUNTS) * num_images
    counts = np.floor(share).astype(int)
    counts[np.argsort(share - counts)[::-1][: num_images - counts.sum()]] += 1
    labels = np.repeat(np.arange(len(CLASS_NAMES)), counts)
    return np.random.default_rng([seed, 10**9]).permutation(labels).astype(np.uint8)


def generate_h5(
    path: str, num_images: int, seed: int = 0, workers: int | None = None, chunk: int = 64
) -> None:
    """Write a Galaxy10-schema file atomically (temp file + rename): a killed run leaves nothing."""
    if num_images < len(CLASS_NAMES):
        raise ValueError(f"num_images={num_images}: need at least one image per class (10)")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    labels = class_labels(num_images, seed)
    workers = workers or min(os.cpu_count() or 1, 8)
    starts = range(0, num_images, chunk)
    jobs = [(seed, s, labels[s : s + chunk]) for s in starts]
    log.info("Generating %d synthetic Galaxy10 images -> %s", num_images, target)
    with h5py.File(tmp, "w") as f:
        images = f.create_dataset("images", (num_images, *IMAGE_SHAPE), np.uint8, chunks=(1, *IMAGE_SHAPE))
        f.create_dataset("ans", data=labels)
        meta = _metadata(num_images, seed)
        for key, values in meta.items():
            f.create_dataset(key, data=values)
        f.attrs["generator"] = "astro.data.synthetic"
        f.attrs["version"] = VERSION
        f.attrs["seed"] = seed
        with (
            ProcessPoolExecutor(workers) if workers > 1 else _Serial() as pool,
            tqdm(total=num_images, desc="synthetic galaxies", unit="img") as bar,
        ):
            for start, block in zip(starts, pool.map(_render_chunk, jobs), strict=True):
                images[start : start + len(block)] = block
                bar.update(len(block))
    os.replace(tmp, target)


class _Serial:
    """In-process stand-in for a pool, for workers=1 (tests, debugging)."""

    def __enter__(self) -> _Serial:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, fn: Callable, items: list) -> map:
        return map(fn, items)


def _render_chunk(job: tuple[int, int, np.ndarray]) -> np.ndarray:
    seed, start, labels = job
    return np.stack(
        [render(int(label), np.random.default_rng([seed, start + i])) for i, label in enumerate(labels)]
    )


def _metadata(num_images: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([seed, 10**9 + 1])
    return {
        "ra": rng.uniform(0.0, 360.0, num_images),
        "dec": np.degrees(np.arcsin(rng.uniform(-0.5, 0.98, num_images))),
        "redshift": np.clip(rng.lognormal(np.log(0.06), 0.5, num_images), 0.005, 0.4),
        "pxscale": np.full(num_images, 0.262),
    }
