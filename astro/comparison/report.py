"""The comparison report of a sweep's runs, from MLflow: `python -m astro compare --sweep <parent run id |
sweep name>`.

Writes report.md and per_class_f1.png: a run-comparison table (val macro F1 for selection; test macro F1,
macro ROC-AUC and accuracy with deltas against the baseline, the first job), the best run's per-class
precision/recall/F1/ROC-AUC (best by validation macro F1, never by test), and per-class F1 side by side
across runs. With --sweep or --latest the report is also logged to the sweep's parent run under report/.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from astro.cli import user_errors_as_one_line
from astro.comparison.noise import noise_sections
from astro.comparison.selection import (
    ComparisonError,
    Sweep,
    add_run_selection,
    changed_overrides,
    is_pruned,
    selected_runs,
)
from astro.data.galaxy10 import CLASS_NAMES
from astro.paths import PROJECT_ROOT, default_tracking_uri
from astro.tracking.metric_names import KEPT_VAL_MACRO_F1, selection_score
from astro.tracking.store import open_store
from astro.tracking.tags import ERROR, JOB_NUM, PRUNED_AT_EPOCH

SELECTION = ("val macro F1", KEPT_VAL_MACRO_F1)  # old runs: best/val_macro_f1 (selection_score)
COMPARED = (
    ("test macro F1", "test/macro_f1"),
    ("test macro AUC", "test/macro_auc"),
    ("test accuracy", "test/accuracy"),
)
PER_CLASS = (("precision", "precision"), ("recall", "recall"), ("F1", "f1"), ("ROC-AUC", "auc"))


def class_names(runs: Sequence[Run]) -> list[str]:
    """Classes with logged test F1, in Galaxy10 order where they are Galaxy10 classes."""
    found = {key.split("/", 2)[2] for run in runs for key in run.data.metrics if key.startswith("test/f1/")}
    known = [name for name in CLASS_NAMES if name in found]
    return known + sorted(found - set(known))


def labels(runs: Sequence[Run]) -> list[str]:
    """Run names without the swept values a job's name starts with (the overrides column has them),
    with the job number appended where a name repeats."""
    names = [run.info.run_name.split(" | ")[-1] for run in runs]
    return [
        f"{name}#{run.data.tags.get(JOB_NUM, i)}" if names.count(name) > 1 else name
        for i, (name, run) in enumerate(zip(names, runs, strict=True))
    ]


def varied_overrides(runs: Sequence[Run]) -> list[str]:
    """Per run, the overrides that are not shared by every run (what the sweep changed)."""
    return [" ".join(items) for items in changed_overrides(runs)]


def _number(value: float | None, digits: int = 4) -> str:
    return "—" if value is None or np.isnan(value) else f"{value:.{digits}f}"


def _delta(value: float | None, base: float | None, digits: int = 4) -> str:
    if value is None or base is None or np.isnan(value) or np.isnan(base):
        return "—"
    return f"{value - base:+.{digits}f}"


def comparison_table(runs: Sequence[Run], names: Sequence[str], baseline: Run) -> list[str]:
    head = ["run", "job", "overrides", "status", SELECTION[0]]
    for title, _ in COMPARED:
        head += [title, "Δ"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for run, name, changed in zip(runs, names, varied_overrides(runs), strict=True):
        metrics, base = run.data.metrics, baseline.data.metrics
        cells = [name, run.data.tags.get(JOB_NUM, ""), f"`{changed}`" if changed else "", run.info.status]
        cells.append(_number(selection_score(metrics)))
        for _, key in COMPARED:
            same = run.info.run_id == baseline.info.run_id
            cells += [_number(metrics.get(key)), "—" if same else _delta(metrics.get(key), base.get(key))]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def per_class_table(run: Run, classes: Sequence[str]) -> list[str]:
    lines = ["| class | " + " | ".join(t for t, _ in PER_CLASS) + " |", "|---|" + "---|" * len(PER_CLASS)]
    for name in classes:
        values = [_number(run.data.metrics.get(f"test/{key}/{name}"), 3) for _, key in PER_CLASS]
        lines.append(f"| {name} | " + " | ".join(values) + " |")
    return lines


def per_class_f1_table(runs: Sequence[Run], names: Sequence[str], classes: Sequence[str]) -> list[str]:
    """F1 per class and run; after the first run each cell also gives the change against it."""
    lines = ["| class | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for name in classes:
        key = f"test/f1/{name}"
        base = runs[0].data.metrics.get(key)
        cells = [_number(runs[0].data.metrics.get(key), 3)]
        cells += [
            f"{_number(run.data.metrics.get(key), 3)} ({_delta(run.data.metrics.get(key), base, 3)})"
            for run in runs[1:]
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def per_class_f1_png(runs: Sequence[Run], names: Sequence[str], classes: Sequence[str], path: Path) -> Path:
    """Grouped bars: one group per class, one bar per run."""
    width = 0.8 / len(runs)
    x = np.arange(len(classes))
    fig, ax = plt.subplots(figsize=(max(8.0, 0.9 * len(classes) + 0.25 * len(classes) * len(runs)), 4.8))
    for i, (run, name) in enumerate(zip(runs, names, strict=True)):
        values = [run.data.metrics.get(f"test/f1/{c}", np.nan) for c in classes]
        ax.bar(x - 0.4 + width * (i + 0.5), values, width, label=name)
    ax.set_xticks(x, classes, rotation=35, ha="right", fontsize=8)
    ax.set(ylabel="test F1", ylim=(0, 1), title="Per-class F1 across runs")
    ax.legend(fontsize=7, ncols=min(len(runs), 4))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def pruned_table(runs: Sequence[Run]) -> list[str]:
    """Trials an Optuna pruner stopped: never a best run, shown with where they stopped."""
    rows = [
        f"| {run.info.run_name} | {run.data.tags.get(PRUNED_AT_EPOCH, '?')} | "
        f"{_number(run.data.metrics.get('epoch/val_macro_f1'))} |"
        for run in runs
    ]
    head = ["## Pruned trials", "", "| run | pruned after epoch | last val macro F1 |", "|---|---|---|"]
    return head + rows


def write_comparison(
    sweep: Sweep, out_dir: Path, tracking_uri: str, client: MlflowClient | None = None
) -> Path:
    """report.md and per_class_f1.png in out_dir; the path of report.md. With a client, the runs' test
    predictions are read from it for the paired intervals and seed groups (astro.comparison.noise)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pruned = [run for run in sweep.runs if is_pruned(run)]
    sweep = replace(sweep, runs=[run for run in sweep.runs if run not in pruned])
    scored = [run for run in sweep.runs if selection_score(run.data.metrics) is not None]
    if not scored:
        raise ComparisonError(f"none of the {len(sweep.runs)} runs of '{sweep.title}' logged {SELECTION[1]}")
    baseline = scored[0]
    best = max(scored, key=lambda run: selection_score(run.data.metrics))
    names = dict(zip((run.info.run_id for run in sweep.runs), labels(sweep.runs), strict=True))
    classes = class_names(scored)
    lines = [f"# {sweep.title}", ""]
    if sweep.parent:
        parent = sweep.parent
        failed = sum(run.info.status != "FINISHED" for run in sweep.runs)
        lines.append(f"- parent run: `{parent.info.run_id}` ({parent.info.status})")
        lines.append(
            f"- runs: {len(sweep.runs)}, not FINISHED: {failed}, pruned (apart below): {len(pruned)}"
        )
    lines += [
        f"- tracking: `{tracking_uri}`",
        f"- baseline for Δ: **{names[baseline.info.run_id]}**",
        f"- best by {SELECTION[0]} (selection on validation): **{names[best.info.run_id]}**",
        "",
        "## Run comparison",
        "",
        *comparison_table(sweep.runs, [names[r.info.run_id] for r in sweep.runs], baseline),
    ]
    errors = [f"- {names[r.info.run_id]}: {r.data.tags[ERROR]}" for r in sweep.runs if ERROR in r.data.tags]
    if errors:
        lines += ["", "Failed runs:", "", *errors]
    if pruned:
        lines += ["", *pruned_table(pruned)]
    ordered = [baseline, *[run for run in scored if run is not baseline]]
    ordered_names = [names[run.info.run_id] for run in ordered]
    if client is not None:
        lines += ["", *noise_sections(client, ordered, ordered_names)]
    lines += ["", f"## Best run: {names[best.info.run_id]}", "", *per_class_table(best, classes)]
    per_class_f1_png(ordered, ordered_names, classes, out_dir / "per_class_f1.png")
    lines += [
        "",
        "## Per-class F1 across runs",
        "",
        *per_class_f1_table(ordered, ordered_names, classes),
        "",
        "![per-class F1](per_class_f1.png)",
        "",
    ]
    report = out_dir / "report.md"
    report.write_text("\n".join(lines))
    return report


def main(argv: Sequence[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(prog="python -m astro compare", description=__doc__.split("\n\n")[0])
    add_run_selection(parser, "these runs, the first as baseline")
    parser.add_argument("--out", type=Path, default=None, help="default: outputs/comparisons/<sweep>")
    parser.add_argument("--no-log", action="store_true", help="do not log the report to the parent run")
    args = parser.parse_args(argv)
    return _compare(args)


@user_errors_as_one_line
def _compare(args: argparse.Namespace) -> Path:
    uri = args.tracking_uri or default_tracking_uri()
    client = open_store(uri)
    sweep = selected_runs(client, args)
    folder = sweep.parent.info.run_name if sweep.parent else "runs-" + "-".join(r[:8] for r in args.runs)
    out = args.out or PROJECT_ROOT / "outputs" / "comparisons" / folder
    report = write_comparison(sweep, out, uri, client)
    if sweep.parent and not args.no_log:
        client.log_artifacts(sweep.parent.info.run_id, str(out), "report")
    print(f"report: {report}")
    return report


if __name__ == "__main__":
    main()
