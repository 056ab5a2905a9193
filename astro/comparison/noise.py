"""The comparison report's noise sections: paired bootstrap intervals of each run's Δ against the baseline
and, when runs repeat a configuration with other seeds, the seed groups' mean ± sd and Δ intervals.

Both read each run's test predictions (eval/test/predictions.npz and per_class.csv, logged by every
training run), so they need the runs' artifacts, not only their metrics.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Sequence

import numpy as np
from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from astro.comparison.seed_groups import group_deltas, group_key, seed_groups, varies_seed
from astro.comparison.selection import changed_overrides
from astro.evaluation.bootstrap import (
    Delta,
    SplitPredictions,
    check_paired,
    f1_scores,
    resample_counts,
    score_deltas,
)


def test_predictions(client: MlflowClient, run: Run) -> tuple[SplitPredictions, list[str]] | None:
    """A run's test labels and predicted classes, and its class names in column order; None when the run
    logged no test predictions (it failed, or predates them)."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            npz = client.download_artifacts(run.info.run_id, "eval/test/predictions.npz", tmp)
            table = client.download_artifacts(run.info.run_id, "eval/test/per_class.csv", tmp)
        except (MlflowException, OSError):
            return None
        with np.load(npz) as saved:
            found = SplitPredictions(saved["labels"], saved["probs"].argmax(1))
        with open(table, newline="") as fh:
            names = [row["class"] for row in csv.DictReader(fh)]
    return found, names


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _delta_rows(names: Sequence[str], deltas: Sequence[Sequence[Delta]], classes: Sequence[str]) -> list[str]:
    """One row per run (macro F1 then every class), from per-run lists [macro, class 0, class 1, ...]."""
    rows = [[name, *(d.cell() for d in ds)] for name, ds in zip(names, deltas, strict=True)]
    return _table(["run", "Δ test macro F1", *(f"Δ F1 {c}" for c in classes)], rows)


def noise_sections(client: MlflowClient, runs: Sequence[Run], names: Sequence[str]) -> list[str]:
    """Markdown for the report; runs[0] is the baseline. Runs without test predictions are left out."""
    loaded = [(run, name, test_predictions(client, run)) for run, name in zip(runs, names, strict=True)]
    kept = [(run, name, found) for run, name, found in loaded if found is not None]
    if len(kept) < 2 or kept[0][0] is not runs[0]:
        return ["## Noise", "", "Too few runs (or no baseline) with test predictions for intervals.", ""]
    classes = kept[0][2][1]
    base = kept[0][2][0]
    for _, _, (found, _) in kept[1:]:
        check_paired(found, base)
    counts = resample_counts(len(base.labels))
    scores = [f1_scores(found, counts, len(classes)) for _, _, (found, _) in kept]  # once per run
    deltas = [score_deltas(each, scores[0]) for each in scores[1:]]
    lines = [
        "## Paired intervals against the baseline",
        "",
        f"Δ = run − baseline on the shared test split; 95% paired bootstrap interval ({counts.shape[0] - 1} "
        "resamples of the test images, both runs scored on the same resample). Within noise: the interval "
        "covers 0.",
        "",
        *_delta_rows([name for _, name, _ in kept[1:]], deltas, classes),
        "",
    ]
    overrides = changed_overrides([run for run, _, _ in kept])
    if varies_seed(overrides):
        lines += _seed_section([group_key(o) for o in overrides], scores, classes)
    return lines


def _seed_section(keys: Sequence[str], scores: Sequence[np.ndarray], classes: Sequence[str]) -> list[str]:
    groups = seed_groups(keys, scores)
    base = groups[0]
    rows = []
    for group in groups:
        mean, sd = group.mean_sd()
        same = group is base
        deltas = ["—"] * (1 + len(classes)) if same else [d.cell() for d in group_deltas(group, base)]
        rows.append([f"`{group.key}`", str(group.seeds), f"{mean:.3f} ± {sd:.3f}", *deltas])
    head = ["configuration", "seeds", "test macro F1 mean ± sd", "Δ macro F1"]
    head += [f"Δ F1 {c}" for c in classes]
    return [
        "## Seed groups",
        "",
        "Runs that differ only in seed, grouped. Δ = group mean − baseline group mean; 95% interval from "
        "resampling the seeds within each group and the test images jointly.",
        "",
        *_table(head, rows),
        "",
    ]
