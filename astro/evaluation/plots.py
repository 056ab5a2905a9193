"""Matplotlib figures for reports: confusion matrix, ROC and PR curves, training curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import auc, precision_recall_curve, roc_curve


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def confusion_matrix_png(confusion: np.ndarray, names: tuple[str, ...], path: Path) -> Path:
    """Row-normalised confusion matrix (recall on the diagonal) annotated with counts."""
    rows = confusion.sum(1, keepdims=True).clip(min=1)
    share = confusion / rows
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * len(names), 0.8 + 0.7 * len(names)))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            colour = "white" if share[i, j] > 0.5 else "black"
            ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=7, color=colour)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(image, ax=ax, fraction=0.046, label="fraction of true class")
    return _save(fig, path)


def roc_curves_png(labels: np.ndarray, probs: np.ndarray, names: tuple[str, ...], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 6))
    for k, name in enumerate(names):
        positives = labels == k
        if 0 < positives.sum() < len(labels):
            fpr, tpr, _ = roc_curve(positives, probs[:, k])
            ax.plot(fpr, tpr, lw=1.2, label=f"{name} ({auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (one-vs-rest)")
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def pr_curves_png(labels: np.ndarray, probs: np.ndarray, names: tuple[str, ...], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 6))
    for k, name in enumerate(names):
        positives = labels == k
        if positives.any():
            precision, recall, _ = precision_recall_curve(positives, probs[:, k])
            ax.plot(recall, precision, lw=1.2, label=f"{name} (AP {auc(recall, precision):.3f})")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (one-vs-rest)")
    ax.legend(fontsize=7, loc="lower left")
    return _save(fig, path)


def training_curves_png(history: list[dict[str, float]], path: Path) -> Path:
    """Loss and validation macro F1 / accuracy per epoch."""
    epochs = [row["epoch"] for row in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(epochs, [r["train/loss"] for r in history], label="train")
    left.plot(epochs, [r["val/loss"] for r in history], label="val")
    left.set(xlabel="epoch", ylabel="loss", title="Loss")
    left.legend()
    right.plot(epochs, [r["val/macro_f1"] for r in history], label="val macro F1")
    right.plot(epochs, [r["val/accuracy"] for r in history], label="val accuracy")
    right.set(xlabel="epoch", ylim=(0, 1), title="Validation")
    right.legend()
    return _save(fig, path)


def reliability_png(before: dict, after: dict, path: Path) -> Path:
    """Reliability diagram: accuracy against confidence per bin, before and after temperature scaling."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    centres = (before["edges"][:-1] + before["edges"][1:]) / 2
    width = before["edges"][1] - before["edges"][0]
    for table, label, colour in (
        (before, "uncalibrated", "tab:red"),
        (after, "temperature-scaled", "tab:blue"),
    ):
        shown = table["count"] > 0
        ax.bar(
            centres[shown],
            table["accuracy"][shown],
            width=width * 0.9,
            alpha=0.45,
            color=colour,
            label=label,
            edgecolor=colour,
        )
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="perfect calibration")
    ax.set(
        xlabel="confidence (top-1 probability)",
        ylabel="accuracy",
        xlim=(0, 1),
        ylim=(0, 1),
        title="Reliability diagram",
    )
    ax.legend(fontsize=8, loc="upper left")
    return _save(fig, path)
