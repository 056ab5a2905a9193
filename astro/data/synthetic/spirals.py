"""Disk galaxies with arms: barred, tight and loose spirals, seen at a random inclination.

An exponential disk is split into a smooth part and log-spiral arms of a young population; the arms have a
realistic, modest contrast, a flocculent random modulation, unequal strength per arm and a pitch angle that
drifts with radius (real arms are neither perfect nor symmetric). Tight spirals carry big old bulges,
loose ones small bulges and clumpy star-forming knots, barred ones a Ferrers bar (and often an inner ring)
from whose ends the arms start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from astro.data.synthetic.geometry import add_blob, frame, offset, random_field, sersic
from astro.data.synthetic.populations import DISK, OLD, YOUNG, add, mix, tint
from astro.data.synthetic.smooth import lognormal


@dataclass(frozen=True)
class SpiralKind:
    """What sets a spiral class apart: arm pitch (deg), bulge-to-disk brightness, arm contrast, knots."""

    pitch: tuple[float, float]
    bulge: tuple[float, float]
    contrast: tuple[float, float]
    knots: tuple[int, int]
    bar: bool = False


BARRED = SpiralKind(pitch=(12, 28), bulge=(0.8, 3.0), contrast=(0.25, 0.6), knots=(0, 4), bar=True)
TIGHT = SpiralKind(pitch=(6, 14), bulge=(1.0, 4.0), contrast=(0.2, 0.5), knots=(0, 3))
LOOSE = SpiralKind(pitch=(20, 40), bulge=(0.1, 1.0), contrast=(0.35, 0.75), knots=(3, 12))


def spiral(flux: np.ndarray, rng: np.random.Generator, centre: np.ndarray, kind: SpiralKind) -> None:
    q, angle = rng.uniform(0.4, 1.0), rng.uniform(0, np.pi)
    u, v = frame(centre, angle, q)
    r = np.hypot(u, v) + 1e-3
    theta = np.arctan2(v, u)
    h = lognormal(rng, 13.0, 0.35, 6.0, 32.0)
    disk = lognormal(rng, 90.0, 0.45, 20.0, 450.0) * np.exp(-r / h)
    r_in = h * rng.uniform(0.4, 0.9)
    bar_angle = rng.uniform(0, np.pi)
    arms = _arms(rng, r, theta, r_in, kind, bar_angle if kind.bar else None)
    contrast = rng.uniform(*kind.contrast)
    young = tint(mix(DISK, YOUNG, rng.uniform(0.0, 1.0)), rng)
    add(flux, disk * (1.0 - contrast), tint(DISK, rng))
    add(flux, disk * contrast * arms, young)
    i_b = float(disk.max()) * rng.uniform(*kind.bulge)
    add(flux, sersic(u, v, h * rng.uniform(0.12, 0.3), rng.uniform(1.5, 4.0), i_b), tint(OLD, rng))
    if kind.bar:
        _bar(flux, rng, u, v, r_in, bar_angle, float(disk.max()))
    for _ in range(int(rng.integers(kind.knots[0], kind.knots[1] + 1))):
        spot = centre + offset(h * rng.uniform(0.5, 2.5), rng.uniform(0, 2 * np.pi), angle, q)
        add_blob(flux, spot, rng.uniform(0.8, 2.0), rng.uniform(100, 800), tint(YOUNG, rng, 0.12))


def _arms(
    rng: np.random.Generator,
    r: np.ndarray,
    theta: np.ndarray,
    r_in: float,
    kind: SpiralKind,
    bar_angle: float | None,
) -> np.ndarray:
    """Arm pattern with mean about 1 outside r_in (so contrast moves light, it does not add it)."""
    m = 2 if kind.bar else int(rng.choice([2, 2, 2, 3, 4]))
    pitch = math.radians(rng.uniform(*kind.pitch))
    drift = rng.normal(0.0, 0.15)  # the pitch angle changes slowly with radius
    log_r = np.log(r / r_in)
    winding = log_r / math.tan(pitch) * (1.0 + drift * log_r)
    phase = -m * bar_angle if bar_angle is not None else rng.uniform(0, 2 * np.pi)
    wave = 0.5 + 0.5 * np.cos(m * theta - m * winding + phase)
    sharp = rng.uniform(1.0, 2.5)
    pattern = wave**sharp / _mean_power(sharp)
    lopsided = 1.0 + rng.uniform(0.0, 0.5) * np.cos(theta - rng.uniform(0, 2 * np.pi))
    flocculent = random_field(rng, int(rng.integers(12, 28)), rng.uniform(0.2, 0.6))
    return pattern * lopsided * flocculent * (1.0 - np.exp(-((r / r_in) ** 2)))


def _mean_power(p: float) -> float:
    """Mean of ((1 + cos x) / 2)^p over a period: Gamma(p + 1/2) / (sqrt(pi) Gamma(p + 1))."""
    return math.exp(math.lgamma(p + 0.5) - math.lgamma(p + 1.0)) / math.sqrt(math.pi)


def _bar(flux, rng, u: np.ndarray, v: np.ndarray, r_in: float, bar_angle: float, level: float) -> None:
    """A Ferrers bar reaching to where the arms begin, and an inner ring at its end in some galaxies."""
    c, s = math.cos(bar_angle), math.sin(bar_angle)
    length = r_in * rng.uniform(0.9, 1.2)
    along = (u * c + v * s) / length
    across = (-u * s + v * c) / (length * rng.uniform(0.18, 0.32))
    ferrers = np.clip(1.0 - along**2 - across**2, 0.0, None) ** rng.uniform(0.5, 1.5)
    add(flux, level * rng.uniform(0.4, 1.0) * ferrers, tint(mix(OLD, DISK, 0.5), rng))
    if rng.random() < 0.4:
        ring = np.exp(-(((np.hypot(u, v) - length) / (0.15 * length)) ** 2))
        add(flux, level * rng.uniform(0.15, 0.4) * ring, tint(mix(DISK, YOUNG, 0.6), rng))


def barred_spiral(flux, rng, centre) -> None:
    spiral(flux, rng, centre, BARRED)


def tight_spiral(flux, rng, centre) -> None:
    spiral(flux, rng, centre, TIGHT)


def loose_spiral(flux, rng, centre) -> None:
    spiral(flux, rng, centre, LOOSE)
