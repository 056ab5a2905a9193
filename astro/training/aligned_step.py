"""One training step's loss with train-time adaptation (`adapt=...` with `data.unlabeled`).

The labelled source batch and a batch of unlabelled target images go through the model in one forward
pass, so BatchNorm normalises with statistics of both surveys (its running statistics, used at test time,
become those of the mixture). The classification loss is taken on the source half only; the alignment
term compares the two halves' features (the input of the model's head).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from astro.adaptation.alignment import Alignment
from astro.adaptation.features import FeatureTap
from astro.data.unlabeled import TargetBatches


class AlignedStep:
    """Computes a step's loss and keeps the epoch's mean alignment distance for the history."""

    def __init__(self, model: nn.Module, alignment: Alignment, target: TargetBatches) -> None:
        self.alignment, self.target = alignment, target
        self.tap = FeatureTap(model)
        self._distance_sum: torch.Tensor | None = None
        self._steps = 0

    def loss(
        self,
        forward: Callable[[torch.Tensor], torch.Tensor],
        loss_fn: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        progress: float,
    ) -> torch.Tensor:
        """Classification loss on `x` plus the weighted alignment term; `progress` in [0, 1] ramps it."""
        n = len(x)
        logits = forward(torch.cat([x, self.target.draw()]))
        features = self.tap.features
        weights = self.alignment.source_weights(y, logits[n:])  # class_weighted, else None
        term, distance = self.alignment(features[:n], features[n:], progress, weights)
        self._distance_sum = distance if self._distance_sum is None else self._distance_sum + distance
        self._steps += 1
        return loss_fn(logits[:n].float(), y) + term

    def end_epoch(self) -> dict[str, float]:
        """The epoch's mean alignment distance (one device sync), then a fresh sum for the next."""
        if self._distance_sum is None:
            return {}
        row = {f"train/{self.alignment.name}_distance": float(self._distance_sum.item()) / self._steps}
        self._distance_sum, self._steps = None, 0
        return row


def trainable_parameters(model: nn.Module, alignment: Alignment | None) -> list[nn.Parameter]:
    """What the optimizer updates: the model's weights, and a domain classifier's when there is one."""
    return [*model.parameters(), *(alignment.parameters() if alignment is not None else ())]
