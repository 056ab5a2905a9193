import numpy as np
import pytest

from astro.evaluation.metrics import classification_report, quick_metrics


def test_report_values_on_a_known_case():
    labels = np.array([0, 0, 1, 1, 2, 2])
    probs = np.array(
        [
            [0.8, 0.1, 0.1],
            [0.2, 0.7, 0.1],
            [0.1, 0.8, 0.1],
            [0.1, 0.6, 0.3],
            [0.1, 0.1, 0.8],
            [0.3, 0.3, 0.4],
        ]
    )
    report = classification_report(labels, probs, ("a", "b", "c"))
    assert report.accuracy == pytest.approx(5 / 6)
    # class a: P=1 R=0.5 F1=2/3; class b: P=2/3 R=1 F1=0.8; class c: P=1 R=1 F1=1
    assert report.macro_f1 == pytest.approx((2 / 3 + 0.8 + 1.0) / 3)
    assert report.per_class[1]["precision"] == pytest.approx(2 / 3)
    assert report.confusion.tolist() == [[1, 1, 0], [0, 2, 0], [0, 0, 2]]
    assert 0.5 < report.macro_auc <= 1.0
    scalars = report.scalars("test")
    assert scalars["test/f1/c"] == pytest.approx(1.0)


def test_auc_skips_classes_absent_from_the_labels():
    labels = np.array([0, 0, 1, 1])
    probs = np.array([[0.9, 0.1, 0.0], [0.6, 0.4, 0.0], [0.3, 0.7, 0.0], [0.2, 0.8, 0.0]])
    report = classification_report(labels, probs, ("a", "b", "c"))
    assert report.macro_auc == pytest.approx(1.0)
    assert np.isnan(report.per_class[2]["auc"])
    assert "test/auc/c" not in report.scalars("test")


def test_quick_metrics_counts_missing_predictions_as_zero_f1():
    labels = np.array([0, 1, 2])
    probs = np.eye(3)[[0, 1, 1]]
    metrics = quick_metrics(labels, probs, 3)
    assert metrics["accuracy"] == pytest.approx(2 / 3)
    assert metrics["macro_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)


def test_bootstrap_interval_brackets_the_estimate_and_shrinks_with_more_data():
    from astro.evaluation.metrics import bootstrap_intervals

    rng = np.random.default_rng(0)

    def case(n):
        labels = rng.integers(0, 4, n)
        pred = np.where(rng.random(n) < 0.7, labels, rng.integers(0, 4, n))
        return labels, np.eye(4)[pred]

    small_labels, small_probs = case(200)
    big_labels, big_probs = case(5000)
    small = bootstrap_intervals(small_labels, small_probs, 4, samples=300)
    big = bootstrap_intervals(big_labels, big_probs, 4, samples=300)
    point = classification_report(small_labels, small_probs, ("a", "b", "c", "d"))
    assert small["macro_f1"][0] <= point.macro_f1 <= small["macro_f1"][1]
    assert small["accuracy"][0] <= point.accuracy <= small["accuracy"][1]
    assert np.diff(big["macro_f1"])[0] < np.diff(small["macro_f1"])[0]
    for row, c in zip(point.per_class, range(4), strict=True):
        low, high = small[f"f1[{c}]"]
        assert low <= row["f1"] <= high and high - low < 0.3
