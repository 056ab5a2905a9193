"""Procedural galaxies written in the exact Galaxy10_DECals.h5 schema: the embedded default data set.

Each class is rendered from its physical look (Sersic bulges, exponential disks, logarithmic spiral arms,
bars, edge-on sech^2 disks with dust lanes, tidal arcs, close pairs) in flux units of the sky noise, then
PSF-blurred, given sky noise, field stars and faint background galaxies, and asinh-stretched to uint8 like
the survey's RGB cutouts. Every image is drawn from its own seed (seed, index), so the file is identical
for a given seed whatever the number of worker processes.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import h5py
import numpy as np
from scipy.ndimage import gaussian_filter
from tqdm import tqdm

from astro.data.galaxy10 import CLASS_COUNTS, CLASS_NAMES, IMAGE_SHAPE, Galaxy10H5

log = logging.getLogger(__name__)

SIZE = IMAGE_SHAPE[0]
_Y, _X = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) - (SIZE - 1) / 2.0

# RGB weights of the stellar populations: old bulges are red-yellow, star-forming arms are blue.
BULGE = np.array([1.0, 0.80, 0.55], np.float32)
DISK = np.array([0.92, 0.88, 0.85], np.float32)
ARMS = np.array([0.62, 0.76, 1.0], np.float32)
STAR_COLOURS = np.array(
    [[1.0, 0.55, 0.35], [1.0, 0.75, 0.5], [1.0, 0.95, 0.85], [0.75, 0.85, 1.0], [0.55, 0.7, 1.0]],
    np.float32,
)
STAR_MIX = np.array([0.35, 0.3, 0.15, 0.1, 0.1])  # field stars are mostly cool (red/orange) dwarfs


def synthetic_galaxy10(
    directory: str,
    num_images: int = 3000,
    max_images: int | None = None,
    seed: int = 0,
    workers: int | None = None,
) -> Galaxy10H5:
    """The synthetic file of this size and seed in `directory` as a Galaxy10 source, generated on first
    use; with max_images (a smoke run), only that many images are generated."""
    count = min(num_images, max_images) if max_images is not None else num_images
    path = Path(directory) / f"galaxy10_synthetic_n{count}_seed{seed}.h5"
    if not path.exists():
        generate_h5(str(path), num_images=count, seed=seed, workers=workers)
    return Galaxy10H5(str(path))


def class_labels(num_images: int, seed: int) -> np.ndarray:
    """Labels with Galaxy10's class proportions (largest-remainder rounding), in shuffled order."""
    share = np.asarray(CLASS_COUNTS, float) / sum(CLASS_COUNTS) * num_images
    counts = np.floor(share).astype(int)
    counts[np.argsort(share - counts)[::-1][: num_images - counts.sum()]] += 1
    labels = np.repeat(np.arange(len(CLASS_NAMES)), counts)
    return np.random.default_rng([seed, 10**9]).permutation(labels).astype(np.uint8)


def generate_h5(
    path: str, num_images: int, seed: int = 0, workers: int | None = None, chunk: int = 64
) -> None:
    """Write a Galaxy10-schema file atomically (temp file + rename): a killed run leaves nothing."""
    if num_images < len(CLASS_NAMES):
        raise ValueError(f"num_images={num_images}: need at least one image per class (10)")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    labels = class_labels(num_images, seed)
    workers = workers or min(os.cpu_count() or 1, 8)
    starts = range(0, num_images, chunk)
    jobs = [(seed, s, labels[s : s + chunk]) for s in starts]
    log.info("Generating %d synthetic Galaxy10 images -> %s", num_images, target)
    with h5py.File(tmp, "w") as f:
        images = f.create_dataset("images", (num_images, *IMAGE_SHAPE), np.uint8, chunks=(1, *IMAGE_SHAPE))
        f.create_dataset("ans", data=labels)
        meta = _metadata(num_images, seed)
        for key, values in meta.items():
            f.create_dataset(key, data=values)
        f.attrs["generator"] = "astro.data.synthetic"
        f.attrs["seed"] = seed
        with (
            ProcessPoolExecutor(workers) if workers > 1 else _Serial() as pool,
            tqdm(total=num_images, desc="synthetic galaxies", unit="img") as bar,
        ):
            for start, block in zip(starts, pool.map(_render_chunk, jobs), strict=True):
                images[start : start + len(block)] = block
                bar.update(len(block))
    os.replace(tmp, target)


class _Serial:
    """In-process stand-in for a pool, for workers=1 (tests, debugging)."""

    def __enter__(self) -> _Serial:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, fn: Callable, items: list) -> map:
        return map(fn, items)


