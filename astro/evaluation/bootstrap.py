"""Paired bootstrap of test F1: is a difference between two runs larger than the test sample's noise?

Both runs are scored on the same resamples of the shared test split (the images are resampled once and
both runs' predictions are taken at those indices), so what the two runs have in common cancels and
the 95% percentile interval of the difference reflects only how the runs differ. An interval that
covers 0 is marked as within noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from astro.errors import AstroError

RESAMPLES = 2000


class UnpairedRuns(AstroError):
    """Two runs' test predictions are not on the same images, so they cannot be paired."""


@dataclass(frozen=True)
class SplitPredictions:
    """One run's predicted classes on the test split, beside the true labels (same order for every run)."""

    labels: np.ndarray
    predicted: np.ndarray


@dataclass(frozen=True)
class Delta:
    """A difference against the baseline with its 95% interval."""

    value: float
    low: float
    high: float

    @property
    def within_noise(self) -> bool:
        return self.low <= 0.0 <= self.high

    def cell(self, digits: int = 3) -> str:
        mark = " (within noise)" if self.within_noise else ""
        return f"{self.value:+.{digits}f} [{self.low:+.{digits}f}, {self.high:+.{digits}f}]{mark}"


def resample_counts(n: int, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """How often each test image is drawn in each resample, (resamples, n); row 0 is the test split."""
    rng = np.random.default_rng(seed)
    counts = np.ones((resamples + 1, n))
    for row in range(1, resamples + 1):
        counts[row] = np.bincount(rng.integers(0, n, n), minlength=n)
    return counts


def f1_scores(run: SplitPredictions, counts: np.ndarray, num_classes: int) -> np.ndarray:
    """Macro F1 then per-class F1 on every resample, (resamples + 1, 1 + num_classes); an F1 whose
    class is neither present nor predicted is 0, as scikit-learn's zero_division=0."""
    classes = np.arange(num_classes)
    truth = run.labels[:, None] == classes
    guess = run.predicted[:, None] == classes
    tp, fp, fn = counts @ (truth & guess), counts @ (guess & ~truth), counts @ (truth & ~guess)
    denom = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(denom), where=denom > 0)
    return np.column_stack([f1.mean(1), f1])


def interval(differences: np.ndarray) -> Delta:
    """Row 0 is the observed difference, the other rows its bootstrap replicates."""
    low, high = np.percentile(differences[1:], [2.5, 97.5])
    return Delta(float(differences[0]), float(low), float(high))


def check_paired(run: SplitPredictions, baseline: SplitPredictions) -> None:
    if not np.array_equal(run.labels, baseline.labels):
        raise UnpairedRuns("two runs were tested on different test splits: paired intervals need one split")


def score_deltas(scores: np.ndarray, baseline_scores: np.ndarray) -> list[Delta]:
    """Deltas from two runs' f1_scores on the same resamples: macro F1, then each class's F1."""
    differences = scores - baseline_scores
    return [interval(differences[:, column]) for column in range(differences.shape[1])]


def paired_deltas(
    run: SplitPredictions, baseline: SplitPredictions, num_classes: int, counts: np.ndarray
) -> list[Delta]:
    """run - baseline for macro F1, then for each class's F1, on the same resamples."""
    check_paired(run, baseline)
    return score_deltas(f1_scores(run, counts, num_classes), f1_scores(baseline, counts, num_classes))
