import pytest
import torch
import torch.nn.functional as F

from astro.errors import ConfigError
from astro.training.losses import CrossEntropy, FocalLoss, class_weights


def test_gamma_zero_without_alpha_equals_cross_entropy():
    torch.manual_seed(0)
    logits, target = torch.randn(64, 10) * 3, torch.randint(0, 10, (64,))
    assert torch.allclose(FocalLoss(gamma=0.0)(logits, target), F.cross_entropy(logits, target))


@pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0, 3.0])
def test_matches_the_direct_formula(gamma):
    torch.manual_seed(1)
    logits, target = torch.randn(32, 10) * 2, torch.randint(0, 10, (32,))
    alpha = torch.rand(10) + 0.5
    p_t = logits.softmax(1)[torch.arange(32), target]
    expected = (-alpha[target] * (1 - p_t) ** gamma * torch.log(p_t)).mean()
    loss = FocalLoss(gamma=gamma, alpha=alpha.tolist())(logits, target)
    assert torch.allclose(loss, expected, rtol=1e-5, atol=1e-7)


def test_reductions():
    logits, target = torch.randn(8, 10), torch.randint(0, 10, (8,))
    per_sample = FocalLoss(reduction="none")(logits, target)
    assert per_sample.shape == (8,)
    assert torch.allclose(FocalLoss(reduction="sum")(logits, target), per_sample.sum())


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
def test_finite_loss_and_gradients_for_extreme_logits(gamma):
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0], [0.0, 0.0, -1e4]], requires_grad=True)
    target = torch.tensor([0, 0, 2])
    loss = FocalLoss(gamma=gamma)(logits, target)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    assert loss > 1e3  # the wrong, confident predictions dominate


def test_higher_gamma_down_weights_easy_examples():
    logits, target = torch.tensor([[4.0, 0.0, 0.0]]), torch.tensor([0])
    losses = [FocalLoss(gamma=g)(logits, target).item() for g in (0.0, 1.0, 2.0, 3.0)]
    assert losses == sorted(losses, reverse=True)


def test_inverse_frequency_weights():
    weights = class_weights("inverse_frequency", [100, 10, 1])
    assert torch.isclose(weights.mean(), torch.tensor(1.0))
    assert weights[2] / weights[0] == pytest.approx(100.0)


def test_alpha_list_of_the_wrong_length_is_a_config_error():
    with pytest.raises(ConfigError, match="3 values but the data has 10 classes"):
        FocalLoss(alpha=[1.0, 2.0, 3.0], class_counts=[5] * 10)


def test_unknown_alpha_is_a_config_error():
    with pytest.raises(ConfigError, match="inverse_frequency"):
        FocalLoss(alpha="balanced", class_counts=[1, 2])


def test_cross_entropy_with_label_smoothing_and_weights():
    logits, target = torch.randn(16, 4), torch.randint(0, 4, (16,))
    counts = [10, 20, 30, 40]
    loss = CrossEntropy(weight="inverse_frequency", label_smoothing=0.1, class_counts=counts)
    expected = F.cross_entropy(
        logits, target, weight=class_weights("inverse_frequency", counts), label_smoothing=0.1
    )
    assert torch.allclose(loss(logits, target), expected)


def test_effective_number_weights_sit_between_uniform_and_inverse_frequency():
    counts = [1000, 100, 10]
    uniform = class_weights("effective_number", counts, beta=0.0)
    assert torch.allclose(uniform, torch.ones(3))
    cb = class_weights("effective_number", counts, beta=0.99)
    inverse = class_weights("inverse_frequency", counts)
    assert cb[2] > cb[1] > cb[0]
    assert cb[2] / cb[0] < inverse[2] / inverse[0]
