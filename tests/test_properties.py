"""Property-based tests (hypothesis) for the loss, sampler, split and preprocessing."""

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from astro.data.split import stratified_split
from astro.data.transforms import resize_batch
from astro.training.losses import FocalLoss
from astro.training.samplers import weighted

FAST = settings(max_examples=60, deadline=None)
logit = st.floats(-1e4, 1e4, allow_nan=False, width=32)


@FAST
@given(
    logits=arrays(np.float32, st.tuples(st.integers(1, 16), st.integers(2, 12)), elements=logit),
    gamma=st.floats(0.0, 6.0),
    seed=st.integers(0, 2**16),
)
def test_focal_loss_is_finite_and_non_negative(logits, gamma, seed):
    x = torch.from_numpy(logits)
    target = torch.randint(0, x.shape[1], (x.shape[0],), generator=torch.Generator().manual_seed(seed))
    per_sample = FocalLoss(gamma=gamma, reduction="none")(x, target)
    assert torch.isfinite(per_sample).all() and (per_sample >= 0).all()


@FAST
@given(
    logits=arrays(np.float32, st.tuples(st.integers(1, 16), st.integers(2, 12)), elements=st.floats(-50, 50)),
    seed=st.integers(0, 2**16),
)
def test_focal_loss_at_gamma_zero_is_cross_entropy(logits, seed):
    x = torch.from_numpy(logits)
    target = torch.randint(0, x.shape[1], (x.shape[0],), generator=torch.Generator().manual_seed(seed))
    assert torch.allclose(FocalLoss(gamma=0.0)(x, target), F.cross_entropy(x, target), rtol=1e-5, atol=1e-6)


@FAST
@given(gamma=st.floats(0.0, 6.0), margins=st.lists(st.floats(-20, 20), min_size=2, max_size=20, unique=True))
def test_focal_loss_decreases_as_the_true_class_probability_grows(gamma, margins):
    margins = sorted(margins)
    logits = torch.tensor([[m, 0.0, 0.0] for m in margins])  # p_t increases with the margin
    losses = FocalLoss(gamma=gamma, reduction="none")(logits, torch.zeros(len(margins), dtype=torch.long))
    assert (losses[1:] <= losses[:-1] + 1e-6).all()


@settings(max_examples=20, deadline=None)
@given(counts=st.lists(st.integers(1, 400), min_size=2, max_size=8), seed=st.integers(0, 2**16))
def test_weighted_sampler_frequencies_converge_to_uniform(counts, seed):
    labels = np.repeat(np.arange(len(counts)), counts)
    sampler = weighted(labels, torch.Generator().manual_seed(seed), num_samples=20_000)
    share = np.bincount(labels[list(sampler)], minlength=len(counts)) / 20_000
    assert np.abs(share - 1 / len(counts)).max() < 0.03


@FAST
@given(
    counts=st.lists(st.integers(0, 60), min_size=1, max_size=10).filter(lambda c: sum(c) > 0),
    fractions=st.sampled_from([(0.7, 0.15, 0.15), (0.8, 0.1, 0.1), (0.6, 0.2, 0.2), (1.0, 0.0, 0.0)]),
    seed=st.integers(0, 2**16),
)
def test_split_is_stratified_disjoint_complete_and_deterministic(counts, fractions, seed):
    labels = np.random.default_rng(seed).permutation(np.repeat(np.arange(len(counts)), counts))
    parts = stratified_split(labels, fractions, seed)
    joined = np.concatenate(list(parts.values()))
    assert sorted(joined.tolist()) == list(range(len(labels)))
    for cls, n in enumerate(counts):
        for name, share in zip(("train", "val", "test"), fractions, strict=True):
            assert abs(int((labels[parts[name]] == cls).sum()) - share * n) <= 1
    again = stratified_split(labels, fractions, seed)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)


@settings(max_examples=30, deadline=None)
@given(
    height=st.integers(1, 300),
    width=st.integers(1, 300),
    size=st.sampled_from([16, 32, 64]),
    method=st.sampled_from(["area", "bilinear", "bicubic", "nearest"]),
)
def test_resize_gives_a_fixed_uint8_tensor_for_any_input_size(height, width, size, method):
    images = torch.randint(0, 256, (2, height, width, 3), dtype=torch.uint8)
    out = resize_batch(images, size, method)
    assert out.shape == (2, 3, size, size) and out.dtype == torch.uint8
