"""astro: Hydra-composed experiments for galaxy-morphology classification."""

from astro.checkpoint.moved import install_aliases

__version__ = "0.1.0"

install_aliases()  # what a user made under the flat layout's module names still loads (checkpoint.moved)
