"""Classification metrics computed with scikit-learn from predicted probabilities."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from astro.evaluation.bootstrap import SplitPredictions, f1_scores, resample_counts


@dataclass
class ClassificationReport:
    class_names: tuple[str, ...]
    accuracy: float
    macro_f1: float
    macro_auc: float
    per_class: list[dict[str, float | int | str]] = field(default_factory=list)
    confusion: np.ndarray | None = None
    extra: dict[str, float] = field(default_factory=dict)

    def scalars(self, prefix: str) -> dict[str, float]:
        """Flat metric dict for a tracker, e.g. test/macro_f1 and test/f1/<class>."""
        out = {
            f"{prefix}/accuracy": self.accuracy,
            f"{prefix}/macro_f1": self.macro_f1,
            f"{prefix}/macro_auc": self.macro_auc,
            **{f"{prefix}/{key}": value for key, value in self.extra.items()},
        }
        for row in self.per_class:
            for key in ("precision", "recall", "f1", "auc"):
                value = float(row[key])
                if np.isfinite(value):
                    out[f"{prefix}/{key}/{row['class']}"] = value
        return out


def quick_metrics(labels: np.ndarray, probs: np.ndarray, num_classes: int) -> dict[str, float]:
    """The per-epoch metrics: accuracy and macro F1 over all classes."""
    pred = probs.argmax(1)
    return {
        "accuracy": float(accuracy_score(labels, pred)),
        "macro_f1": float(
            f1_score(labels, pred, labels=range(num_classes), average="macro", zero_division=0)
        ),
    }


def per_class_auc(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """One-vs-rest ROC-AUC per class; NaN where a class has no positives or no negatives."""
    aucs = np.full(probs.shape[1], np.nan)
    for k in range(probs.shape[1]):
        positives = labels == k
        if 0 < positives.sum() < len(labels):
            aucs[k] = roc_auc_score(positives, probs[:, k])
    return aucs


def classification_report(
    labels: np.ndarray, probs: np.ndarray, class_names: tuple[str, ...]
) -> ClassificationReport:
    """Full report; macro AUC averages the classes for which AUC is defined."""
    k = len(class_names)
    pred = probs.argmax(1)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, pred, labels=range(k), zero_division=0
    )
    aucs = per_class_auc(labels, probs)
    rows = [
        {
            "class": name,
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "auc": float(aucs[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(class_names)
    ]
    finite = aucs[np.isfinite(aucs)]
    return ClassificationReport(
        class_names=tuple(class_names),
        accuracy=float(accuracy_score(labels, pred)),
        macro_f1=float(f1.mean()),
        macro_auc=float(finite.mean()) if len(finite) else float("nan"),
        per_class=rows,
        confusion=confusion_matrix(labels, pred, labels=range(k)),
    )


def bootstrap_intervals(
    labels: np.ndarray, probs: np.ndarray, num_classes: int, samples: int = 1000, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """95% percentile-bootstrap intervals for macro F1, accuracy and each class's F1 (key `f1[<index>]`),
    test images resampled with replacement, so differences between runs can be judged against the
    sampling noise. The resamples are the paired comparison's (astro.evaluation.bootstrap), for one run."""
    run = SplitPredictions(labels, probs.argmax(1))
    counts = resample_counts(len(labels), samples, seed)[1:]
    scores = f1_scores(run, counts, num_classes)
    accuracy = counts @ (run.labels == run.predicted) / len(labels)
    interval = lambda values: (float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5)))  # noqa: E731
    classes = {f"f1[{c}]": interval(scores[:, 1 + c]) for c in range(num_classes)}
    return {"macro_f1": interval(scores[:, 0]), "accuracy": interval(accuracy), **classes}
