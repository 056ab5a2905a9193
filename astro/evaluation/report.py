"""Evaluation report of one model on one split: headline metrics with bootstrap CIs, per-class table,
calibration, confusion matrix, ROC and PR curves (report.md, metrics.json, per_class.csv, PNGs).

The logits go through the checkpoint's post-hoc steps (astro.evaluation.posthoc). Metrics are computed
before the temperature (it never changes the top-1 class; ROC/PR curves are conventionally read
uncalibrated), the reliability diagram compares before and after it, and predictions.npz keeps the logits
and the calibrated probabilities a user gets."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from astro.checkpoint.card import PosthocSteps
from astro.evaluation.calibration import calibration_section
from astro.evaluation.forward import Predictions
from astro.evaluation.metrics import ClassificationReport, bootstrap_intervals, classification_report
from astro.evaluation.plots import confusion_matrix_png, pr_curves_png, roc_curves_png
from astro.evaluation.posthoc import apply_posthoc, uncalibrated


def write_report(
    predictions: Predictions,
    steps: PosthocSteps,
    class_names: tuple[str, ...],
    out_dir: str | Path,
    title: str,
    context: dict[str, str] | None = None,
) -> ClassificationReport:
    """Compute the report with scikit-learn and write report.md, metrics.json, per_class.csv, PNGs."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels, probs = predictions.labels, apply_posthoc(predictions.logits, uncalibrated(steps))
    report = classification_report(labels, probs, class_names)
    low_high = bootstrap_intervals(labels, probs, len(class_names))
    for index, row in enumerate(report.per_class):
        row["f1_ci_low"], row["f1_ci_high"] = low_high.pop(f"f1[{index}]")
    for name, (low, high) in low_high.items():
        report.extra[f"{name}_ci_low"], report.extra[f"{name}_ci_high"] = low, high
    calibrated = apply_posthoc(predictions.logits, steps)
    if steps.temperature is not None:
        report.extra["temperature"] = steps.temperature
        report.extra.update(calibration_section(probs, calibrated, labels, out / "reliability.png"))
    np.savez_compressed(out / "predictions.npz", labels=labels, logits=predictions.logits, probs=calibrated)
    with open(out / "per_class.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(report.per_class[0]))
        writer.writeheader()
        writer.writerows(report.per_class)
    summary = {
        "accuracy": report.accuracy,
        "macro_f1": report.macro_f1,
        "macro_auc": report.macro_auc,
        **report.extra,
        "num_images": len(labels),
        "per_class": report.per_class,
        "confusion": report.confusion.tolist(),
        **(context or {}),
    }
    (out / "metrics.json").write_text(json.dumps(summary, indent=2))
    confusion_matrix_png(report.confusion, class_names, out / "confusion_matrix.png")
    roc_curves_png(labels, probs, class_names, out / "roc_curves.png")
    pr_curves_png(labels, probs, class_names, out / "pr_curves.png")
    (out / "report.md").write_text(markdown(report, title, len(labels), context or {}))
    return report


def markdown(report: ClassificationReport, title: str, n: int, context: dict[str, str]) -> str:
    lines = [f"# {title}", ""]
    lines += [f"- {key}: {value}" for key, value in context.items()]
    lines += [
        f"- images: {n}",
        "",
        "| metric | value |",
        "|---|---|",
        f"| macro F1 | {report.macro_f1:.4f} ({_ci(report, 'macro_f1')}) |",
        f"| macro ROC-AUC | {report.macro_auc:.4f} |",
        f"| accuracy | {report.accuracy:.4f} ({_ci(report, 'accuracy')}) |",
    ]
    if "ece" in report.extra:
        lines += [
            f"| expected calibration error | {report.extra['ece']:.4f} |",
            f"| ECE after temperature scaling (T = {report.extra['temperature']:.3f}, fitted on val) "
            f"| {report.extra['ece_calibrated']:.4f} |",
        ]
    lines += [
        "",
        "| class | precision | recall | F1 (95% bootstrap CI) | ROC-AUC | support |",
        "|---|---|---|---|---|---|",
    ]
    for row in report.per_class:
        lines.append(
            f"| {row['class']} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} "
            f"({row['f1_ci_low']:.2f}-{row['f1_ci_high']:.2f}) | {row['auc']:.3f} | {row['support']} |"
        )
    lines += ["", "![confusion matrix](confusion_matrix.png)", "", "![ROC](roc_curves.png)"]
    lines += ["", "![PR](pr_curves.png)", ""]
    if "ece" in report.extra:
        lines += ["![reliability diagram](reliability.png)", ""]
    return "\n".join(lines)


def _ci(report: ClassificationReport, name: str) -> str:
    low, high = report.extra[f"{name}_ci_low"], report.extra[f"{name}_ci_high"]
    return f"95% bootstrap CI {low:.4f}-{high:.4f}"
