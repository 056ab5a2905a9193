"""Classifier architectures, built from config with hydra.utils.instantiate."""
