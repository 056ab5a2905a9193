"""Seed groups: runs that differ only in `seed` are repeats of one configuration.

A configuration's score is its mean across seeds (with the seeds' sd), and the difference between two
configurations gets an interval that accounts for both sources of noise: each bootstrap replicate
resamples the seeds within each group and the test images (the same images for every run).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from astro.evaluation.bootstrap import Delta, interval


@dataclass(frozen=True)
class SeedGroup:
    """One configuration's runs: its overrides without seed, and each run's F1 scores on every resample
    (runs, resamples + 1, 1 + classes) from paired_bootstrap.f1_scores (row 0: the test split itself)."""

    key: str
    scores: np.ndarray

    @property
    def seeds(self) -> int:
        return self.scores.shape[0]

    def mean_sd(self, column: int = 0) -> tuple[float, float]:
        """Mean and sd (ddof 1; 0 for one seed) across seeds of the observed score."""
        observed = self.scores[:, 0, column]
        return float(observed.mean()), float(observed.std(ddof=1)) if self.seeds > 1 else 0.0


def group_key(overrides: Sequence[str]) -> str:
    """The overrides that define a configuration: all but seed=..."""
    return " ".join(o for o in overrides if o.split("=", 1)[0].lstrip("+~") != "seed")


def varies_seed(overrides: Sequence[Sequence[str]]) -> bool:
    """Whether any two runs differ in seed alone (then seed groups are worth reporting)."""
    keys = [group_key(o) for o in overrides]
    return len(set(keys)) < len(keys)


def seed_groups(keys: Sequence[str], scores: Sequence[np.ndarray]) -> list[SeedGroup]:
    """Runs grouped by key, groups in order of first appearance."""
    order = list(dict.fromkeys(keys))
    return [
        SeedGroup(key, np.stack([s for k, s in zip(keys, scores, strict=True) if k == key])) for key in order
    ]


def _resampled_means(group: SeedGroup, rng: np.random.Generator) -> np.ndarray:
    """Per replicate, the mean over seeds drawn with replacement; row 0 keeps every seed once."""
    replicates = group.scores.shape[1]
    picks = rng.integers(0, group.seeds, (replicates, group.seeds))
    means = group.scores[picks, np.arange(replicates)[:, None]].mean(1)
    means[0] = group.scores[:, 0].mean(0)
    return means


def group_deltas(group: SeedGroup, baseline: SeedGroup, seed: int = 0) -> list[Delta]:
    """group - baseline of the seed-mean score, macro F1 then each class, seeds and images resampled."""
    rng = np.random.default_rng(seed)
    differences = _resampled_means(group, rng) - _resampled_means(baseline, rng)
    return [interval(differences[:, column]) for column in range(differences.shape[1])]
