import numpy as np
import pytest

from astro.data.split import stratified_split


def test_stratified_disjoint_complete_and_deterministic():
    labels = np.repeat(np.arange(10), [108, 185, 264, 203, 33, 204, 183, 263, 142, 187])
    np.random.default_rng(0).shuffle(labels)
    parts = stratified_split(labels, (0.7, 0.15, 0.15), seed=42)
    joined = np.concatenate(list(parts.values()))
    assert len(joined) == len(labels) and len(np.unique(joined)) == len(labels)
    for cls in range(10):
        n = (labels == cls).sum()
        for name, share in zip(("train", "val", "test"), (0.7, 0.15, 0.15), strict=True):
            assert abs((labels[parts[name]] == cls).sum() - share * n) <= 1
    again = stratified_split(labels, (0.7, 0.15, 0.15), seed=42)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)
    other = stratified_split(labels, (0.7, 0.15, 0.15), seed=1)
    assert not np.array_equal(parts["test"], other["test"])


def test_rare_classes_do_not_break_the_split():
    labels = np.array([0] * 20 + [1] * 2 + [2])
    parts = stratified_split(labels)
    assert sum(len(v) for v in parts.values()) == 23


def test_bad_fractions():
    with pytest.raises(ValueError, match="sum"):
        stratified_split(np.zeros(10, int), (0.5, 0.5, 0.5))
