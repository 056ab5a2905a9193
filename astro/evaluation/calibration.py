"""Confidence calibration: the temperature fit, expected calibration error and the reliability diagram.

Applying the fitted temperature to a model's logits is astro.evaluation.posthoc's job."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from astro.evaluation.plots import reliability_png


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T minimising validation NLL of softmax(logits / T) (Guo et al. 2017).

    Optimised over log T with L-BFGS, so T stays positive; 1.0 means the model was already calibrated.
    """
    z = torch.as_tensor(logits, dtype=torch.float64)
    y = torch.as_tensor(labels, dtype=torch.long)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(z / log_t.exp(), y)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().exp().clamp(0.05, 20.0))


def reliability_bins(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> dict[str, np.ndarray]:
    """Per confidence bin: mean confidence, accuracy and count (top-1 prediction)."""
    confidence = probs.max(1)
    correct = probs.argmax(1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    safe = np.maximum(count, 1)
    return {
        "edges": edges,
        "confidence": np.bincount(which, weights=confidence, minlength=bins) / safe,
        "accuracy": np.bincount(which, weights=correct, minlength=bins) / safe,
        "count": count,
    }


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE: the count-weighted gap between confidence and accuracy over equal-width bins."""
    table = reliability_bins(probs, labels, bins)
    weight = table["count"] / max(len(labels), 1)
    return float((weight * np.abs(table["accuracy"] - table["confidence"])).sum())


def calibration_section(probs: np.ndarray, calibrated: np.ndarray, labels: np.ndarray, path: Path) -> dict:
    """ECE before/after temperature scaling, and the reliability diagram of both."""
    before = reliability_bins(probs, labels)
    after = reliability_bins(calibrated, labels)
    reliability_png(before, after, path)
    return {
        "ece": expected_calibration_error(probs, labels),
        "ece_calibrated": expected_calibration_error(calibrated, labels),
    }
