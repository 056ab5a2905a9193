"""One synthetic cutout: a galaxy of the requested class, its field, observed through the survey."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from astro.data.synthetic import interacting, smooth, spirals
from astro.data.synthetic.geometry import SIZE
from astro.data.synthetic.survey import Observation, add_field, observe

# Galaxy10's class order: index = label.
RENDERERS: tuple[Callable[[np.ndarray, np.random.Generator, np.ndarray], None], ...] = (
    interacting.disturbed,
    interacting.merging,
    smooth.round_smooth,
    smooth.in_between_smooth,
    smooth.cigar_smooth,
    spirals.barred_spiral,
    spirals.tight_spiral,
    spirals.loose_spiral,
    smooth.edge_on_without_bulge,
    smooth.edge_on_with_bulge,
)


def galaxy_flux(label: int, rng: np.random.Generator, centre: np.ndarray) -> np.ndarray:
    """The galaxy alone, before field, PSF and noise: (3, S, S) float32 in sky-noise units."""
    flux = np.zeros((3, SIZE, SIZE), np.float32)
    RENDERERS[label](flux, rng, centre)
    return flux


def render(label: int, rng: np.random.Generator) -> np.ndarray:
    """Render one 256x256x3 uint8 cutout of the given Galaxy10 class."""
    centre = rng.normal(0.0, 2.0, 2).astype(np.float32)
    flux = galaxy_flux(label, rng, centre)
    add_field(flux, rng, centre)
    return observe(flux, rng, Observation.draw(rng))
