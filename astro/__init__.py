"""astro: Hydra-composed experiments for galaxy-morphology classification."""

__version__ = "0.1.0"
