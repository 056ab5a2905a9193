"""Forward passes over batches: logits (never probabilities), labels and the mean loss.

Probabilities are made from logits in one place only, astro.evaluation.posthoc.apply_posthoc, with the
checkpoint's post-hoc steps.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from astro.device import Performance

log = logging.getLogger(__name__)
Views = Callable[[torch.Tensor], list[torch.Tensor]]


@dataclass
class Predictions:
    logits: np.ndarray
    labels: np.ndarray
    loss: float


def view_averaged_logits(logits: list[torch.Tensor]) -> torch.Tensor:
    """Test-time augmentation: logits whose softmax is the mean of the views' softmax (exact,
    log-mean-exp of the log-probabilities), so TTA output is still a logit vector."""
    log_probs = torch.stack([z.log_softmax(1) for z in logits])
    return torch.logsumexp(log_probs, 0) - math.log(len(logits))


@torch.no_grad()
def predict(
    model: nn.Module,
    batches: Iterable,
    loss_fn: nn.Module | None = None,
    views: Views | None = None,
    perf: Performance | None = None,
) -> Predictions:
    """Logits for every batch; with `views` (TTA), the view-averaged logits. The loss is always on the
    plain view: without TTA the forward pass itself, with TTA the first view, which `views` must return
    as the batch unchanged (dihedral_views' view 0), so no image is run through the model twice."""
    perf = perf or Performance(channels_last=False)
    model.eval()
    logits, labels = [], []
    total = 0.0

    def forward(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, torch.bfloat16, enabled=perf.amp):
            return model(x.contiguous(memory_format=perf.memory_format)).float()

    for x, y in batches:
        per_view = [forward(v) for v in views(x)] if views is not None else [forward(x)]
        if loss_fn is not None:
            total += loss_fn(per_view[0], y).detach() * len(y)
        logits.append(view_averaged_logits(per_view) if views is not None else per_view[0])
        labels.append(y)
    n = sum(len(y) for y in labels)
    loss = float(total) / max(n, 1)
    if not math.isfinite(loss):
        log.warning("evaluation loss is %s", loss)
    return Predictions(torch.cat(logits).double().cpu().numpy(), torch.cat(labels).cpu().numpy(), loss)
