import numpy as np
import pytest

from astro.evaluation.calibration import expected_calibration_error, fit_temperature
from astro.evaluation.posthoc import softmax


def sampled(temperature: float, n: int = 4000, k: int = 5, seed: int = 0):
    """Labels drawn from softmax(z / T): the true temperature of these logits is T."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, (n, k))
    p = softmax(logits / temperature)
    labels = np.array([rng.choice(k, p=row) for row in p])
    return logits, labels


@pytest.mark.parametrize("true_t", [0.5, 1.0, 2.5])
def test_fit_temperature_recovers_the_generating_temperature(true_t):
    logits, labels = sampled(true_t)
    assert fit_temperature(logits, labels) == pytest.approx(true_t, rel=0.1)


def test_fit_temperature_warns_about_nothing(recwarn):
    fit_temperature(*sampled(1.0, n=200))
    assert not [w for w in recwarn if "requires_grad" in str(w.message)]


def test_temperature_scaling_lowers_ece_of_an_overconfident_model():
    logits, labels = sampled(2.5)
    raw = softmax(logits)  # pretends T = 1: overconfident
    fitted = softmax(logits / fit_temperature(logits, labels))
    assert expected_calibration_error(fitted, labels) < 0.5 * expected_calibration_error(raw, labels)
    assert expected_calibration_error(fitted, labels) < 0.03


def test_ece_is_zero_when_confidence_matches_accuracy():
    probs = np.array([[1.0, 0.0]] * 10)
    assert expected_calibration_error(probs, np.zeros(10, int)) == pytest.approx(0.0)
    assert expected_calibration_error(probs, np.ones(10, int)) == pytest.approx(1.0)
