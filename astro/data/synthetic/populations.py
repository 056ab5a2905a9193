"""Colours of stellar populations in the cutouts' RGB = (z, r, g) bands, as flux ratios per channel.

Galaxy and star colours lie along one line in colour-colour space: redder in R/G means less blue in B/G.
In the real DECaLS cutouts log(B/G) falls by about 1.3 for each unit of log(R/G), and what scatter
there is off that line is small; colours drawn per channel independently would make green and magenta
galaxies that no survey shows. So a colour here is a position on that locus (a colour index: negative
blue, positive red) with a little scatter across it. DECaLS composites show old bulges and ellipticals
orange-yellow, disks white-yellow, star-forming arms and knots blue, field stars from blue to deep red
(cool dwarfs dominate), background galaxies mostly red (distant early types) or blue.
"""

from __future__ import annotations

import numpy as np

# d log(R, G, B) per unit of colour index (G is the reference) and a direction across the locus.
LOCUS = np.array([1.0, 0.0, -1.3], np.float32)
ACROSS = np.array([0.46, -0.81, 0.35], np.float32)  # green-magenta: across LOCUS and grey


def on_locus(index: float) -> np.ndarray:
    """The RGB colour (mean 1) at a colour index: 0 is neutral white, 0.2 an old population."""
    c = np.exp(index * LOCUS)
    return (c / c.mean()).astype(np.float32)


OLD = on_locus(0.18)
DISK = on_locus(0.01)
YOUNG = on_locus(-0.21)
STAR_INDEX = np.array([0.45, 0.3, 0.15, -0.02, -0.18])
STAR_MIX = np.array([0.3, 0.3, 0.2, 0.1, 0.1])
BACKGROUND_INDEX = np.array([0.35, 0.22, -0.05, -0.2])
BACKGROUND_MIX = np.array([0.35, 0.3, 0.15, 0.2])


def tint(colour: np.ndarray, rng: np.random.Generator, spread: float = 0.06) -> np.ndarray:
    """A population colour moved along the locus by a normal draw of sd `spread`, and a sixth of that
    across it; normalised to a mean of 1 (flux kept)."""
    shift = rng.normal(0.0, spread) * LOCUS + rng.normal(0.0, spread / 6) * ACROSS
    c = colour * np.exp(shift).astype(np.float32)
    return (c / c.mean()).astype(np.float32)


def mix(a: np.ndarray, b: np.ndarray, share_b: float) -> np.ndarray:
    """A blend of two populations, e.g. a disk between old and young."""
    return ((1 - share_b) * a + share_b * b).astype(np.float32)


def star_colour(rng: np.random.Generator) -> np.ndarray:
    return tint(on_locus(rng.choice(STAR_INDEX, p=STAR_MIX)), rng, 0.08)


def background_colour(rng: np.random.Generator) -> np.ndarray:
    return tint(on_locus(rng.choice(BACKGROUND_INDEX, p=BACKGROUND_MIX)), rng, 0.1)


def add(flux: np.ndarray, component: np.ndarray, colour: np.ndarray) -> None:
    """Add a (H, W) light component with an RGB colour to the (3, H, W) flux in place."""
    flux += colour[:, None, None] * component[None]
