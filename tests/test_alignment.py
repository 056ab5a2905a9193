"""Train-time adaptation's pieces (astro.adaptation.alignment, features; astro.training.aligned_step):
the alignment terms are finite and fall on a constructed shift, the features are what enters the head,
and an adapted step is deterministic for a seed."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from astro.adaptation.alignment import (
    AdversarialAlignment,
    CoralAlignment,
    GradientReversal,
    MMDAlignment,
    ramp,
)
from astro.adaptation.features import FeatureTap, feature_layer, feature_width
from astro.data.unlabeled import TargetBatches
from astro.errors import ConfigError
from astro.models.astro_cnn import AstroCNN
from astro.models.small_resnet import SmallResNet
from astro.training.aligned_step import AlignedStep, trainable_parameters


def shifted_clouds(n: int = 256, d: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Source features ~ N(0, I); target features shifted by 2 and stretched along half the axes."""
    g = torch.Generator().manual_seed(seed)
    source = torch.randn(n, d, generator=g)
    scale = torch.ones(d)
    scale[: d // 2] = 3.0
    return source, torch.randn(n, d, generator=g) * scale + 2.0


@pytest.mark.parametrize("alignment", [MMDAlignment(16, 4), CoralAlignment(16, 4)], ids=["mmd", "coral"])
def test_distance_is_finite_and_falls_as_a_map_aligns_the_target(alignment):
    """Learning an affine map of the target features against the distance alone brings it down."""
    source, target = shifted_clouds(n=64)
    assert alignment.distance(source[:32], source[32:]) < alignment.distance(source, target)
    mapping = nn.Linear(16, 16)
    with torch.no_grad():
        mapping.weight.copy_(torch.eye(16))
        mapping.bias.zero_()
    optimizer = torch.optim.Adam(mapping.parameters(), lr=0.05)
    before = alignment.distance(source, mapping(target)).item()
    for _ in range(150):
        loss = alignment.distance(source, mapping(target))
        assert torch.isfinite(loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = alignment.distance(source, mapping(target)).item()
    assert after < 0.3 * before


def test_adversarial_alignment_learns_the_domains_and_reverses_their_gradient():
    source, target = shifted_clouds()
    dann = AdversarialAlignment(16, 4, weight=1.0)
    optimizer = torch.optim.Adam(dann.parameters(), lr=0.01)
    first = dann.distance(source, target).item()
    for _ in range(100):
        loss, _ = dann(source, target, progress=1.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert dann.distance(source, target).item() < 0.5 * first  # the domain classifier tells them apart
    features = target.clone().requires_grad_()
    plain = dann._domain_loss(torch.cat([source, features]), len(source))
    (towards,) = torch.autograd.grad(plain, features)
    features.grad = None
    loss, distance = dann(source, features, progress=1.0)
    (reversed_grad,) = torch.autograd.grad(loss, features)
    assert torch.allclose(reversed_grad, -ramp(1.0) * towards, atol=1e-6)
    assert distance == pytest.approx(plain.item())


def test_the_term_ramps_up_from_zero_and_the_weight_is_checked():
    source, target = shifted_clouds()
    term, distance = MMDAlignment(16, 4, weight=2.0)(source, target, progress=0.0)
    assert term.item() == 0.0 and distance > 0
    term, distance = MMDAlignment(16, 4, weight=2.0)(source, target, progress=1.0)
    assert term.item() == pytest.approx(2.0 * ramp(1.0) * distance.item(), rel=1e-5)
    assert ramp(0.5) > 0.98 and 0.4 < ramp(0.1) < 0.5
    x = torch.ones(3, requires_grad=True)
    GradientReversal.apply(x, 0.5).sum().backward()
    assert torch.equal(x.grad, torch.full((3,), -0.5))
    with pytest.raises(ConfigError, match=r"adapt\.weight=-1"):
        CoralAlignment(16, 4, weight=-1)


@pytest.mark.parametrize(
    ("model", "width"),
    [
        (AstroCNN(num_classes=4), 256),
        (SmallResNet(num_classes=4), None),
        (torchvision.models.resnet18(weights=None, num_classes=4), 512),
    ],
    ids=["astro_cnn", "small_resnet", "resnet18"],
)
def test_the_tap_keeps_one_feature_vector_per_image_as_wide_as_the_head_reads(model, width):
    tap = FeatureTap(model.eval())
    with torch.no_grad():
        model(torch.randn(3, 3, 64, 64))
    assert tap.features.shape == (3, feature_width(model))
    assert width is None or feature_width(model) == width
    tap.close()
    with pytest.raises(ConfigError, match="no classification head"):
        feature_layer(nn.Sequential(nn.Flatten()))


def adapted_steps(seed: int, steps: int = 3) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """A few adapted (DANN) optimisation steps of AstroCNN from `seed`; the weights and the epoch row."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = AstroCNN(num_classes=3, widths=(8, 8, 8, 8), hidden=8)
    alignment = AdversarialAlignment(feature_width(model), 3, hidden=8, class_weighted=True)
    target = TargetBatches(
        torch.randint(0, 255, (20, 3, 32, 32), dtype=torch.uint8),
        4,
        lambda x: x.float() / 255,
        torch.device("cpu"),
        generator,
    )
    step = AlignedStep(model, alignment, target)
    optimizer = torch.optim.SGD(trainable_parameters(model, alignment), lr=0.1)
    model.train()
    for i in range(steps):
        x = torch.rand(4, 3, 32, 32, generator=generator)
        y = torch.randint(0, 3, (4,), generator=generator)
        loss = step.loss(model, nn.CrossEntropyLoss(), x, y, progress=(i + 1) / steps)
        assert torch.isfinite(loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    weights = {k: v.clone() for k, v in {**model.state_dict(), **alignment.state_dict()}.items()}
    return weights, step.end_epoch()


def test_an_adapted_step_is_deterministic_for_a_seed_and_trains_the_domain_classifier():
    first, row = adapted_steps(seed=3)
    again, _ = adapted_steps(seed=3)
    other, _ = adapted_steps(seed=4)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)
    assert set(row) == {"train/dann_distance"} and row["train/dann_distance"] > 0
    torch.manual_seed(3)
    untouched = AdversarialAlignment(8, 3, hidden=8).state_dict()
    assert not torch.equal(untouched["discriminator.0.weight"], first["discriminator.0.weight"])


@pytest.mark.parametrize(
    "cls", [MMDAlignment, CoralAlignment, AdversarialAlignment], ids=["mmd", "coral", "dann"]
)
def test_class_weights_undo_a_label_shift_between_the_surveys(cls):
    """Source: two classes half and half; target: the same two classes 9 to 1. Weighting the source by the
    target's proportions brings the distance down to that of two samples of one survey; unit weights
    change nothing."""
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[3.0] * 8, [-3.0] * 8])
    labels = torch.tensor([0] * 100 + [1] * 100)
    source = centres[labels] + torch.randn(200, 8, generator=g)
    target = centres[torch.tensor([0] * 180 + [1] * 20)] + torch.randn(200, 8, generator=g)
    torch.manual_seed(0)
    alignment = cls(8, 2, class_weighted=True)
    with torch.no_grad():
        alignment.target_prior.copy_(torch.tensor([0.5, 0.5]))
        for _ in range(600):  # the running mean of the target's predicted classes: 90% class 0
            weights = alignment.source_weights(labels, torch.tensor([[4.0, 0.0]] * 9 + [[0.0, 4.0]]))
    assert weights[:100].mean() > 5 * weights[100:].mean() and weights.mean() == pytest.approx(1.0)
    if cls is AdversarialAlignment:
        return  # its distance is a trained classifier's loss; the weights enter it as per-image weights
    plain, weighted = alignment.distance(source, target), alignment.distance(source, target, weights)
    assert torch.allclose(alignment.distance(source, target, torch.ones(200)), plain)
    assert weighted < 0.5 * plain
