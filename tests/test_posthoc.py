import numpy as np
import pytest

from astro.checkpoint.card import PosthocSteps
from astro.evaluation.posthoc import apply_posthoc, fit_posthoc, softmax, uncalibrated


def test_no_steps_is_the_plain_softmax():
    logits = np.array([[2.0, 0.5, -1.0]])
    assert np.allclose(apply_posthoc(logits, PosthocSteps()), softmax(logits))


def test_logit_adjustment_moves_predictions_towards_rare_classes():
    logits = np.log(np.array([[0.6, 0.4]]))
    prior = (0.9, 0.1)
    assert np.allclose(apply_posthoc(logits, PosthocSteps(tau=0.0, prior=prior)), [[0.6, 0.4]])
    adjusted = apply_posthoc(logits, PosthocSteps(tau=1.0, prior=prior))
    expected = np.array([0.6 / 0.9, 0.4 / 0.1])
    assert adjusted.argmax() == 1 and adjusted[0] == pytest.approx(expected / expected.sum())


def test_temperature_softens_but_never_changes_the_top_class():
    logits = np.array([[3.0, 1.0, 0.0], [0.0, 2.0, 1.5]])
    softer = apply_posthoc(logits, PosthocSteps(temperature=3.0))
    plain = apply_posthoc(logits, PosthocSteps())
    assert (softer.max(1) < plain.max(1)).all() and (softer.argmax(1) == plain.argmax(1)).all()


def test_fit_posthoc_fits_the_temperature_after_the_adjustment():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, (3000, 4))  # overconfident: the labels follow softmax(z / 2)
    labels = np.array([rng.choice(4, p=p) for p in softmax(logits / 2.0)])
    steps = fit_posthoc(logits, labels, np.full(4, 0.25), tau=1.0)
    assert (
        steps.tau == 1.0 and steps.prior == (0.25,) * 4 and steps.temperature == pytest.approx(2.0, rel=0.1)
    )
    assert uncalibrated(steps).temperature is None and uncalibrated(steps).tau == 1.0
