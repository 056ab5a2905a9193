"""Real-data checks on the images beside the project (../shared/data): loading, label mapping, a short
training run on Galaxy Zoo 1 SDSS. Skipped where that folder is absent (a fresh clone has none)."""

import csv
from collections import Counter

import numpy as np
import pytest
from hydra.utils import instantiate
from mlflow.tracking import MlflowClient

from astro.data.galaxy10 import CLASS_NAMES
from tests.conftest import SHARED, compose_train, store_overrides
from train import train

pytestmark = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"real images not found at {SHARED} (the shared data folder beside the repo)"
)
GZ1_CLASSES = ("elliptical", "spiral", "edge_on", "merger")


def test_gz1_sdss_merges_the_spiral_chiralities_and_drops_dont_know():
    source = instantiate(compose_train(["data=gz1_sdss", "image_size=32"]).data.source)
    with open(SHARED / "gz1_sdss" / "labels.csv", newline="") as fh:
        counts = Counter(row["class_name"] for row in csv.DictReader(fh))
    assert source.class_names == GZ1_CLASSES
    expected = [
        counts["elliptical"],
        counts["spiral_clockwise"] + counts["spiral_anticlockwise"],
        counts["edge_on"],
        counts["merger"],
    ]
    assert np.bincount(source.labels()).tolist() == expected
    assert len(source) == sum(counts.values()) - counts["dont_know"]


def test_galaxy10_samples_keep_galaxy10_class_indices(tmp_path):
    cfg = compose_train(["data=galaxy10_samples", "image_size=32", f"paths.cache_dir={tmp_path}"])
    data = instantiate(cfg.data)
    assert data.class_names == CLASS_NAMES
    assert data.cache.images.shape == (60, 3, 32, 32)
    assert np.bincount(data.labels("all")).tolist() == [6] * 10
    assert data.cache.images.std() > 10  # real, non-blank pixels


@pytest.mark.slow
def test_trains_briefly_on_gz1_sdss_and_logs_per_class_metrics(tmp_path, store):
    cfg = compose_train(
        [
            "data=gz1_sdss",
            "max_images=2000",
            "image_size=32",
            "epochs=2",
            "batch_size=64",
            "top_k=1",
            "progress=false",
            f"paths.cache_dir={tmp_path / 'cache'}",
            f"paths.output_dir={tmp_path / 'out'}",
            *store_overrides(store),
        ]
    )
    train(cfg)
    client = MlflowClient(store["uri"])
    (run,) = client.search_runs([client.get_experiment_by_name(cfg.tracking.experiment).experiment_id])
    metrics = run.data.metrics
    for name in GZ1_CLASSES:
        for kind in ("precision", "recall", "f1"):
            assert 0.0 <= metrics[f"test/{kind}/{name}"] <= 1.0
    assert metrics["test/macro_auc"] > 0.6  # it learned something real in 2 short epochs (chance: 0.5)
    assert run.data.tags["astro.data"] == "gz1_sdss"
