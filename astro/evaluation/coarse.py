"""Sim-to-real on thousands of real galaxies at coarse morphology.

Sixty real DECaLS cutouts cannot rank changes smaller than about 0.1 macro F1. The 6,391 Galaxy Zoo 1
SDSS galaxies with a usable label can, at the coarser level GZ1 labels: predict.py's ten Galaxy10
probabilities are summed into smooth, spiral, edge-on and merger, and compared with the GZ1 labels:

    python predict.py checkpoint=<best.pt> input=../shared/data/gz1_sdss/images output=gz1.parquet
    python -m astro coarse-eval gz1.parquet --labels ../shared/data/gz1_sdss/labels.csv

It is SDSS (0.396"/px, gri composites, each cutout scaled to its galaxy), not DECaLS: a model that passes
it has learnt shapes that survive a change of survey, which is what a synthetic-trained model must do.
"""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from astro.evaluation.metrics import bootstrap_intervals, classification_report

# Galaxy10 class -> the coarse class GZ1 would give it.
COARSE: dict[str, tuple[str, ...]] = {
    "smooth": ("round_smooth", "in_between_round_smooth", "cigar_shaped_smooth"),
    "spiral": ("barred_spiral", "unbarred_tight_spiral", "unbarred_loose_spiral"),
    "edge_on": ("edge_on_without_bulge", "edge_on_with_bulge"),
    "merger": ("disturbed", "merging"),
}
# GZ1 label -> coarse class; `dont_know` has none and is left out.
GZ1_LABELS = {
    "elliptical": "smooth",
    "spiral_clockwise": "spiral",
    "spiral_anticlockwise": "spiral",
    "edge_on": "edge_on",
    "merger": "merger",
}


@dataclass
class CoarseData:
    """Coarse probabilities (n, 4) in COARSE's order, the coarse labels, and what was left out."""

    probs: np.ndarray
    labels: np.ndarray
    unlabelled: int
    unreadable: int


def coarse_data(predictions: Path, labels_csv: Path) -> CoarseData:
    """Join predict.py's output with a labels CSV (filename, class_name) by file name."""
    table = pq.read_table(predictions).to_pydict()
    missing = [f"prob_{name}" for names in COARSE.values() for name in names if f"prob_{name}" not in table]
    if "filename" not in table or missing:
        raise ValueError(
            f"{predictions}: not predict.py's output for a Galaxy10 model on an image folder "
            f"(missing {', '.join((['filename'] if 'filename' not in table else []) + missing)})"
        )
    with open(labels_csv, newline="") as fh:
        reader = csv.DictReader(fh)
        if not {"filename", "class_name"} <= set(reader.fieldnames or ()):
            raise ValueError(f"{labels_csv}: needs the columns filename and class_name")
        truth = {Path(row["filename"]).name: row["class_name"] for row in reader}
    order = list(COARSE)
    errors = table.get("error", [None] * len(table["filename"]))
    rows, labels, unlabelled, unreadable = [], [], 0, 0
    for i, name in enumerate(table["filename"]):
        coarse = GZ1_LABELS.get(truth.get(Path(name).name, ""))
        if coarse is None:
            unlabelled += 1
        elif errors[i] is not None:
            unreadable += 1
        else:
            rows.append([sum(table[f"prob_{c}"][i] for c in COARSE[group]) for group in order])
            labels.append(order.index(coarse))
    if not rows:
        raise ValueError(f"{predictions}: no file name matches a labelled row of {labels_csv}")
    return CoarseData(np.asarray(rows, dtype=np.float64), np.asarray(labels), unlabelled, unreadable)


def evaluate(data: CoarseData, samples: int = 1000) -> dict:
    """Macro F1, accuracy and per-class F1 with 95% bootstrap intervals, and the confusion matrix."""
    names = tuple(COARSE)
    report = classification_report(data.labels, data.probs, names)
    intervals = bootstrap_intervals(data.labels, data.probs, len(names), samples)
    return {
        "images": len(data.labels),
        "left_out": {"no_coarse_label": data.unlabelled, "unreadable": data.unreadable},
        "macro_f1": report.macro_f1,
        "macro_f1_95ci": intervals["macro_f1"],
        "accuracy": report.accuracy,
        "accuracy_95ci": intervals["accuracy"],
        "per_class": {
            row["class"]: {**row, "f1_95ci": intervals[f"f1[{k}]"]} for k, row in enumerate(report.per_class)
        },
        "confusion": {"rows_true_cols_predicted": list(names), "counts": report.confusion.tolist()},
    }


def render(result: dict) -> str:
    """The result as a short text table."""
    low, high = result["macro_f1_95ci"]
    lines = [
        f"{result['images']} real galaxies (left out: {result['left_out']})",
        f"macro F1 {result['macro_f1']:.3f} (95% CI {low:.3f}-{high:.3f}), accuracy {result['accuracy']:.3f}",
        f"{'class':<10} {'F1':>6} {'95% CI':>13} {'recall':>7} {'support':>8}",
    ]
    for name, row in result["per_class"].items():
        lo, hi = row["f1_95ci"]
        lines.append(
            f"{name:<10} {row['f1']:6.3f} {lo:6.3f}-{hi:.3f} {row['recall']:7.3f} {row['support']:8d}"
        )
    lines.append("confusion (rows true, columns predicted: " + ", ".join(COARSE) + ")")
    lines += ["  " + " ".join(f"{n:6d}" for n in counts) for counts in result["confusion"]["counts"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m astro coarse-eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("predictions", type=Path, help="predict.py's Parquet output on an image folder")
    parser.add_argument("--labels", type=Path, required=True, help="CSV with filename and class_name (GZ1)")
    parser.add_argument("--out", type=Path, default=None, help="also write the result as JSON here")
    args = parser.parse_args(argv)
    for path in (args.predictions, args.labels):
        if not path.is_file():
            raise SystemExit(f"error: {path}: no such file")
    try:
        result = evaluate(coarse_data(args.predictions, args.labels))
    except (ValueError, OSError) as exc:
        raise SystemExit(f"error: {exc}") from None
    print(render(result))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
