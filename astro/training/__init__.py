"""Training a model: the loop, its losses, samplers, optimizers, checkpoints, run record and final test."""
