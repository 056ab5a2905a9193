import numpy as np
import torch

from astro.training.samplers import shuffle, weighted


def test_weighted_sampler_balances_classes():
    labels = np.repeat(np.arange(4), [800, 100, 50, 50])
    sampler = weighted(labels, generator=torch.Generator().manual_seed(0))
    drawn = labels[list(sampler)]
    assert len(drawn) == len(labels)
    share = np.bincount(drawn, minlength=4) / len(drawn)
    assert np.abs(share - 0.25).max() < 0.05


def test_shuffle_is_a_permutation():
    labels = np.arange(20) % 3
    order = list(shuffle(labels, generator=torch.Generator().manual_seed(0)))
    assert sorted(order) == list(range(20)) and order != list(range(20))
