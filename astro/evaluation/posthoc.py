"""Post-hoc steps: the one way logits become the probabilities a user sees.

Training's test step, evaluate.py, the demo and batch prediction all call `apply_posthoc` with the
checkpoint's `PosthocSteps`, so a model gives the same probabilities wherever it runs.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from astro.checkpoint.card import PosthocSteps
from astro.evaluation.calibration import fit_temperature


def adjusted_logits(logits: np.ndarray, steps: PosthocSteps) -> np.ndarray:
    """Logit adjustment: subtract tau * log(train prior); tau = 1 targets balanced error, 0 is a no-op."""
    z = np.asarray(logits, dtype=np.float64)
    if not steps.tau or steps.prior is None:
        return z
    return z - steps.tau * np.log(np.asarray(steps.prior, dtype=np.float64))


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def apply_posthoc(logits: np.ndarray, steps: PosthocSteps) -> np.ndarray:
    """Probabilities: softmax of the adjusted logits divided by the temperature (if one was fitted)."""
    return softmax(adjusted_logits(logits, steps) / (steps.temperature or 1.0))


def fit_posthoc(
    val_logits: np.ndarray, val_labels: np.ndarray, prior: np.ndarray, tau: float
) -> PosthocSteps:
    """The steps to ship: the configured logit adjustment, then a temperature fitted on validation
    after it (so the temperature calibrates what the adjustment produces)."""
    steps = PosthocSteps(tau=float(tau), prior=tuple(float(p) for p in prior))
    return replace(steps, temperature=fit_temperature(adjusted_logits(val_logits, steps), val_labels))


def uncalibrated(steps: PosthocSteps) -> PosthocSteps:
    """The same steps without the temperature: the 'before' of a reliability diagram."""
    return replace(steps, temperature=None)
