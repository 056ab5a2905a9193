"""The names metrics have in MLflow, chosen for its run page: the "Model metrics" tab groups a run's
metrics into sections by the part of the name before the last '/', shows the sections in alphabetical
order and puts metrics without a '/' last (MLflow 3.16's getBaseChartAndSectionConfigs). So the
per-epoch curves are one section, `epoch/`, first; the kept model's validation scores (the epoch whose
checkpoint is best.pt) come next, `kept/`; the per-class test figures (`test/f1/<class>`, ...) after.

Training's own rows (history, checkpoints, results.json, `optimized_metric`) keep the short names
(`val/macro_f1`); only what goes to MLflow is renamed, here.
"""

from __future__ import annotations

from collections.abc import Mapping

EPOCH, KEPT = "epoch/", "kept/"
# per-epoch row key -> MLflow name; keys not listed (time/epoch_s, ...) keep their own section
EPOCH_CURVES = {
    "train/loss": "epoch/train_loss",
    "val/loss": "epoch/val_loss",
    "val/macro_f1": "epoch/val_macro_f1",
    "val/accuracy": "epoch/val_accuracy",
    "lr": "epoch/lr",
}
KEPT_VAL_MACRO_F1 = "kept/val_macro_f1"  # what a sweep optimizes and register / compare select on
LEGACY_KEPT_VAL_MACRO_F1 = "best/val_macro_f1"  # the same value, as runs logged before the rename


def epoch_metrics(row: Mapping[str, float]) -> dict[str, float]:
    """One epoch's row as MLflow metrics (the step is the epoch, given separately); other training
    curves (an alignment distance, train/mmd_distance) join the epoch section too."""
    return {_epoch_name(key): value for key, value in row.items() if key != "epoch"}


def _epoch_name(key: str) -> str:
    if key in EPOCH_CURVES:
        return EPOCH_CURVES[key]
    return EPOCH + key.replace("/", "_") if key.startswith("train/") else key


def kept_metrics(row: Mapping[str, float]) -> dict[str, float]:
    """The kept epoch's validation scores and its number: `kept/val_macro_f1`, `kept/epoch`, ..."""
    kept = {KEPT + key.replace("/", "_"): value for key, value in row.items() if key.startswith("val/")}
    return {**kept, KEPT + "epoch": float(row["epoch"])}


def kept_key(optimized_metric: str) -> str:
    """'val/macro_f1' -> 'kept/val_macro_f1', the name a run logs its kept model's value under."""
    return KEPT + optimized_metric.replace("/", "_")


def selection_score(metrics: Mapping[str, float], key: str = KEPT_VAL_MACRO_F1) -> float | None:
    """A run's kept val macro F1 (or `key`), also from a run logged under the old name (best/...)."""
    if key in metrics:
        return metrics[key]
    return metrics.get(key.replace(KEPT, "best/", 1))
