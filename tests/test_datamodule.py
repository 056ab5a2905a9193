import numpy as np
import torch
from hydra.utils import instantiate

from astro.data.cache import _write, build_cache, cache_key
from astro.data.galaxy10 import Galaxy10H5
from astro.data.synthetic import synthetic_path
from astro.samplers import weighted
from tests.conftest import compose_train, smoke_overrides


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


def test_a_cache_finished_by_another_job_meanwhile_is_kept_not_replaced(data_dir, tmp_path):
    """Two sweep jobs that both found the cache missing build it at once: the one finishing second must
    not delete the first one's cache, which that job may be reading already."""
    src = source(data_dir)
    first = build_cache(src, 32, "bilinear", str(tmp_path))
    inode = (first.directory / "images.npy").stat().st_ino
    _write(src, 32, "bilinear", first.directory, 256)  # the second job's build, finishing later
    assert (first.directory / "images.npy").stat().st_ino == inode
    assert np.array_equal(np.asarray(first.images[:5]), np.load(first.directory / "images.npy")[:5])
    assert [p.name for p in tmp_path.iterdir()] == [first.directory.name]  # its temporary copy is gone


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
