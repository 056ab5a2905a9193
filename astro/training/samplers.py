"""Training-set samplers, built from the training labels (configs use `_partial_: true`)."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import RandomSampler, Sampler, WeightedRandomSampler


def weighted(
    labels: np.ndarray, generator: torch.Generator | None = None, num_samples: int | None = None
) -> Sampler:
    """Draw with replacement at inverse class frequency, so every class is seen equally often."""
    counts = np.bincount(labels)
    weights = 1.0 / counts[labels]
    return WeightedRandomSampler(
        torch.as_tensor(weights, dtype=torch.double),
        num_samples=num_samples or len(labels),
        replacement=True,
        generator=generator,
    )


def shuffle(labels: np.ndarray, generator: torch.Generator | None = None) -> Sampler:
    """Plain reshuffle each epoch: the natural class balance."""
    return RandomSampler(range(len(labels)), generator=generator)
