"""Test-time adaptation (adapt=bn, AdaBN): BatchNorm statistics re-estimated on the target images, the
weights untouched, the same statistics for the same seed, and the adaptation part of an output's identity."""

from __future__ import annotations

import copy

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from torch import nn

from astro.adaptation.batchnorm import adapt_batchnorm, batchnorm_layers, sampled_batches
from astro.data.synthetic import synthetic_path
from astro.data.unlabeled import sample_rows
from astro.errors import ConfigError, DataError
from astro.models.astro_cnn import AstroCNN
from astro.prediction.table import Identity
from evaluate import evaluate
from tests.conftest import compose_train
from tests.test_predict import probabilities, run_predict


def shifted_images(n: int = 64) -> torch.Tensor:
    """A brighter, noisier 'survey' than anything the untrained model's statistics describe."""
    generator = torch.Generator().manual_seed(0)
    return torch.randint(80, 255, (n, 3, 32, 32), dtype=torch.uint8, generator=generator)


def to_input(x: torch.Tensor) -> torch.Tensor:
    return x.float() / 255.0 * 4.0 - 1.0


def test_statistics_become_the_target_s_and_the_weights_stay():
    torch.manual_seed(0)
    model = AstroCNN(num_classes=10).eval()
    before = copy.deepcopy(model.state_dict())
    images = shifted_images()
    seen = adapt_batchnorm(model, sampled_batches(images, np.arange(64), 16, to_input, torch.device("cpu")))
    assert seen == 64 and not model.training
    first = batchnorm_layers(model)[0]
    with torch.no_grad():  # the first BN layer's input is the first convolution's output
        features = model.features[0][0](to_input(images))
    torch.testing.assert_close(first.running_mean, features.mean(dim=(0, 2, 3)), rtol=1e-4, atol=1e-5)
    assert not torch.allclose(first.running_mean, before["features.0.1.running_mean"])
    for name, value in model.state_dict().items():
        if not name.endswith(("running_mean", "running_var", "num_batches_tracked")):
            assert torch.equal(value, before[name]), name
    assert first.momentum == 0.1  # PyTorch's default, restored for any later training


def test_the_same_seed_gives_the_same_statistics():
    torch.manual_seed(0)
    model = AstroCNN(num_classes=10)
    twins = [copy.deepcopy(model), copy.deepcopy(model)]
    images = shifted_images(200)
    for twin in twins:
        rows = sample_rows(len(images), 50, seed=7)
        adapt_batchnorm(twin, sampled_batches(images, rows, 16, to_input, torch.device("cpu")))
    for (name, a), b in zip(twins[0].state_dict().items(), twins[1].state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_the_sample_is_bounded_seeded_and_in_file_order():
    rows = sample_rows(10_000, 100, seed=1)
    assert len(rows) == 100 and len(set(rows)) == 100 and (np.diff(rows) > 0).all()
    assert (rows == sample_rows(10_000, 100, seed=1)).all()
    assert not (rows == sample_rows(10_000, 100, seed=2)).all()
    assert (sample_rows(30, 100, seed=1) == np.arange(30)).all()


def test_a_model_without_batchnorm_is_one_line():
    plain = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten())
    with pytest.raises(ConfigError, match="adapt=bn: model Sequential has no BatchNorm layers"):
        adapt_batchnorm(plain, [])


@pytest.fixture(scope="module")
def h5_file(data_dir):
    return synthetic_path(data_dir / "synthetic", 300, seed=0)


@pytest.mark.slow
def test_predict_adapts_alike_records_it_and_refuses_a_mixed_resume(smoke_model, h5_file, tmp_path):
    checkpoint = smoke_model["checkpoint"]
    adapted = [
        pq.read_table(
            run_predict(checkpoint, h5_file, tmp_path / f"{k}.parquet", "adapt=bn", "adapt_samples=64")
        )
        for k in ("a", "b")
    ]
    plain = pq.read_table(run_predict(checkpoint, h5_file, tmp_path / "plain.parquet"))
    names = list(Identity.of(plain.schema).class_names)
    np.testing.assert_array_equal(probabilities(adapted[0], names), probabilities(adapted[1], names))
    assert not np.allclose(probabilities(adapted[0], names), probabilities(plain, names))
    identity = Identity.of(adapted[0].schema)
    assert identity.adapt == "bn" and "64 of 300" in identity.adapt_fingerprint
    assert Identity.of(plain.schema).adapt == "none"
    with pytest.raises(DataError, match="adapt: bn vs none"):
        run_predict(checkpoint, h5_file, tmp_path / "a.parquet")
    with pytest.raises(DataError, match="adapt_fingerprint"):
        run_predict(checkpoint, h5_file, tmp_path / "a.parquet", "adapt=bn", "adapt_samples=32")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images in this folder"):
        run_predict(checkpoint, h5_file, tmp_path / "c.parquet", "adapt=bn", f"adapt_on={tmp_path / 'empty'}")


@pytest.mark.slow
def test_evaluate_adapts_on_the_split_or_another_set_and_says_so(smoke_model, h5_file, tmp_path):
    base = [f"checkpoint={smoke_model['checkpoint']}", f"tracking.uri={smoke_model['uri']}", "split=val"]
    for name, extra in (("split", []), ("other", [f"adapt_on={h5_file}", "adapt_samples=100"])):
        out = tmp_path / name
        scores = evaluate(compose_train([*base, f"output_dir={out}", "adapt=bn", *extra], name="evaluate"))
        assert 0 <= scores["eval/val/macro_f1"] <= 1
        report = (out / "report.md").read_text()
        assert "BatchNorm statistics re-estimated on" in report
    assert "h5" in (tmp_path / "other" / "report.md").read_text()
