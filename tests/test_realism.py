"""The realism report on tiny files: every statistic, figure and the domain AUC, plus the real cutouts
beside the project where they exist."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from astro.data.realism.cutouts import read_real
from astro.data.realism.domain import domain_auc
from astro.data.realism.report import main
from astro.data.realism.statistics import measure
from astro.data.synthetic import generate_h5, render
from tests.conftest import SHARED

FIGURES = ("pixel_histograms", "distributions", "colours", "noise_power", "profiles", "examples")


@pytest.fixture(scope="module")
def synthetic_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("synthetic") / "tiny.h5"
    generate_h5(str(path), 30, seed=1, workers=1)
    return path


def fake_real_folder(root, per_class=2):
    """JPEG cutouts with a labels.csv, as in ../shared/data/galaxy10_decals_samples."""
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for label in range(10):
        for i in range(per_class):
            name = f"class_{label}_{i}.jpg"
            Image.fromarray(render(label, np.random.default_rng([label, i, 99]))).save(root / name)
            rows.append((name, label))
    with open(root / "labels.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([("filename", "label"), *rows])
    return root


def test_report_writes_every_statistic_figure_and_the_auc(tmp_path, synthetic_file, capsys):
    real = fake_real_folder(tmp_path / "real")
    out = tmp_path / "report"
    main(["--synthetic", str(synthetic_file), "--real", str(real), "--count", "30", "--out", str(out)])
    result = json.loads((out / "realism.json").read_text())
    assert 0.0 <= result["domain_auc"] <= 1.0 and result["real_images"] == 20
    rows = result["statistics"]
    assert len(rows) == 2 and all(len(r) == 14 for r in rows.values())
    for name in FIGURES:
        assert (out / f"{name}.png").stat().st_size > 1000
    markdown = (out / "realism_report.md").read_text()
    assert "domain classifier ROC-AUC" in markdown and all(f"({n}.png)" in markdown for n in FIGURES)
    assert "domain classifier ROC-AUC" in capsys.readouterr().out


def test_include_selects_a_half_of_the_real_folder(tmp_path):
    real = read_real(fake_real_folder(tmp_path / "real"), include=r"class_\d_0\.jpg")
    assert len(real.images) == 10 and sorted(real.labels.tolist()) == list(range(10))


def test_statistics_see_the_sky_and_the_galaxy():
    images = np.stack([render(label, np.random.default_rng(label)) for label in range(10)])
    stats = measure(read_real_like(images))
    # a big elliptical's halo can reach the sky ring (r > 96 px) and lift that cutout's sky a little
    assert abs(np.median(stats.sky) - 34) < 5 and (np.abs(stats.sky - 34) < 12).all()
    assert (stats.noise > 2).all()
    assert (stats.peak > stats.sky.mean(1) + 20).all()
    assert stats.profile.shape == (10, 32) and np.allclose(stats.profile[:, 0], 1.0)


def read_real_like(images):
    from astro.data.realism.cutouts import Cutouts

    return Cutouts("test", images, np.arange(len(images)))


def test_domain_auc_separates_different_domains_and_not_identical_ones():
    rng = np.random.default_rng(0)
    bright = rng.integers(100, 200, (40, 64, 64, 3), dtype=np.uint8)
    dark = rng.integers(0, 100, (40, 64, 64, 3), dtype=np.uint8)
    same = rng.integers(0, 200, (40, 64, 64, 3), dtype=np.uint8)
    assert domain_auc(bright, dark) > 0.95
    assert domain_auc(same[:20], same[20:]) < 0.8


def test_bad_paths_are_one_line_errors(tmp_path, synthetic_file, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--synthetic", str(synthetic_file), "--real", str(tmp_path / "nowhere")])
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nowhere'}: real image folder not found"
    with pytest.raises(SystemExit):
        main(
            ["--synthetic", str(tmp_path / "missing.h5"), "--real", str(fake_real_folder(tmp_path / "r", 1))]
        )
    assert "missing.h5: synthetic file not found" in capsys.readouterr().err


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"real images not found at {SHARED} (the shared data folder)")
def test_real_decals_cutouts_have_the_sky_the_generator_is_calibrated_to():
    """The numbers the generator is calibrated to, measured on the dev half of the real samples."""
    real = read_real(SHARED / "galaxy10_decals_samples", include=r"class_\d_[012]\.jpg")
    stats = measure(real)
    assert len(real.images) == 30 and set(real.labels.tolist()) == set(range(10))
    assert 28 < np.median(stats.sky) < 38 and 6 < np.median(stats.noise) < 15
    synthetic = np.stack(
        [render(label, np.random.default_rng([label, 7])) for label in range(10) for _ in (0,)]
    )
    synthetic_stats = measure(read_real_like(synthetic))
    assert abs(np.median(synthetic_stats.sky) - np.median(stats.sky)) < 5
