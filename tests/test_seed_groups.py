"""Seed groups on constructed runs: grouping ignores seed, the mean ± sd is the seeds', and the interval
of a group difference excludes 0 only when the groups really differ."""

from __future__ import annotations

import numpy as np
import pytest

from astro.comparison.seed_groups import group_deltas, group_key, seed_groups, varies_seed
from astro.evaluation.bootstrap import SplitPredictions, f1_scores, resample_counts


def test_the_group_key_ignores_seed_only():
    assert group_key(["loss.gamma=3.0", "seed=2", "+seed_pair=run2"]) == "loss.gamma=3.0 +seed_pair=run2"
    assert varies_seed([["a=1", "seed=1"], ["a=1", "seed=2"]])
    assert not varies_seed([["a=1", "seed=1"], ["a=2", "seed=1"]])


def scores(accuracies: list[float], counts: np.ndarray, labels: np.ndarray, rng) -> list[np.ndarray]:
    out = []
    for accuracy in accuracies:
        wrong = rng.random(len(labels)) > accuracy
        out.append(f1_scores(SplitPredictions(labels, np.where(wrong, (labels + 1) % 3, labels)), counts, 3))
    return out


@pytest.fixture
def grouped():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 500)
    counts = resample_counts(len(labels), resamples=400)
    keys = ["a", "a", "a", "b", "b", "b", "c", "c", "c"]
    accuracies = [0.70, 0.72, 0.71, 0.90, 0.91, 0.89, 0.70, 0.71, 0.72]
    return seed_groups(keys, scores(accuracies, counts, labels, rng))


def test_runs_are_grouped_in_order_with_the_seeds_mean_and_sd(grouped):
    assert [(g.key, g.seeds) for g in grouped] == [("a", 3), ("b", 3), ("c", 3)]
    mean, sd = grouped[0].mean_sd()
    observed = grouped[0].scores[:, 0, 0]
    assert (mean, sd) == pytest.approx((observed.mean(), observed.std(ddof=1)))


def test_a_better_group_excludes_zero_and_a_repeat_is_within_noise(grouped):
    a, b, c = grouped
    better = group_deltas(b, a)[0]
    assert better.low > 0 and better.value == pytest.approx(b.mean_sd()[0] - a.mean_sd()[0])
    assert group_deltas(c, a)[0].within_noise
    assert len(group_deltas(c, a)) == 4
