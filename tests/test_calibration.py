import numpy as np
import pytest

from astro.calibration import expected_calibration_error, fit_temperature, logit_adjust, posthoc, softmax


def sampled(temperature: float, n: int = 4000, k: int = 5, seed: int = 0):
    """Labels drawn from softmax(z / T): the true temperature of these logits is T."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, (n, k))
    p = softmax(logits, temperature)
    labels = np.array([rng.choice(k, p=row) for row in p])
    return logits, labels


@pytest.mark.parametrize("true_t", [0.5, 1.0, 2.5])
def test_fit_temperature_recovers_the_generating_temperature(true_t):
    logits, labels = sampled(true_t)
    assert fit_temperature(logits, labels) == pytest.approx(true_t, rel=0.1)


def test_temperature_scaling_lowers_ece_of_an_overconfident_model():
    logits, labels = sampled(2.5)
    raw = softmax(logits)  # pretends T = 1: overconfident
    fitted = softmax(logits, fit_temperature(logits, labels))
    assert expected_calibration_error(fitted, labels) < 0.5 * expected_calibration_error(raw, labels)
    assert expected_calibration_error(fitted, labels) < 0.03


def test_ece_is_zero_when_confidence_matches_accuracy():
    probs = np.array([[1.0, 0.0]] * 10)
    assert expected_calibration_error(probs, np.zeros(10, int)) == pytest.approx(0.0)
    assert expected_calibration_error(probs, np.ones(10, int)) == pytest.approx(1.0)


def test_logit_adjustment_moves_predictions_towards_rare_classes():
    probs = np.array([[0.6, 0.4]])
    prior = np.array([0.9, 0.1])
    assert np.array_equal(logit_adjust(probs, prior, 0.0), probs)
    adjusted = logit_adjust(probs, prior, 1.0)
    assert adjusted.argmax() == 1 and adjusted.sum() == pytest.approx(1.0)


def test_posthoc_applies_the_checkpoints_steps():
    probs = np.array([[0.7, 0.2, 0.1]])
    assert np.allclose(posthoc(probs, {}), probs)
    softer = posthoc(probs, {"temperature": 3.0})
    assert softer.max() < probs.max() and softer.argmax() == 0
