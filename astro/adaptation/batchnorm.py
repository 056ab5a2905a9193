"""Test-time adaptation by re-estimating BatchNorm statistics (AdaBN, Li et al. 2016).

A network trained on one survey standardises each feature with the mean and variance it saw there; on
another survey (other PSF, depth, noise, colours) those statistics are off and so are the features.
AdaBN recomputes every BatchNorm layer's running mean and variance on images of the target survey, with
the weights untouched: the cheapest known step across a domain gap, and it needs no labels. The sample
is bounded and seeded, so memory stays flat on a large catalogue and two runs (or every shard of one
catalogue) adapt to exactly the same statistics.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from astro.errors import ConfigError


def batchnorm_layers(model: nn.Module) -> list[_BatchNorm]:
    return [module for module in model.modules() if isinstance(module, _BatchNorm)]


def adapt_batchnorm(model: nn.Module, batches: Iterable[torch.Tensor]) -> int:
    """Replace every BatchNorm layer's running statistics by those of `batches` (normalised model inputs,
    already on the model's device): an exact average over all of them, not a momentum blend with the
    training survey's. Returns the number of images seen; the model is left in eval mode."""
    layers = batchnorm_layers(model)
    if not layers:
        raise ConfigError(
            f"adapt=bn: model {type(model).__name__} has no BatchNorm layers whose statistics could be "
            "re-estimated (use adapt=none)"
        )
    momenta = [layer.momentum for layer in layers]
    seen = 0
    model.eval()
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative average over every batch
        layer.train()
    try:
        with torch.no_grad():
            for x in batches:
                model(x)
                seen += len(x)
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
        model.eval()
    if seen < 2:
        raise ConfigError(f"adapt=bn: {seen} readable image(s) to re-estimate BatchNorm statistics from")
    return seen


def sampled_batches(
    images: torch.Tensor, rows: np.ndarray, batch_size: int, transform, device: torch.device
) -> Iterable[torch.Tensor]:
    """The `rows` of a uint8 image tensor (N, 3, S, S) as model inputs, `batch_size` at a time."""
    for start in range(0, len(rows), batch_size):
        index = torch.as_tensor(rows[start : start + batch_size], dtype=torch.long)
        yield transform(images[index].to(device))
