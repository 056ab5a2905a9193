"""The features that train-time adaptation aligns: what enters the model's classification head.

Every model astro builds ends in a head (`head` in astro's models, `fc` in torchvision's ResNets) that
turns one feature vector per image into class scores; a forward pre-hook on it keeps that vector
(globally averaged when the head pools itself), without changing the models.
"""

from __future__ import annotations

import torch
from torch import nn

from astro.errors import ConfigError

HEAD_NAMES = ("head", "fc", "classifier")


def feature_layer(model: nn.Module) -> nn.Module:
    """The model's classification head, whose input is the feature vector."""
    for name in HEAD_NAMES:
        layer = getattr(model, name, None)
        if isinstance(layer, nn.Module):
            return layer
    raise ConfigError(
        f"adapt: model {type(model).__name__} has no classification head named one of {HEAD_NAMES} "
        "whose input features could be aligned"
    )


def feature_width(model: nn.Module) -> int:
    """The length of the feature vector: the input width of the head's first linear layer."""
    layer = feature_layer(model)
    linear = next((m for m in layer.modules() if isinstance(m, nn.Linear)), None)
    if linear is None:
        raise ConfigError(f"adapt: the head of {type(model).__name__} has no linear layer")
    return linear.in_features


class FeatureTap:
    """Keeps the feature vectors of the latest forward pass in `features` (N, width)."""

    def __init__(self, model: nn.Module) -> None:
        self.features: torch.Tensor | None = None
        self._handle = feature_layer(model).register_forward_pre_hook(self._keep)

    def _keep(self, _module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        x = args[0]
        self.features = x.mean((2, 3)) if x.dim() == 4 else x.flatten(1)

    def close(self) -> None:
        self._handle.remove()
