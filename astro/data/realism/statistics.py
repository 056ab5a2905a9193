"""Per-cutout measurements for the realism report, all on uint8 RGB cutouts (0-255, as the model sees them).

The sky is the outer ring of the frame (r > 96 px) with sources clipped; the galaxy is the sky-subtracted
light within 100 px of the centre. Everything is measured the same way on both domains, so differences
are the generator's, not the method's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter, maximum_filter

from astro.data.realism.cutouts import SIZE, Cutouts

_Y, _X = np.mgrid[0:SIZE, 0:SIZE] - (SIZE - 1) / 2.0
RADIUS = np.hypot(_X, _Y)
SKY = RADIUS > 96
APERTURE = RADIUS < 100
PROFILE_BINS = np.arange(0, 65, 2)


@dataclass
class DomainStats:
    """Each field has one row per cutout (background sources: one row per source)."""

    sky: np.ndarray  # (N, 3) median sky per channel
    noise: np.ndarray  # (N, 3) robust sky noise per channel
    half_light: np.ndarray  # (N,) half-light radius in px
    peak: np.ndarray  # (N,) mean of the central 5x5 px, grey
    core_colour: np.ndarray  # (N, 2) R/G and B/G of the sky-subtracted core (r < 4 px)
    outer_colour: np.ndarray  # (N, 2) R/G and B/G between 1 and 2 half-light radii
    sources: np.ndarray  # (N,) background sources per 100x100 px outside r = 64 px
    source_colour: np.ndarray  # (M, 2) R/G and B/G at each background source's peak
    power: np.ndarray  # (N, K) radially averaged noise power spectrum of sky patches, normalised
    profile: np.ndarray  # (N, len(PROFILE_BINS) - 1) radial profile, normalised to its centre
    sky_pixels: np.ndarray = field(repr=False)  # (3, 256) histogram of sky pixels
    galaxy_pixels: np.ndarray = field(repr=False)  # (3, 256) histogram of galaxy pixels


def measure(cutouts: Cutouts) -> DomainStats:
    rows = [_one(image) for image in cutouts.images]
    stack = {key: np.stack([r[key] for r in rows]) for key in rows[0] if key != "source_colour"}
    colours = [r["source_colour"] for r in rows]
    return DomainStats(
        source_colour=np.concatenate(colours) if colours else np.zeros((0, 2)),
        sky_pixels=stack.pop("sky_hist").sum(0),
        galaxy_pixels=stack.pop("galaxy_hist").sum(0),
        **stack,
    )


def _one(image: np.ndarray) -> dict[str, np.ndarray]:
    rgb = image.astype(np.float32).transpose(2, 0, 1)
    ring = rgb[:, SKY]
    sky = np.median(ring, axis=1)
    noise = 1.4826 * np.median(np.abs(ring - sky[:, None]), axis=1)
    signal = rgb - sky[:, None, None]
    grey = signal.mean(0)
    clean = np.where(APERTURE & (grey > -3 * noise.mean()), grey, 0.0)
    half = _half_light(clean)
    galaxy = (max(2 * half, 6) > RADIUS) & (grey > 3 * noise.mean())
    count, colours = _sources(signal, grey, noise.mean())
    return {
        "sky": sky,
        "noise": noise,
        "half_light": np.float32(half),
        "peak": np.float32(rgb.mean(0)[126:131, 126:131].mean()),
        "core_colour": _ratios(signal[:, RADIUS < 4]),
        "outer_colour": _ratios(signal[:, (half <= RADIUS) & (2 * half > RADIUS)]),
        "sources": np.float32(count),
        "source_colour": colours,
        "power": _noise_power(rgb, sky),
        "profile": _profile(clean),
        "sky_hist": np.stack([np.bincount(image[..., c][SKY], minlength=256) for c in range(3)]),
        "galaxy_hist": np.stack([np.bincount(image[..., c][galaxy], minlength=256) for c in range(3)]),
    }


def _half_light(clean: np.ndarray) -> float:
    order = np.argsort(RADIUS.ravel())
    cumulative = np.cumsum(np.clip(clean.ravel()[order], 0, None))
    if cumulative[-1] <= 0:
        return 0.0
    return float(RADIUS.ravel()[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def _ratios(pixels: np.ndarray) -> np.ndarray:
    """R/G and B/G of summed sky-subtracted light (NaN where there is no light)."""
    total = np.clip(pixels.sum(axis=1), 1e-3, None)
    return np.array([total[0] / total[1], total[2] / total[1]], np.float32)


def _sources(signal: np.ndarray, grey: np.ndarray, noise: float) -> tuple[float, np.ndarray]:
    """Local maxima 8 sigma above the (smoothed) sky, outside the target galaxy's 64 px."""
    smooth = gaussian_filter(grey, 1.0)
    peaks = (smooth == maximum_filter(smooth, size=7)) & (smooth > 8 * noise / 2.5) & (RADIUS > 64)
    rows, cols = np.nonzero(peaks)
    area = (RADIUS > 64).sum() / 100.0**2
    windows = [
        signal[:, r - 1 : r + 2, c - 1 : c + 2].reshape(3, -1) for r, c in zip(rows, cols, strict=True)
    ]
    colours = np.stack([_ratios(w) for w in windows]) if windows else np.zeros((0, 2), np.float32)
    return len(rows) / area, colours


def _noise_power(rgb: np.ndarray, sky: np.ndarray, patch: int = 32) -> np.ndarray:
    """Mean radial power spectrum of the four corner patches (grey, source-clipped), normalised to sum 1:
    its shape says how correlated the noise is (flat = white)."""
    grey = (rgb - sky[:, None, None]).mean(0)
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(patch), np.fft.fftfreq(patch)))
    bins = np.minimum((k * patch).astype(int), patch // 2)
    power = np.zeros(patch // 2 + 1)
    for corner in (
        grey[:patch, :patch],
        grey[:patch, -patch:],
        grey[-patch:, :patch],
        grey[-patch:, -patch:],
    ):
        scale = 1.4826 * np.median(np.abs(corner)) + 1e-3
        clipped = np.clip(corner, -4 * scale, 4 * scale)
        spectrum = np.abs(np.fft.fft2(clipped - clipped.mean())) ** 2
        power += np.bincount(bins.ravel(), spectrum.ravel(), minlength=patch // 2 + 1)
    power = power[1:] / np.bincount(bins.ravel(), minlength=patch // 2 + 1)[1:]
    return (power / power.sum()).astype(np.float32)


def _profile(clean: np.ndarray) -> np.ndarray:
    sums = np.histogram(RADIUS, PROFILE_BINS, weights=clean)[0]
    counts = np.histogram(RADIUS, PROFILE_BINS)[0]
    profile = sums / counts
    return (profile / max(profile[0], 1e-3)).astype(np.float32)
