"""`python -m astro.data.prepare`: the cache training reuses, the class table and the EDA report."""

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
from hydra.utils import instantiate
from PIL import Image

from astro.data.prepare import prepare
from astro.errors import DataError
from tests.conftest import ROOT, compose_train, smoke_overrides, zero_image_chunks


def overrides(data_dir, tmp_path):
    return [
        *smoke_overrides(data_dir, tmp_path),
        f"paths.output_dir={tmp_path / 'report'}",
    ]


def test_prepare_writes_the_cache_training_reuses_and_the_report(data_dir, tmp_path):
    report = prepare(compose_train(overrides(data_dir, tmp_path), name="prepare"))
    text = report.read_text()
    assert "| round_smooth |" in text and "| total | " in text and "![samples](samples.png)" in text
    for name in ("class_counts.png", "samples.png", "pixel_histograms.png"):
        with Image.open(report.parent / name) as image:
            assert image.width > 200 and image.height > 100
    table = json.loads((report.parent / "class_table.json").read_text())
    assert sum(row["train"] + row["val"] + row["test"] for row in table) == 300

    data = instantiate(compose_train(overrides(data_dir, tmp_path)).data)
    (cache_dir,) = (tmp_path / "cache").iterdir()
    stamp = (cache_dir / "images.npy").stat().st_mtime_ns
    assert data.cache.directory == cache_dir and (cache_dir / "images.npy").stat().st_mtime_ns == stamp
    stats = json.loads((report.parent / "pixel_stats.json").read_text())
    means = np.asarray(data.cache.images, dtype=np.float64).mean(axis=(0, 2, 3))
    assert np.allclose([row["mean"] for row in stats["channels"]], means)


def partial_h5(path):
    """A Galaxy10-schema file whose metadata is intact but whose last image chunks are zeroed."""
    with h5py.File(path, "w") as f:
        f.create_dataset("images", (40, 32, 32, 3), np.uint8, chunks=(1, 32, 32, 3), compression="gzip")
        f["images"][:] = np.random.default_rng(0).integers(0, 255, (40, 32, 32, 3), dtype=np.uint8)
        f.create_dataset("ans", data=np.arange(40, dtype=np.uint8) % 10)
    zero_image_chunks(path, range(30, 40))
    return path


def test_prepare_of_a_corrupt_file_raises_one_sentence_and_leaves_no_cache(tmp_path):
    path = partial_h5(tmp_path / "partial.h5")
    cfg = compose_train(
        [
            "image_size=32",
            "data=galaxy10",
            f"data.source.path={path}",
            f"paths.cache_dir={tmp_path / 'cache'}",
            f"paths.output_dir={tmp_path / 'report'}",
        ],
        name="prepare",
    )
    with pytest.raises(DataError, match=r"partial\.h5: cannot read image 30 of 40"):
        prepare(cfg)
    assert list((tmp_path / "cache").iterdir()) == []


@pytest.mark.slow
def test_prepare_cli_prints_one_error_line(tmp_path):
    path = partial_h5(tmp_path / "partial.h5")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "astro.data.prepare",
            "data=galaxy10",
            f"data.source.path={path}",
            f"paths.cache_dir={tmp_path / 'cache'}",
            f"hydra.run.dir={tmp_path / 'run'}",
            "progress=false",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "partial.h5: cannot read image 30 of 40" in errors[0]
    assert "Traceback" not in result.stderr
