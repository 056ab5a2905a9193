"""Paired bootstrap on constructed runs whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from astro.errors import AstroError
from astro.evaluation.bootstrap import SplitPredictions, f1_scores, paired_deltas, resample_counts


def runs(accuracy_a: float, accuracy_b: float, n: int = 600, k: int = 3, seed: int = 0):
    """Two runs on the same labels that are right on the given share of images (wrong: the next class)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)

    def run(accuracy: float) -> SplitPredictions:
        wrong = rng.random(n) > accuracy
        return SplitPredictions(labels, np.where(wrong, (labels + 1) % k, labels))

    return run(accuracy_a), run(accuracy_b)


def test_scores_on_the_split_itself_match_scikit_learn():
    run, _ = runs(0.7, 0.7)
    scores = f1_scores(run, resample_counts(len(run.labels), resamples=5), 3)
    assert scores[0, 0] == pytest.approx(f1_score(run.labels, run.predicted, average="macro"))
    assert scores[0, 1:] == pytest.approx(f1_score(run.labels, run.predicted, average=None))


def test_an_identical_pair_is_delta_zero_within_noise():
    run, _ = runs(0.7, 0.7)
    deltas = paired_deltas(run, run, 3, resample_counts(len(run.labels), resamples=200))
    assert all(d.value == 0 and d.low == 0 and d.high == 0 and d.within_noise for d in deltas)
    assert "(within noise)" in deltas[0].cell()


def test_a_clearly_better_run_has_an_interval_that_excludes_zero():
    worse, better = runs(0.6, 0.9)
    deltas = paired_deltas(better, worse, 3, resample_counts(len(worse.labels), resamples=500))
    assert all(d.low > 0 and not d.within_noise for d in deltas)
    assert deltas[0].low < deltas[0].value < deltas[0].high


def test_runs_on_different_test_splits_cannot_be_paired():
    a, _ = runs(0.7, 0.7, seed=1)
    b, _ = runs(0.7, 0.7, seed=2)
    with pytest.raises(AstroError, match="different test splits"):
        paired_deltas(a, b, 3, resample_counts(len(a.labels), resamples=5))
