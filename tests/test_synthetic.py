import h5py
import numpy as np
import pytest

from astro.data.galaxy10 import CLASS_COUNTS, CLASS_NAMES, Galaxy10H5
from astro.data.synthetic import RENDERERS, class_labels, generate_h5, render


def test_file_has_the_galaxy10_schema(data_dir):
    path = data_dir / "synthetic" / "galaxy10_synthetic_n300_seed0.h5"
    with h5py.File(path) as f:
        assert f["images"].shape == (300, 256, 256, 3) and f["images"].dtype == np.uint8
        assert f["ans"].shape == (300,) and f["ans"].dtype == np.uint8
        for key in ("ra", "dec", "redshift", "pxscale"):
            assert f[key].shape == (300,) and np.issubdtype(f[key].dtype, np.floating)
    source = Galaxy10H5(str(path))
    assert len(source) == 300 and source.class_names == CLASS_NAMES


def test_class_balance_follows_galaxy10():
    counts = np.bincount(class_labels(17_736, seed=0), minlength=10)
    assert counts.tolist() == list(CLASS_COUNTS)
    small = np.bincount(class_labels(1000, seed=3), minlength=10)
    assert small.sum() == 1000
    assert np.abs(small - np.asarray(CLASS_COUNTS) / sum(CLASS_COUNTS) * 1000).max() < 1
    assert small.max() / small.min() == pytest.approx(7.9, abs=0.4)


def test_generation_is_deterministic_for_a_seed_whatever_the_worker_count(tmp_path):
    generate_h5(str(tmp_path / "a.h5"), 24, seed=7, workers=1, chunk=5)
    generate_h5(str(tmp_path / "b.h5"), 24, seed=7, workers=2, chunk=8)
    generate_h5(str(tmp_path / "c.h5"), 24, seed=8, workers=1)
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        assert np.array_equal(a["images"][:], b["images"][:])
        assert np.array_equal(a["ans"][:], b["ans"][:])
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "c.h5") as c:
        assert not np.array_equal(a["images"][:], c["images"][:])
    assert not list(tmp_path.glob("*.tmp*"))


def test_images_look_like_survey_cutouts():
    """Dark sky pedestal, a bright centred galaxy, colour: the gross statistics of DECaLS cutouts."""
    rng = np.random.default_rng(0)
    images = np.stack([render(label, rng) for label in range(10) for _ in range(3)]).astype(float)
    corners = np.concatenate([images[:, :24, :24], images[:, -24:, -24:]], axis=1)
    centres = images[:, 112:144, 112:144]
    assert 15 < np.median(corners) < 45
    assert centres.mean() > 2 * corners.mean()
    assert (images.max(axis=(1, 2, 3)) > 150).all()


def test_classes_differ_in_shape():
    """Round smooth galaxies are round, cigars and edge-on disks elongated: light-weighted second moments
    of the galaxy model itself (before stars and noise)."""

    def axis_ratio(label: int, seed: int) -> float:
        rng = np.random.default_rng([5, seed])
        flux = np.zeros((3, 256, 256), np.float32)
        RENDERERS[label](flux, rng, np.zeros(2, np.float32), 1.2)
        w = flux.sum(0)
        w = w / w.sum()
        y, x = np.mgrid[:256, :256]
        mx, my = (w * x).sum(), (w * y).sum()
        cov = np.cov(np.stack([x.ravel() - mx, y.ravel() - my]), aweights=w.ravel())
        eig = np.linalg.eigvalsh(cov)
        return float(np.sqrt(eig[0] / eig[1]))

    def median_ratio(label: int) -> float:
        return float(np.median([axis_ratio(label, i) for i in range(8)]))

    round_, in_between, cigar, edge_on = (median_ratio(k) for k in (2, 3, 4, 8))
    assert round_ > 0.8 > in_between > 0.45 > cigar
    assert edge_on < 0.25
