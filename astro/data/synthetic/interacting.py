"""Merging and disturbed galaxies: two nuclei with tidal tails, or one body with lopsided, clumpy light,
plumes and shells.

Mergers in Galaxy10 are mostly close pairs of comparable galaxies (often an early type with a disk) with
bridges and tails; disturbed galaxies are single systems whose outer light is asymmetric or irregular.
"""

from __future__ import annotations

import math

import numpy as np

from astro.data.synthetic.geometry import X, Y, add_blob, frame, offset, random_field, sersic
from astro.data.synthetic.populations import DISK, OLD, YOUNG, add, mix, tint
from astro.data.synthetic.smooth import lognormal


def tidal_arc(flux, rng, origin: np.ndarray, r0: float, amp: float, colour: np.ndarray) -> None:
    """A faint logarithmic stream winding out of a galaxy over part of a turn, fading along it."""
    dx, dy = X - origin[0], Y - origin[1]
    r, theta = np.hypot(dx, dy) + 1e-3, np.arctan2(dy, dx)
    start, span = rng.uniform(0, 2 * np.pi), rng.uniform(1.0, 3.0)
    turn = np.mod(theta * rng.choice([-1, 1]) - start, 2 * np.pi)
    path = r0 * np.exp(turn * math.tan(math.radians(rng.uniform(12, 30))))
    width = rng.uniform(1.5, 4.0) + 0.12 * path
    arc = amp * np.exp(-(((r - path) / width) ** 2)) * np.exp(-1.5 * turn / span) * (turn < span)
    add(flux, arc, colour)


def shells(flux, rng, centre: np.ndarray, r_e: float, amp: float, colour: np.ndarray) -> None:
    """Concentric arcs on alternate sides: the shells of a swallowed companion around an early type."""
    dx, dy = X - centre[0], Y - centre[1]
    r, theta = np.hypot(dx, dy), np.arctan2(dy, dx)
    axis = rng.uniform(0, 2 * np.pi)
    for k in range(int(rng.integers(2, 5))):
        radius = r_e * (2.0 + 1.5 * k) * rng.uniform(0.8, 1.2)
        side = np.cos(theta - axis - k * np.pi) > rng.uniform(-0.2, 0.4)
        add(flux, amp * np.exp(-(((r - radius) / (0.12 * radius)) ** 2)) * side, colour)


def galaxy(flux, rng, spot: np.ndarray, r_e: float, brightness: float) -> tuple[np.ndarray, float]:
    """One member of a pair: an early type or a disk with its own colour; returns its colour and r_e."""
    u, v = frame(spot, rng.uniform(0, np.pi), rng.uniform(0.4, 1.0))
    early = rng.random() < 0.5
    colour = tint(OLD if early else mix(DISK, YOUNG, rng.uniform(0.2, 0.8)), rng)
    n = rng.uniform(2.0, 4.0) if early else rng.uniform(0.8, 1.5)
    light = sersic(u, v, r_e, n, brightness)
    if not early:
        light = light * random_field(rng, int(rng.integers(10, 24)), rng.uniform(0.2, 0.5))
    add(flux, light, colour)
    return colour, r_e


def merging(flux, rng, centre) -> None:
    """Two galaxies of comparable brightness, close or overlapping, with tidal bridges or tails."""
    r_e = lognormal(rng, 6.5, 0.35, 3.0, 18.0)
    gap = r_e * rng.uniform(1.5, 5.0)
    direction = rng.uniform(0, 2 * np.pi)
    shift = 0.5 * gap * np.array([math.cos(direction), math.sin(direction)], np.float32)
    ratio = rng.uniform(0.3, 1.0)
    brightness = lognormal(rng, 90.0, 0.5, 20.0, 450.0)
    for spot, scale in ((centre - shift, 1.0), (centre + shift, ratio)):
        colour, size = galaxy(flux, rng, spot, r_e * scale**0.5, brightness * scale)
        for _ in range(int(rng.integers(1, 3))):
            tidal_arc(
                flux, rng, spot, size * rng.uniform(1.0, 2.0), brightness * rng.uniform(0.1, 0.4), colour
            )


def disturbed(flux, rng, centre) -> None:
    """One nucleus with lopsided, clumpy outer light, a tidal plume, and shells around some early types."""
    angle, q = rng.uniform(0, np.pi), rng.uniform(0.4, 1.0)
    r_e = lognormal(rng, 6.5, 0.4, 3.0, 20.0)
    brightness = lognormal(rng, 75.0, 0.5, 18.0, 380.0)
    u, v = frame(centre, angle, q)
    add(flux, sersic(u, v, r_e, rng.uniform(1.0, 3.0), brightness), tint(mix(OLD, DISK, rng.random()), rng))
    shift = offset(r_e * rng.uniform(0.8, 2.5), rng.uniform(0, 2 * np.pi), angle, q)
    u2, v2 = frame(centre + shift, angle + rng.uniform(-0.8, 0.8), q * rng.uniform(0.5, 1.0))
    envelope = np.exp(-np.hypot(u2, v2) / (r_e * rng.uniform(1.2, 2.5)))
    lumps = random_field(rng, int(rng.integers(8, 20)), rng.uniform(0.4, 0.9))
    add(
        flux, brightness * rng.uniform(0.3, 0.9) * envelope * lumps, tint(mix(DISK, YOUNG, rng.random()), rng)
    )
    for _ in range(int(rng.integers(0, 6))):
        spot = centre + rng.normal(0, r_e * 2.0, 2).astype(np.float32)
        add_blob(flux, spot, rng.uniform(0.8, 2.2), rng.uniform(80, 600), tint(YOUNG, rng, 0.12))
    if rng.random() < 0.6:
        tidal_arc(
            flux,
            rng,
            centre,
            r_e * rng.uniform(1.0, 2.0),
            brightness * rng.uniform(0.1, 0.3),
            tint(DISK, rng),
        )
    if rng.random() < 0.3:
        shells(flux, rng, centre, r_e, brightness * rng.uniform(0.03, 0.1), tint(OLD, rng))
