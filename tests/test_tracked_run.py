from astro.training.tracked_run import run_name
from tests.conftest import compose_train


def test_run_name_rounds_a_proposed_gamma_to_three_significant_digits():
    cfg = compose_train(["loss.gamma=0.9575972518944614", "epochs=10"])
    assert run_name(cfg) == "AstroCNN-FocalLoss-g0.958-e10"
    assert run_name(compose_train(["loss.gamma=2.0", "epochs=20"])) == "AstroCNN-FocalLoss-g2-e20"


def test_an_explicit_run_name_wins():
    assert run_name(compose_train(["experiment=run1"])) == "run1"
