"""The survey's side of a cutout: field stars and background galaxies, the PSF, sky noise with its
texture, the asinh colour stretch and JPEG compression, as in DECaLS g/r/z composites.

Flux is in units of the per-pixel sky noise. DECaLS images have 0.262"/px and seeing of about 1.0-1.8"
FWHM (4-7 px), a Moffat-like PSF with extended wings, noise slightly correlated between neighbouring
pixels by resampling, a small sky pedestal after the stretch (about 30-37 of 255 in each channel), and
many small coloured sources around the target.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import fft
from scipy.ndimage import gaussian_filter

from astro.data.synthetic.geometry import SIZE, add_blob, add_point, random_field
from astro.data.synthetic.populations import ACROSS, LOCUS, background_colour, star_colour

PIXEL_SCALE = 0.262  # arcsec per pixel
_K = (np.fft.fftfreq(SIZE) * SIZE).astype(np.float32)
_R2 = _K[:, None] ** 2 + _K[None, :] ** 2  # squared pixel distance from pixel (0, 0): the FFT kernel's origin


@dataclass(frozen=True)
class Observation:
    """One cutout's observing conditions, drawn per image."""

    fwhm_px: float
    beta: float
    noise_gain: np.ndarray  # per-channel noise multiplier
    correlation: float  # Gaussian sigma (px) of the noise correlation
    structure: float  # amplitude (noise sigmas) of large-scale sky structure: faint sources, residuals
    sky: np.ndarray  # per-channel pedestal after the stretch, 0-255
    gain: float  # uint8 levels per noise sigma in the linear (faint) part of the stretch
    soft: float  # asinh softening, in noise sigmas
    white: np.ndarray  # per-channel colour balance: mostly along the colour locus (calibration, extinction)
    quality: int  # JPEG quality

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Observation:
        return cls(
            fwhm_px=rng.uniform(0.9, 1.6) / PIXEL_SCALE,
            beta=rng.uniform(2.5, 4.5),
            noise_gain=np.exp(rng.normal(0.0, 0.12, 3)).astype(np.float32),
            correlation=rng.uniform(0.4, 0.9),
            structure=rng.uniform(0.05, 0.3),
            sky=(rng.uniform(27.0, 40.0) + rng.normal(0.0, 1.5, 3)).astype(np.float32),
            gain=rng.uniform(7.0, 15.0),
            soft=rng.uniform(2.0, 8.0),
            white=np.exp(rng.normal(0.0, 0.05) * LOCUS + rng.normal(0.0, 0.015) * ACROSS).astype(np.float32),
            quality=int(rng.integers(75, 96)),
        )


def add_field(flux: np.ndarray, rng: np.random.Generator, centre: np.ndarray) -> None:
    """Field stars (point sources) and small background galaxies at DECaLS-like densities; a few fall
    near the target, as they do in real cutouts."""
    for _ in range(rng.poisson(rng.uniform(2.0, 12.0))):
        spot = rng.uniform(-SIZE / 2, SIZE / 2, 2).astype(np.float32)
        add_point(flux, spot, math.exp(rng.uniform(math.log(40), math.log(20000))), star_colour(rng))
    for _ in range(rng.poisson(rng.uniform(5.0, 20.0))):
        spot = rng.uniform(-SIZE / 2, SIZE / 2, 2).astype(np.float32)
        total = math.exp(rng.uniform(math.log(20), math.log(1000)))
        add_blob(flux, spot, rng.uniform(0.3, 1.5), total, background_colour(rng))
    for _ in range(rng.poisson(1.2)):
        _neighbour(flux, rng, centre + rng.normal(0, 30, 2).astype(np.float32))


def _neighbour(flux: np.ndarray, rng: np.random.Generator, spot: np.ndarray) -> None:
    """A star or small galaxy projected close to the target, in every class: real cutouts have them
    often, so a blob beside a galaxy must not by itself mean 'merging' or 'disturbed'."""
    total = math.exp(rng.uniform(math.log(50), math.log(5000)))
    if rng.random() < 0.5:
        add_point(flux, spot, total, star_colour(rng))
    else:
        add_blob(flux, spot, rng.uniform(0.8, 3.0), total, background_colour(rng))


def moffat_otf(fwhm: float, beta: float) -> np.ndarray:
    """The Fourier transform of a unit-flux Moffat PSF on the frame (for rfft2 convolution)."""
    alpha = fwhm / (2.0 * math.sqrt(2.0 ** (1.0 / beta) - 1.0))
    kernel = (1.0 + _R2 / alpha**2) ** -beta
    return fft.rfft2(kernel / kernel.sum())


def observe(flux: np.ndarray, rng: np.random.Generator, obs: Observation) -> np.ndarray:
    """Blur with the PSF, add correlated sky noise, stretch, compress: (3, S, S) flux -> (S, S, 3) uint8."""
    blurred = fft.irfft2(fft.rfft2(flux) * moffat_otf(obs.fwhm_px, obs.beta), s=(SIZE, SIZE))
    noise = gaussian_filter(
        rng.standard_normal(flux.shape, dtype=np.float32), (0, obs.correlation, obs.correlation)
    )
    noise *= (obs.noise_gain / noise.std(axis=(1, 2)))[:, None, None]
    noise += obs.structure * (random_field(rng, 16, 1.0)[None] - 1.0)
    signal = blurred.astype(np.float32) * obs.white[:, None, None] + noise
    image = obs.sky[:, None, None] + signal * colour_stretch(signal.mean(axis=0), obs.gain, obs.soft)
    pixels = np.clip(image, 0, 255).round().astype(np.uint8).transpose(1, 2, 0)
    return jpeg(pixels, obs.quality)


def colour_stretch(intensity: np.ndarray, gain: float, soft: float) -> np.ndarray:
    """Lupton-style asinh factor applied to all channels alike (as the Legacy Surveys' composites do): it
    keeps the colour of bright cores and stars instead of bleaching them white. Linear for faint pixels."""
    x = np.maximum(np.abs(intensity), 1e-3) / soft
    return gain * np.arcsinh(x) / x


def jpeg(pixels: np.ndarray, quality: int) -> np.ndarray:
    """A JPEG round trip (4:2:0 chroma): real cutouts are JPEGs, whose blocky, blotchy colour noise a
    model would otherwise learn to tell apart."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as image:
        return np.asarray(image.convert("RGB"))
