import subprocess
import sys

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from astro.data.cache import _build_lock, _write, build_cache, cache_key
from astro.data.galaxy10 import Galaxy10H5
from astro.data.synthetic import synthetic_path
from astro.training.samplers import weighted
from tests.conftest import ROOT, compose_train, smoke_overrides


def source(data_dir):
    return Galaxy10H5(str(synthetic_path(data_dir / "synthetic", 300, seed=0)))


def test_cache_is_reused_and_rebuilt_when_a_setting_changes(data_dir, tmp_path):
    src = source(data_dir)
    first = build_cache(src, 32, "bilinear", str(tmp_path))
    stamp = (first.directory / "images.npy").stat().st_mtime_ns
    again = build_cache(src, 32, "bilinear", str(tmp_path))
    assert again.directory == first.directory
    assert (again.directory / "images.npy").stat().st_mtime_ns == stamp
    assert cache_key(src, 48, "bilinear") != cache_key(src, 32, "bilinear")
    assert cache_key(src, 32, "area") != cache_key(src, 32, "bilinear")
    other = build_cache(src, 48, "bilinear", str(tmp_path))
    assert other.images.shape == (300, 3, 48, 48) and other.images.dtype == np.uint8
    assert np.array_equal(other.labels, src.labels())


BUILD = """
import logging, sys
from astro.data.cache import build_cache
from astro.data.galaxy10 import Galaxy10H5
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
build_cache(Galaxy10H5(sys.argv[1]), 32, "bilinear", sys.argv[2])
"""


def test_jobs_that_find_the_cache_missing_together_build_it_once(data_dir, tmp_path):
    """Two sweep jobs start at once and both find the cache missing: the second waits for the first's
    build and reads it, instead of replacing a folder the first may be reading (or failing to rename
    onto it)."""
    src = source(data_dir)
    directory = tmp_path / cache_key(src, 32, "bilinear")
    directory.mkdir()
    (directory / "images.npy").write_bytes(b"a killed build's leftover")
    with _build_lock(directory):  # this process is the first job, building
        job = subprocess.Popen(
            [sys.executable, "-c", BUILD, src.path, str(tmp_path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        with pytest.raises(subprocess.TimeoutExpired):
            job.wait(timeout=8)  # the second job waits on the lock
        _write(src, 32, "bilinear", directory, 256)
        inode = (directory / "images.npy").stat().st_ino
    out, _ = job.communicate(timeout=120)
    assert job.returncode == 0, out[-2000:]
    assert "Waiting for another process" in out and "built meanwhile by another process" in out
    assert (directory / "images.npy").stat().st_ino == inode  # read, not rebuilt
    cached = build_cache(src, 32, "bilinear", str(tmp_path))
    assert cached.images.shape == (300, 3, 32, 32)
    assert [p.name for p in tmp_path.iterdir()] == [directory.name]  # no lock file left behind


def test_datamodule_from_config(data_dir, tmp_path):
    cfg = compose_train(smoke_overrides(data_dir, tmp_path))
    data = instantiate(cfg.data)
    assert data.num_classes == 10 and abs(len(data.labels("train")) - 0.7 * 300) <= 10
    assert sum(row["test"] for row in data.class_table()) == len(data.labels("test"))
    assert all(0 < m < 1 for m in data.mean) and all(0 < s < 1 for s in data.std)
    gen = torch.Generator().manual_seed(0)
    batches = data.train_batches(weighted(data.labels("train"), gen), 32, torch.device("cpu"), None, gen)
    x, y = next(iter(batches))
    assert x.shape == (32, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert abs(float(x.mean())) < 1.0
    evals = list(data.eval_batches("val", 16, torch.device("cpu")))
    assert sum(len(y) for _, y in evals) == len(data.labels("val"))
