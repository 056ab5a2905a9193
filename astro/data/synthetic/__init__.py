"""Procedural galaxies in the exact Galaxy10_DECals.h5 schema, made to look like DECaLS cutouts: the
embedded default data set (generator v3: colours on the real colour locus, edge-on disks as projected).

One module per concern: light-profile primitives (geometry), stellar-population colours (populations),
the classes' morphology (smooth, spirals, interacting), the survey (field sources, PSF, noise, stretch,
JPEG), one cutout (render) and the HDF5 file (writer).
"""

from astro.data.synthetic.render import RENDERERS, galaxy_flux, render
from astro.data.synthetic.writer import VERSION, class_labels, generate_h5, synthetic_galaxy10, synthetic_path

__all__ = [
    "RENDERERS",
    "VERSION",
    "class_labels",
    "galaxy_flux",
    "generate_h5",
    "render",
    "synthetic_galaxy10",
    "synthetic_path",
]