def _render_chunk(job: tuple[int, int, np.ndarray]) -> np.ndarray:
    seed, start, labels = job
    return np.stack(
        [render(int(label), np.random.default_rng([seed, start + i])) for i, label in enumerate(labels)]
    )


def _metadata(num_images: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([seed, 10**9 + 1])
    return {
        "ra": rng.uniform(0.0, 360.0, num_images),
        "dec": np.degrees(np.arcsin(rng.uniform(-0.5, 0.98, num_images))),
        "redshift": np.clip(rng.lognormal(np.log(0.06), 0.5, num_images), 0.005, 0.4),
        "pxscale": np.full(num_images, 0.262),
    }


def render(label: int, rng: np.random.Generator) -> np.ndarray:
    """Render one 256x256x3 uint8 cutout of the given Galaxy10 class."""
    flux = np.zeros((3, SIZE, SIZE), np.float32)
    centre = rng.normal(0.0, 2.5, 2)
    size = rng.uniform(0.9, 1.9)
    RENDERERS[label](flux, rng, centre, size)
    _add_field(flux, rng)
    psf = rng.uniform(0.9, 1.7)
    for band in range(3):
        flux[band] = gaussian_filter(flux[band], psf, mode="constant")
    flux += rng.standard_normal(flux.shape, dtype=np.float32)
    return _stretch(flux, rng)


def _stretch(flux: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """asinh stretch with a sky pedestal, as in survey colour cutouts."""
    soft = rng.uniform(2.5, 4.0)
    sky = rng.uniform(22.0, 34.0)
    scaled = np.arcsinh(flux / soft) / np.arcsinh(rng.uniform(70.0, 160.0) / soft)
    image = sky + (255.0 - sky) * scaled
    return np.clip(image, 0, 255).astype(np.uint8).transpose(1, 2, 0)


def _frame(centre: np.ndarray, angle: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates in a galaxy's own plane: u along the major axis, v deprojected by axis ratio q."""
    dx, dy = _X - centre[0], _Y - centre[1]
    c, s = math.cos(angle), math.sin(angle)
    return dx * c + dy * s, (-dx * s + dy * c) / q


def _sersic(u: np.ndarray, v: np.ndarray, r_e: float, n: float, i_e: float) -> np.ndarray:
    b_n = 2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n)
    r = np.hypot(u, v)
    return i_e * np.exp(-b_n * ((r / r_e) ** (1.0 / n) - 1.0))


def _add(flux: np.ndarray, component: np.ndarray, colour: np.ndarray, rng: np.random.Generator):
    tint = colour * rng.uniform(0.9, 1.1, 3).astype(np.float32)
    flux += tint[:, None, None] * component[None]


def _smooth(flux, rng, centre, size, q: float, n: float) -> None:
    """Elliptical/lenticular light: one Sersic profile with a red-yellow population."""
    u, v = _frame(centre, rng.uniform(0, np.pi), q)
    _add(flux, _sersic(u, v, size * rng.uniform(7, 13), n, rng.uniform(6, 14)), BULGE, rng)


def _round_smooth(flux, rng, centre, size) -> None:
    _smooth(flux, rng, centre, size, rng.uniform(0.82, 1.0), rng.uniform(2.5, 4.5))


def _in_between_smooth(flux, rng, centre, size) -> None:
    _smooth(flux, rng, centre, size, rng.uniform(0.5, 0.75), rng.uniform(2.0, 4.0))


def _cigar_smooth(flux, rng, centre, size) -> None:
    _smooth(flux, rng, centre, size, rng.uniform(0.2, 0.4), rng.uniform(1.0, 2.5))


def _spiral(
    flux,
    rng,
    centre,
    size,
    pitch_deg: tuple[float, float],
    bulge: tuple[float, float],
    bar: bool = False,
    clumps: int = 0,
    arms: int | None = None,
) -> None:
    """Disk galaxy seen at a random inclination: bulge + exponential disk modulated by log-spiral arms."""
    q = rng.uniform(0.55, 1.0)
    angle = rng.uniform(0, np.pi)
    u, v = _frame(centre, angle, q)
    r = np.hypot(u, v) + 1e-3
    theta = np.arctan2(v, u)
    h = size * rng.uniform(9, 15)
    disk = rng.uniform(9, 16) * np.exp(-r / h)
    m = arms or int(rng.choice([2, 2, 2, 3]))
    pitch = np.radians(rng.uniform(*pitch_deg))
    r_in = h * rng.uniform(0.35, 0.6)
    bar_angle = rng.uniform(0, np.pi)
    phase = -m * bar_angle if bar else rng.uniform(0, 2 * np.pi)
    wave = 0.5 + 0.5 * np.cos(m * theta - m * np.log(r / r_in) / np.tan(pitch) + phase)
    arm = wave ** rng.uniform(2.5, 5.0) * (1.0 - np.exp(-((r / r_in) ** 2)))
    contrast = rng.uniform(0.65, 0.9)
    _add(flux, disk * (1.0 - contrast), DISK, rng)
    _add(flux, disk * contrast * arm * 2.2, ARMS, rng)
    _add(flux, _sersic(u, v, h * rng.uniform(0.15, 0.3), 2.5, rng.uniform(*bulge)), BULGE, rng)
    if bar:
        c, s = math.cos(bar_angle), math.sin(bar_angle)
        along, across = (u * c + v * s) / r_in, (-u * s + v * c) / (r_in * rng.uniform(0.22, 0.32))
        ferrers = np.clip(1.0 - along**2 - across**2, 0.0, None) ** 1.5
        _add(flux, rng.uniform(10, 20) * ferrers, BULGE * 0.6 + DISK * 0.4, rng)
    for _ in range(clumps):
        radius, at = h * rng.uniform(0.6, 2.2), rng.uniform(0, 2 * np.pi)
        spot = centre + _deproject_offset(radius, at, angle, q)
        _add_blob(flux, rng, spot, rng.uniform(1.0, 2.2), rng.uniform(4, 12), ARMS)


def _deproject_offset(radius: float, at: float, angle: float, q: float) -> np.ndarray:
    u, v = radius * math.cos(at), radius * math.sin(at) * q
    c, s = math.cos(angle), math.sin(angle)
    return np.array([u * c - v * s, u * s + v * c], np.float32)


def _window(centre: np.ndarray, radius: float) -> tuple[slice, slice]:
    """Pixel window around a small source: evaluating it on the whole frame would be wasted work."""
    col, row = centre + (SIZE - 1) / 2.0
    r = math.ceil(radius)
    return slice(max(int(row) - r, 0), max(int(row) + r + 1, 0)), slice(
        max(int(col) - r, 0), max(int(col) + r + 1, 0)
    )


def _add_blob(flux, rng, centre: np.ndarray, sigma: float, peak: float, colour: np.ndarray) -> None:
    rows, cols = _window(centre, 4 * sigma)
    dx, dy = _X[rows, cols] - centre[0], _Y[rows, cols] - centre[1]
    tint = colour * rng.uniform(0.9, 1.1, 3).astype(np.float32)
    flux[:, rows, cols] += tint[:, None, None] * (peak * np.exp(-(dx**2 + dy**2) / (2 * sigma**2)))


def _barred_spiral(flux, rng, centre, size) -> None:
    _spiral(flux, rng, centre, size, (12, 24), (8, 18), bar=True, arms=2)


def _tight_spiral(flux, rng, centre, size) -> None:
    _spiral(flux, rng, centre, size, (7, 13), (8, 20))


def _loose_spiral(flux, rng, centre, size) -> None:
    _spiral(flux, rng, centre, size, (24, 38), (3, 10), clumps=int(rng.integers(2, 7)))


def _edge_on(flux, rng, centre, size, bulge: bool) -> None:
    """Thin disk seen edge-on: exponential along the plane, sech^2 across it, optional dust lane."""
    angle = rng.uniform(0, np.pi)
    u, z = _frame(centre, angle, 1.0)
    h = size * rng.uniform(14, 24)
    z0 = h * rng.uniform(0.07, 0.13)
    disk = rng.uniform(10, 20) * np.exp(-np.abs(u) / h) * _sech2(z / z0)
    if bulge:
        lane = 1.0 - rng.uniform(0.3, 0.7) * np.exp(-((z / (0.5 * z0)) ** 2)) * np.exp(-np.abs(u) / h)
        _add(flux, disk * lane, DISK, rng)
        b_u, b_v = _frame(centre, angle, rng.uniform(0.6, 0.85))
        _add(flux, _sersic(b_u, b_v, h * rng.uniform(0.25, 0.4), 2.5, rng.uniform(6, 12)), BULGE, rng)
    else:
        _add(flux, disk, DISK * 0.5 + ARMS * 0.5, rng)


def _sech2(x: np.ndarray) -> np.ndarray:
    """sech^2 written with exp(-2|x|) so that large |x| underflows to 0 instead of overflowing."""
    e = np.exp(-2.0 * np.abs(x))
    return 4.0 * e / (1.0 + e) ** 2


def _edge_on_without_bulge(flux, rng, centre, size) -> None:
    _edge_on(flux, rng, centre, size, bulge=False)


def _edge_on_with_bulge(flux, rng, centre, size) -> None:
    _edge_on(flux, rng, centre, size, bulge=True)


def _tidal_arc(flux, rng, origin: np.ndarray, r0: float, colour: np.ndarray, amp: float) -> None:
    """A faint logarithmic stream winding out of a galaxy over part of a turn."""
    dx, dy = _X - origin[0], _Y - origin[1]
    r, theta = np.hypot(dx, dy) + 1e-3, np.arctan2(dy, dx)
    start, span = rng.uniform(0, 2 * np.pi), rng.uniform(1.2, 2.8)
    turn = np.mod(theta - start, 2 * np.pi)
    path = r0 * np.exp(turn * np.tan(np.radians(rng.uniform(15, 30))))
    width = rng.uniform(2.5, 5.0) + 0.1 * path
    arc = amp * np.exp(-(((r - path) / width) ** 2)) * np.exp(-2.0 * turn / span) * (turn < span)
    _add(flux, arc, colour, rng)


def _merging(flux, rng, centre, size) -> None:
    """Two galaxies of comparable brightness overlapping, with tidal bridges or tails."""
    gap = size * rng.uniform(14, 30)
    direction = rng.uniform(0, 2 * np.pi)
    offset = 0.5 * gap * np.array([math.cos(direction), math.sin(direction)], np.float32)
    ratio = rng.uniform(0.5, 1.0)
    for spot, scale in ((centre - offset, 1.0), (centre + offset, ratio)):
        u, v = _frame(spot, rng.uniform(0, np.pi), rng.uniform(0.55, 1.0))
        r_e = size * rng.uniform(5, 9) * scale**0.5
        _add(flux, _sersic(u, v, r_e, rng.uniform(1.5, 3.5), scale * rng.uniform(8, 14)), BULGE, rng)
        _tidal_arc(flux, rng, spot, r_e * 1.5, DISK, rng.uniform(1.5, 4.0))


def _disturbed(flux, rng, centre, size) -> None:
    """One nucleus with lopsided, clumpy outer light and a tidal plume."""
    angle, q = rng.uniform(0, np.pi), rng.uniform(0.5, 1.0)
    u, v = _frame(centre, angle, q)
    _add(flux, _sersic(u, v, size * rng.uniform(4, 7), 2.0, rng.uniform(6, 14)), BULGE, rng)
    shift = _deproject_offset(size * rng.uniform(6, 12), rng.uniform(0, 2 * np.pi), angle, q)
    u2, v2 = _frame(centre + shift, angle + rng.uniform(-0.6, 0.6), q * rng.uniform(0.6, 1.0))
    _add(flux, rng.uniform(3, 7) * np.exp(-np.hypot(u2, v2) / (size * rng.uniform(9, 15))), DISK, rng)
    for _ in range(int(rng.integers(2, 7))):
        spot = centre + rng.normal(0, size * 10, 2).astype(np.float32)
        _add_blob(flux, rng, spot, rng.uniform(1.5, 3.5), rng.uniform(2, 7), ARMS)
    _tidal_arc(flux, rng, centre, size * rng.uniform(8, 14), DISK, rng.uniform(2.0, 5.0))


def _add_field(flux: np.ndarray, rng: np.random.Generator) -> None:
    """Foreground stars (point sources, blurred later by the PSF) and small faint background galaxies."""
    for _ in range(rng.poisson(6)):
        x, y = rng.integers(0, SIZE, 2)
        colour = STAR_COLOURS[rng.choice(len(STAR_COLOURS), p=STAR_MIX)]
        flux[:, y, x] += colour * np.exp(rng.uniform(np.log(30), np.log(3000)))
    for _ in range(rng.poisson(6)):
        spot = rng.uniform(-SIZE / 2, SIZE / 2, 2).astype(np.float32)
        sigma = rng.uniform(0.8, 2.2)
        _add_blob(flux, rng, spot, sigma, rng.uniform(1.5, 6.0), BULGE * rng.uniform(0.7, 1.0, 3))


RENDERERS: tuple[Callable, ...] = (
    _disturbed,
    _merging,
    _round_smooth,
    _in_between_smooth,
    _cigar_smooth,
    _barred_spiral,
    _tight_spiral,
    _loose_spiral,
    _edge_on_without_bulge,
    _edge_on_with_bulge,
)
