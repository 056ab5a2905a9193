"""Stratified train/val/test split, exact per class (largest remainder) and deterministic for a seed.

Written here rather than with sklearn's train_test_split because that refuses classes with fewer than
two members, which tiny smoke data sets and rare classes hit.
"""

from __future__ import annotations

import numpy as np

SPLITS = ("train", "val", "test")


def stratified_split(
    labels: np.ndarray, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15), seed: int = 42
) -> dict[str, np.ndarray]:
    """Return sorted index arrays per split; each class is divided in the given proportions."""
    shares = np.asarray(fractions, dtype=float)
    if shares.shape != (3,) or (shares < 0).any() or not np.isclose(shares.sum(), 1.0):
        raise ValueError(f"split fractions {tuple(fractions)} must be 3 non-negative values summing to 1")
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SPLITS}
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        counts = _apportion(len(members), shares)
        for name, chunk in zip(SPLITS, np.split(members, np.cumsum(counts)[:-1]), strict=True):
            parts[name].append(chunk)
    return {name: np.sort(np.concatenate(chunks)).astype(np.int64) for name, chunks in parts.items()}


def _apportion(n: int, shares: np.ndarray) -> np.ndarray:
    exact = shares * n
    counts = np.floor(exact).astype(int)
    counts[np.argsort(exact - counts, kind="stable")[::-1][: n - counts.sum()]] += 1
    return counts
