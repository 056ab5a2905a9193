"""Smooth galaxies (round, in-between, cigar-shaped) and edge-on disks: classes told apart by shape.

Sizes and axis ratios follow what Galaxy10 DECaLS cutouts show at 0.262"/px: smooth galaxies are small
(half-light radii of a few to ~20 px in the 256 px frame), cigars have q of about 0.2-0.45, edge-on disks
are long (scale lengths ~8-25 px) and thin (scale heights 5-15% of that), with a bulge and a dust lane in
the bulged class. Each range is drawn wide rather than set to one value (domain randomisation).
"""

from __future__ import annotations

import numpy as np
from scipy.special import k1

from astro.data.synthetic.geometry import frame, sech2, sersic
from astro.data.synthetic.populations import DISK, OLD, YOUNG, add, mix, tint


def lognormal(rng: np.random.Generator, median: float, sigma: float, low: float, high: float) -> float:
    """A positive size or brightness: log-normal around the median, clipped to a plausible range."""
    return float(np.clip(median * np.exp(rng.normal(0.0, sigma)), low, high))


def smooth_body(
    flux: np.ndarray, rng: np.random.Generator, centre: np.ndarray, q: float, n: float, r_e: float
) -> None:
    """Elliptical/lenticular light: a Sersic profile of a mostly old population (from orange to the
    white-blue some real smooth galaxies show, so colour alone never gives the class away), with a faint
    outer envelope in a quarter of them (DECaLS' depth shows the halos of some early types)."""
    angle = rng.uniform(0, np.pi)
    u, v = frame(centre, angle, q)
    i_e = lognormal(rng, 120.0, 0.5, 25.0, 600.0)
    colour = tint(mix(OLD, DISK, rng.uniform(0.0, 0.4)), rng)
    add(flux, sersic(u, v, r_e, n, i_e), colour)
    if rng.random() < 0.25:
        u, v = frame(centre, angle + rng.normal(0, 0.1), min(1.0, q * rng.uniform(1.0, 1.2)))
        add(flux, sersic(u, v, r_e * rng.uniform(2.5, 4.0), 1.0, i_e * rng.uniform(0.05, 0.15)), colour)


def round_smooth(flux, rng, centre) -> None:
    r_e = lognormal(rng, 11.0, 0.45, 4.0, 36.0)
    smooth_body(flux, rng, centre, rng.uniform(0.8, 1.0), rng.uniform(2.0, 4.5), r_e)


def in_between_smooth(flux, rng, centre) -> None:
    r_e = lognormal(rng, 9.0, 0.4, 3.5, 28.0)
    smooth_body(flux, rng, centre, rng.uniform(0.42, 0.78), rng.uniform(1.5, 4.5), r_e)


def cigar_smooth(flux, rng, centre) -> None:
    r_e = lognormal(rng, 10.0, 0.35, 4.0, 26.0)
    smooth_body(flux, rng, centre, rng.uniform(0.16, 0.42), rng.uniform(0.8, 2.5), r_e)


def edge_on(flux: np.ndarray, rng: np.random.Generator, centre: np.ndarray, bulge: bool) -> None:
    """A disk seen edge-on: exponential along the plane, sech^2 across it; a bulge and often a dust lane
    in the bulged class, a thin blue-white disk without one."""
    angle = rng.uniform(0, np.pi)
    u, z = frame(centre, angle, 1.0)
    h = lognormal(rng, 18.0 if bulge else 24.0, 0.35, 8.0, 50.0)
    z0 = h * (rng.uniform(0.1, 0.2) if bulge else rng.uniform(0.08, 0.18))
    i0 = lognormal(rng, 400.0, 0.5, 90.0, 2000.0)
    warp = rng.normal(0, 0.004) * u**2 / h  # a slight warp or bend, as many real thin disks have
    along = np.maximum(np.abs(u) / h, 1e-3)
    disk = i0 * along * k1(along) * sech2((z - warp) / z0)  # an exponential disk projected edge-on
    if bulge:
        if rng.random() < 0.65:
            depth = rng.uniform(0.3, 0.8)
            disk *= 1.0 - depth * np.exp(-(((z - warp) / (0.35 * z0)) ** 2)) * np.exp(-np.abs(u) / (2 * h))
        add(flux, disk, tint(DISK, rng))
        # a bulge that stands out above and below the disk, as Galaxy Zoo's "edge-on with bulge" asks
        b_u, b_v = frame(centre, angle, rng.uniform(0.6, 0.95))
        r_b = h * rng.uniform(0.25, 0.5)
        add(flux, sersic(b_u, b_v, r_b, rng.uniform(1.5, 3.0), i0 * rng.uniform(0.5, 1.5)), tint(OLD, rng))
    else:
        add(flux, disk, tint(mix(DISK, YOUNG, rng.uniform(0.2, 0.8)), rng))


def edge_on_without_bulge(flux, rng, centre) -> None:
    edge_on(flux, rng, centre, bulge=False)


def edge_on_with_bulge(flux, rng, centre) -> None:
    edge_on(flux, rng, centre, bulge=True)
