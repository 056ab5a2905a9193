"""Classification losses with per-class weighting resolved from the training split's class counts.

Value ranges (gamma >= 0, label_smoothing and beta in [0, 1), reduction) are checked once, by
astro.config.validation.validate, before any data is loaded."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from astro.errors import ConfigError

WeightSpec = str | Sequence[float] | None


WEIGHT_SCHEMES = ("inverse_frequency", "effective_number")


def class_weights(
    spec: WeightSpec, class_counts: Sequence[int] | None, beta: float = 0.999
) -> torch.Tensor | None:
    """Resolve a weight spec to per-class weights with mean 1: None, "inverse_frequency",
    "effective_number" (class-balanced, Cui et al. 2019: (1 - beta) / (1 - beta^n)), or a list."""
    if spec is None:
        return None
    if isinstance(spec, str):
        if spec not in WEIGHT_SCHEMES:
            raise ConfigError(f"loss alpha/weight '{spec}' must be null, a list, or one of {WEIGHT_SCHEMES}")
        if class_counts is None:
            raise ConfigError(f"loss alpha '{spec}' needs the training class counts")
        counts = torch.as_tensor(class_counts, dtype=torch.float64).clamp_min(1.0)
        if spec == "inverse_frequency":
            weights = counts.sum() / (len(counts) * counts)
        else:
            weights = (1.0 - beta) / (1.0 - beta**counts)
        return (weights / weights.mean()).float()
    weights = torch.as_tensor(list(spec), dtype=torch.float32)
    if class_counts is not None and len(weights) != len(class_counts):
        raise ConfigError(
            f"loss alpha/weight list has {len(weights)} values but the data has {len(class_counts)} classes"
        )
    return weights


class FocalLoss(nn.Module):
    """Focal loss (Lin et al. 2017): -alpha_t (1 - p_t)^gamma log p_t, from log_softmax for stability.

    With gamma=0 and alpha=None it equals cross-entropy; `mean` averages over the batch unweighted.
    """

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: WeightSpec = None,
        reduction: str = "mean",
        class_counts: Sequence[int] | None = None,
        beta: float = 0.999,
    ) -> None:
        super().__init__()
        self.gamma, self.reduction = float(gamma), reduction
        self.register_buffer("alpha", class_weights(alpha, class_counts, beta), persistent=False)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        log_pt = F.log_softmax(logits.float(), dim=1).gather(1, target[:, None]).squeeze(1)
        focus = (-torch.expm1(log_pt)).clamp_min(1e-12) ** self.gamma
        loss = -focus * log_pt
        if self.alpha is not None:
            loss = loss * self.alpha[target]
        if self.reduction == "mean":
            return loss.mean()
        return loss.sum() if self.reduction == "sum" else loss


class CrossEntropy(nn.Module):
    """Cross-entropy with optional class weights (same spec as focal alpha) and label smoothing."""

    def __init__(
        self,
        weight: WeightSpec = None,
        label_smoothing: float = 0.0,
        class_counts: Sequence[int] | None = None,
        beta: float = 0.999,
    ) -> None:
        super().__init__()
        self.label_smoothing = label_smoothing
        self.register_buffer("weight", class_weights(weight, class_counts, beta), persistent=False)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(
            logits.float(), target, weight=self.weight, label_smoothing=self.label_smoothing
        )
