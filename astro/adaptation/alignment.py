"""Train-time domain alignment: a loss that pulls the features of labelled source images and unlabelled
target images (another survey) together, added to the classification loss (`adapt=mmd|coral|dann`).

- MMD (Gretton et al. 2012; Long et al. 2015): the squared maximum mean discrepancy between the two
  batches under a sum of Gaussian kernels whose bandwidths follow the batch's median distance.
- CORAL (Sun & Saenko 2016, Deep CORAL): the distance between the two batches' feature covariances.
- DANN (Ganin et al. 2016): a domain classifier on the features learns to tell the surveys apart, and a
  gradient-reversal layer makes the feature extractor unlearn what it uses.

Each weighs its term by `weight` times the DANN ramp 2/(1+exp(-10 p)) - 1 over training progress p, so
the classifier learns the classes before the features are pulled together.

Aligning whole feature distributions assumes both surveys hold the classes in the same proportions. The
training batches are class-balanced (the weighted sampler) while a survey is not (GZ1 SDSS: 70% smooth),
so plain alignment moves target galaxies into the wrong classes. `class_weighted=true` reweighs the source
images by the target's class proportions over the batch's (Yan et al. 2017), the target's estimated from
the model's own predictions on the target images (a running mean kept with the weights).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from astro.errors import ConfigError


def ramp(progress: float) -> float:
    """0 at the start of training, 0.46 a tenth in, 0.99 at the half (Ganin et al. 2016)."""
    return 2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0


class Alignment(nn.Module):
    """The weighted alignment term; subclasses define `distance` between source and target features,
    with optional per-image weights of the source (mean 1). `features` is the feature width and `classes`
    the class count (train.py reads both from the model and the data)."""

    name = "alignment"

    def __init__(
        self, features: int, classes: int, weight: float = 1.0, class_weighted: bool = False
    ) -> None:
        super().__init__()
        if weight < 0:
            raise ConfigError(f"adapt.weight={weight} must be >= 0")
        self.features, self.weight, self.class_weighted = features, weight, class_weighted
        self.register_buffer("target_prior", torch.full((classes,), 1.0 / classes))

    def forward(
        self, source: torch.Tensor, target: torch.Tensor, progress: float, weights: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The term to add to the loss (weight * ramp(progress) * distance) and the distance, to log."""
        distance = self.distance(source.float(), target.float(), weights)
        return self.weight * ramp(progress) * distance, distance.detach()

    def source_weights(self, labels: torch.Tensor, target_logits: torch.Tensor) -> torch.Tensor | None:
        """With class_weighted: each source image's class share in the target over its share in the batch,
        the target's a running mean of the model's predicted probabilities (momentum 0.99)."""
        if not self.class_weighted:
            return None
        with torch.no_grad():
            predicted = target_logits.float().softmax(1).mean(0)
            self.target_prior.mul_(0.99).add_(0.01 * predicted)
            in_batch = torch.bincount(labels, minlength=len(self.target_prior)).float() / len(labels)
            weights = self.target_prior[labels] / in_batch[labels]
            return weights / weights.mean()

    def distance(
        self, source: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        raise NotImplementedError


class MMDAlignment(Alignment):
    """Squared MMD with Gaussian kernels at `scales` times the median pairwise squared distance."""

    name = "mmd"

    def __init__(
        self,
        features: int,
        classes: int,
        weight: float = 1.0,
        class_weighted: bool = False,
        scales: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0),
    ) -> None:
        super().__init__(features, classes, weight, class_weighted)
        self.scales = tuple(scales)

    def distance(
        self, source: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        both = torch.cat([source, target])
        squared = torch.cdist(both, both).square()
        bandwidth = squared.detach().median().clamp_min(1e-6)
        kernel = sum(torch.exp(-squared / (bandwidth * scale)) for scale in self.scales)
        n = len(source)
        w = (weights if weights is not None else torch.ones(n, device=source.device)) / n
        return w @ kernel[:n, :n] @ w + kernel[n:, n:].mean() - 2 * (w @ kernel[:n, n:]).mean()


class CoralAlignment(Alignment):
    """||C_s - C_t||_F^2 / (4 d^2) for the feature covariances C (Deep CORAL)."""

    name = "coral"

    def distance(
        self, source: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        d = source.shape[1]
        return (_covariance(source, weights) - _covariance(target)).square().sum() / (4 * d * d)


class AdversarialAlignment(Alignment):
    """A domain classifier (two layers) behind a gradient-reversal layer; its loss is the distance, so
    the classifier minimises it while the reversed gradient makes the features maximise it."""

    name = "dann"

    def __init__(
        self,
        features: int,
        classes: int,
        weight: float = 1.0,
        class_weighted: bool = False,
        hidden: int = 128,
    ) -> None:
        super().__init__(features, classes, weight, class_weighted)
        self.discriminator = nn.Sequential(
            nn.Linear(features, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1)
        )

    def forward(
        self, source: torch.Tensor, target: torch.Tensor, progress: float, weights: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # The discriminator learns at full strength from the start; only the reversed gradient is ramped.
        both = GradientReversal.apply(torch.cat([source, target]).float(), self.weight * ramp(progress))
        loss = self._domain_loss(both, len(source), weights)
        return loss, loss.detach()

    def distance(
        self, source: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self._domain_loss(torch.cat([source, target]), len(source), weights)

    def _domain_loss(
        self, both: torch.Tensor, n_source: int, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        is_target = torch.zeros(len(both), device=both.device)
        is_target[n_source:] = 1.0
        per_image = torch.ones(len(both), device=both.device)
        if weights is not None:
            per_image[:n_source] = weights
        logits = self.discriminator(both).squeeze(1)
        return F.binary_cross_entropy_with_logits(logits, is_target, weight=per_image)


class GradientReversal(torch.autograd.Function):
    """Identity forward; the gradient times -scale backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.scale * grad, None


def _covariance(x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """The (weighted) feature covariance; weights have mean 1."""
    w = (weights if weights is not None else torch.ones(len(x), device=x.device)).unsqueeze(1)
    centred = x - (w * x).mean(0, keepdim=True)
    return (w * centred).T @ centred / max(len(x) - 1, 1)
