import h5py
import numpy as np
import pytest

from astro.data.galaxy10 import CLASS_COUNTS, CLASS_NAMES, Galaxy10H5
from astro.data.synthetic import (
    RENDERERS,
    VERSION,
    class_labels,
    galaxy_flux,
    generate_h5,
    render,
    synthetic_galaxy10,
    synthetic_path,
)
from astro.data.synthetic.populations import ACROSS
from astro.data.synthetic.survey import colour_stretch, moffat_otf


def test_file_has_the_galaxy10_schema(data_dir):
    path = synthetic_path(data_dir / "synthetic", 300, seed=0)
    with h5py.File(path) as f:
        assert f["images"].shape == (300, 256, 256, 3) and f["images"].dtype == np.uint8
        assert f["ans"].shape == (300,) and f["ans"].dtype == np.uint8
        for key in ("ra", "dec", "redshift", "pxscale"):
            assert f[key].shape == (300,) and np.issubdtype(f[key].dtype, np.floating)
        assert f.attrs["version"] == VERSION
    source = Galaxy10H5(str(path))
    assert len(source) == 300 and source.class_names == CLASS_NAMES


def test_the_file_name_carries_the_generator_version(tmp_path):
    """A v1 file (galaxy10_synthetic_n{n}_seed{s}.h5) is never picked up as the v2 set."""
    assert synthetic_path(tmp_path, 3000, 0).name == f"galaxy10_synthetic_v{VERSION}_n3000_seed0.h5"
    (tmp_path / "galaxy10_synthetic_n12_seed0.h5").write_bytes(b"old generator")
    source = synthetic_galaxy10(str(tmp_path), num_images=12, workers=1)
    assert len(source) == 12 and synthetic_path(tmp_path, 12, 0).exists()


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


def test_too_few_images_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="num_images=5: need at least one image per class"):
        generate_h5(str(tmp_path / "x.h5"), 5)


def test_sky_matches_decals_cutouts():
    """The sky of DECaLS composites: a pedestal of about 30-37 per channel with noise of about 10 levels
    (measured on real cutouts, docs/realism.md); the centre is much brighter than the sky."""
    rng = np.random.default_rng(0)
    images = np.stack([render(label, rng) for label in range(10) for _ in range(3)]).astype(float)
    corners = images[:, :32, :32].reshape(len(images), -1, 3)
    sky = np.median(corners, axis=1)
    noise = 1.4826 * np.median(np.abs(corners - sky[:, None]), axis=1)
    assert 27 < np.median(sky) < 40
    assert 4 < np.median(noise) < 16
    assert images[:, 120:136, 120:136].mean() > 2.5 * sky.mean()


def test_colour_stretch_keeps_the_colour_of_bright_cores():
    """One factor for all channels: a red core stays red (channel ratios kept) however bright."""
    signal = np.array([[1000.0], [700.0], [450.0]])
    stretched = signal * colour_stretch(signal.mean(axis=0), gain=8.0, soft=4.0)
    assert stretched[1, 0] / stretched[0, 0] == pytest.approx(0.7)
    assert stretched[0, 0] < 0.5 * signal[0, 0]  # compressed


def test_moffat_psf_keeps_flux_and_has_the_requested_width():
    otf = moffat_otf(fwhm=5.0, beta=3.0)
    assert abs(otf[0, 0]) == pytest.approx(1.0)
    kernel = np.fft.fftshift(np.fft.irfft2(otf, s=(256, 256)))[128]
    above = np.flatnonzero(kernel >= kernel.max() / 2)
    assert above[-1] - above[0] + 1 == pytest.approx(5.0, abs=1.0)


def _axis_ratio(flux: np.ndarray) -> float:
    w = flux.sum(0)
    w = w / w.sum()
    y, x = np.mgrid[:256, :256]
    mx, my = (w * x).sum(), (w * y).sum()
    cov = np.cov(np.stack([x.ravel() - mx, y.ravel() - my]), aweights=w.ravel())
    eig = np.linalg.eigvalsh(cov)
    return float(np.sqrt(eig[0] / eig[1]))


def test_classes_differ_in_shape():
    """Round smooth galaxies are round, cigars and edge-on disks elongated: light-weighted second moments
    of the galaxy model itself (before field, PSF and noise)."""

    def median_ratio(label: int) -> float:
        shapes = [
            _axis_ratio(galaxy_flux(label, np.random.default_rng([5, i]), np.zeros(2))) for i in range(8)
        ]
        return float(np.median(shapes))

    round_, in_between, cigar, edge_on = (median_ratio(k) for k in (2, 3, 4, 8))
    assert round_ > 0.8 > in_between > 0.4 > cigar
    assert edge_on < 0.2


def test_every_class_renders_light_in_the_frame():
    for label in range(len(RENDERERS)):
        flux = galaxy_flux(label, np.random.default_rng(label), np.zeros(2))
        assert np.isfinite(flux).all() and flux.sum() > 0 and flux.shape == (3, 256, 256)


def test_galaxy_colours_lie_on_the_colour_locus():
    """Real galaxies' colours follow one line (redder R/G, less B/G); colours drawn per channel would make
    green and magenta galaxies. Each galaxy's light, before the survey, sits close to that line."""
    rng = np.random.default_rng(0)
    for label in range(10):
        for _ in range(3):
            light = galaxy_flux(label, rng, np.zeros(2, np.float32)).sum(axis=(1, 2))
            log_ratio = np.log(light / light[1])  # log(R/G), 0, log(B/G)
            assert abs(float(log_ratio @ ACROSS)) < 0.06, (label, log_ratio)
            assert -0.35 < log_ratio[0] < 0.45
