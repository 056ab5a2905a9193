"""The model learns: AstroCNN on the synthetic default (generator v3, augment=transfer) reaches val macro
F1 >= 0.35, far above chance (0.10). Generator v1's clean galaxies allowed 0.8; the survey-realistic
cutouts since v2 are harder (make train with v3: val 0.44, test 0.43 at 64 px), see docs/realism.md.
Measured with v3: val 0.44, test 0.42 with this test's budget.

Budget (about 70 s on 2 CPU cores): 3,000 synthetic images at 32 px, 30 epochs. At 32 px an epoch
takes about 2 s here; the same recipe at the default 64 px needs ~4x the time for a similar score.
The hardest pairs are physical look-alikes (round vs in-between smooth, barred vs unbarred spirals).
"""

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import compose_train, store_overrides
from train import train

pytestmark = pytest.mark.slow


def test_astro_cnn_learns_the_synthetic_data(tmp_path, store):
    cfg = compose_train(
        [
            "image_size=32",
            "epochs=30",
            "batch_size=32",
            "progress=false",
            f"paths.data_dir={tmp_path / 'data'}",
            f"paths.output_dir={tmp_path / 'out'}",
            *store_overrides(store),
        ]
    )
    best_val_f1 = train(cfg)
    client = MlflowClient(store["uri"])
    (run,) = client.search_runs([client.get_experiment_by_name("astro").experiment_id])
    test_f1 = run.data.metrics["test/macro_f1"]
    print(f"best val macro F1 {best_val_f1:.4f}, test macro F1 {test_f1:.4f}")
    assert best_val_f1 >= 0.35
    assert test_f1 >= 0.3
