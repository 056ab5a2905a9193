"""The entrypoints' configs: typed schemas registered with Hydra, and value ranges checked before any work."""
