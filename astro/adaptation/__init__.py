"""Adapting a trained model to another survey's images: BatchNorm statistics re-estimated at test time."""
