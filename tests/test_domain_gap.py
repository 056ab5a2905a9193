"""python -m astro domain-gap: a domain classifier on a model's features tells two surveys apart when
they differ, and cannot when both are drawn from one survey."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from astro.adaptation.domain_gap import main
from astro.data.synthetic import generate_h5, synthetic_path

pytestmark = pytest.mark.slow


def gap(checkpoint, source, target, out, *extra: str) -> dict:
    main([str(checkpoint), "--source", str(source), "--target", str(target), "--out", str(out), *extra])
    return json.loads(out.read_text())


def test_the_gap_is_large_for_another_survey_and_chance_within_one(smoke_model, data_dir, tmp_path):
    source = synthetic_path(data_dir / "synthetic", 300, seed=0)
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    y, x = np.mgrid[:64, :64] - 31.5
    for i in range(40):  # smooth grey blobs on a flat sky: nothing like the synthetic cutouts
        light = 40 + 180 * np.exp(-np.hypot(x, y * (1 + i / 40)) / 6)
        Image.fromarray(np.repeat(light[..., None], 3, axis=2).astype(np.uint8)).save(blobs / f"b{i}.png")
    apart = gap(smoke_model["checkpoint"], source, blobs, tmp_path / "apart.json")
    assert apart["feature_domain_auc"] > 0.95 and apart["target"]["images"] == 40
    assert apart["feature_mmd"] > 0.1
    more = synthetic_path(tmp_path, 150, seed=1)  # other galaxies from the same generator
    generate_h5(str(more), 150, seed=1)
    alike = gap(smoke_model["checkpoint"], source, more, tmp_path / "alike.json", "--samples", "150")
    assert alike["feature_domain_auc"] == pytest.approx(0.5, abs=0.15) and alike["adapted_to"] is None
    assert alike["feature_mmd"] < 0.1 * apart["feature_mmd"]
