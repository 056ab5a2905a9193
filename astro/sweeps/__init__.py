"""Sweeps: the Hydra callback that nests jobs under a parent run, and the Optuna study, storage and
importances."""
