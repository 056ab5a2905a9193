"""The comparison report of a sweep's runs, from MLflow: `python -m astro compare --sweep <parent run id |
sweep name>`.

Writes report.md and per_class_f1.png: a run-comparison table (val macro F1 for selection; test macro F1,
macro ROC-AUC and accuracy with deltas against the baseline, the first job), the best run's per-class
precision/recall/F1/ROC-AUC (best by validation macro F1, never by test), and per-class F1 side by side
across runs. With --sweep or --latest the report is also logged to the sweep's parent run under report/.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from sqlalchemy.engine import make_url

from astro.cli import user_errors_as_one_line
from astro.config import PROJECT_ROOT, default_tracking_uri
from astro.data.galaxy10 import CLASS_NAMES
from astro.errors import AstroError
from astro.optuna_study import STORAGE, STUDY
from astro.sweeps import ERROR, JOB_NUM, JOB_OVERRIDES, SWEEP_ID, SWEEP_NAME, SWEEP_ROLE

SELECTION = ("val macro F1", "best/val_macro_f1")
COMPARED = (
    ("test macro F1", "test/macro_f1"),
    ("test macro AUC", "test/macro_auc"),
    ("test accuracy", "test/accuracy"),
)
PER_CLASS = (("precision", "precision"), ("recall", "recall"), ("F1", "f1"), ("ROC-AUC", "auc"))


class ComparisonError(AstroError):
    """The runs to report on cannot be found."""


@dataclass
class Sweep:
    """The runs to compare, in order (the first is the baseline), the parent run the report belongs to,
    and every parent run whose jobs are included (an Optuna study resumed N times has N)."""

    runs: list[Run]
    parent: Run | None = None
    parents: list[Run] = field(default_factory=list)

    @property
    def title(self) -> str:
        if self.parent is None:
            return "Run comparison"
        study = self.parent.data.tags.get(STUDY)
        if study:
            latest = self.parent.info.run_name
            return f"Optuna study {study} ({len(self.parents)} invocation(s), latest {latest})"
        return f"Sweep {self.parent.info.run_name}"


def open_store(uri: str) -> MlflowClient:
    """A client on an existing store: a sqlite path that does not exist is a mistake, not a new store."""
    if uri.startswith("sqlite:"):
        database = make_url(uri).database
        if not database or not Path(database).is_file():
            raise ComparisonError(f"no MLflow store at {uri} (set --tracking-uri or MLFLOW_TRACKING_URI)")
    return MlflowClient(uri)


def _search(client: MlflowClient, filter_string: str, max_results: int = 50000) -> list[Run]:
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(
        experiments, filter_string, max_results=max_results, order_by=["attributes.start_time DESC"]
    )


def find_parent(client: MlflowClient, sweep: str) -> Run:
    """A sweep's parent run by run id, sweep name or run name; for a name, the most recent such sweep."""
    parent = f"tags.`{SWEEP_ROLE}` = 'parent'"
    quoted = sweep.replace("'", "\\'")
    for where in (f"tags.`{SWEEP_ID}` = '{quoted}'", f"tags.`{SWEEP_NAME}` = '{quoted}'"):
        found = _search(client, f"{parent} and {where}", max_results=1)
        if found:
            return found[0]
    found = _search(client, f"{parent} and attributes.run_name = '{quoted}'", max_results=1)
    if found:
        return found[0]
    raise ComparisonError(f"no sweep with parent run id, sweep name or run name '{sweep}' in this store")


def latest_parent(client: MlflowClient) -> Run:
    found = _search(client, f"tags.`{SWEEP_ROLE}` = 'parent'", max_results=1)
    if not found:
        raise ComparisonError("no sweep in this store (run one with `python train.py -m ...`)")
    return found[0]


def sweep_runs(client: MlflowClient, parent: Run) -> Sweep:
    """The parent's jobs in job order; for an Optuna study, those of every invocation of the study."""
    parents = [parent]
    study, storage = parent.data.tags.get(STUDY), parent.data.tags.get(STORAGE)
    if study and storage:
        same = f"tags.`{STUDY}` = '{study}' and tags.`{STORAGE}` = '{storage}'"
        found = _search(client, f"tags.`{SWEEP_ROLE}` = 'parent' and {same}")
        parents = sorted(found, key=lambda run: run.info.start_time)
    runs = []
    for each in parents:
        jobs = _search(client, f"tags.`{SWEEP_ID}` = '{each.info.run_id}' and tags.`{SWEEP_ROLE}` = 'job'")
        runs += sorted(jobs, key=lambda run: (int(run.data.tags.get(JOB_NUM, "0")), run.info.start_time))
    if not runs:
        raise ComparisonError(f"sweep {parent.info.run_name} ({parent.info.run_id}) has no job runs")
    return Sweep(runs, parent, parents)


def runs_by_id(client: MlflowClient, run_ids: Sequence[str]) -> Sweep:
    runs = []
    for run_id in run_ids:
        try:
            runs.append(client.get_run(run_id))
        except MlflowException:
            raise ComparisonError(f"no run with id '{run_id}' in this store") from None
    return Sweep(runs)


def class_names(runs: Sequence[Run]) -> list[str]:
    """Classes with logged test F1, in Galaxy10 order where they are Galaxy10 classes."""
    found = {key.split("/", 2)[2] for run in runs for key in run.data.metrics if key.startswith("test/f1/")}
    known = [name for name in CLASS_NAMES if name in found]
    return known + sorted(found - set(known))


def labels(runs: Sequence[Run]) -> list[str]:
    """Run names, with the job number appended where a name repeats."""
    names = [run.info.run_name for run in runs]
    return [
        f"{name}#{run.data.tags.get(JOB_NUM, i)}" if names.count(name) > 1 else name
        for i, (name, run) in enumerate(zip(names, runs, strict=True))
    ]


def varied_overrides(runs: Sequence[Run]) -> list[str]:
    """Per run, the overrides that are not shared by every run (what the sweep changed)."""
    overrides = [json.loads(run.data.tags.get(JOB_OVERRIDES, "[]")) for run in runs]
    shared = set.intersection(*(set(o) for o in overrides)) if overrides else set()
    return [" ".join(o for o in items if o not in shared) for items in overrides]


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
        cells.append(_number(metrics.get(SELECTION[1])))
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


def write_comparison(sweep: Sweep, out_dir: Path, tracking_uri: str) -> Path:
    """report.md and per_class_f1.png in out_dir; the path of report.md."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scored = [run for run in sweep.runs if SELECTION[1] in run.data.metrics]
    if not scored:
        raise ComparisonError(f"none of the {len(sweep.runs)} runs of '{sweep.title}' logged {SELECTION[1]}")
    baseline = scored[0]
    best = max(scored, key=lambda run: run.data.metrics[SELECTION[1]])
    names = dict(zip((run.info.run_id for run in sweep.runs), labels(sweep.runs), strict=True))
    classes = class_names(scored)
    lines = [f"# {sweep.title}", ""]
    if sweep.parent:
        parent = sweep.parent
        failed = sum(run.info.status != "FINISHED" for run in sweep.runs)
        lines.append(f"- parent run: `{parent.info.run_id}` ({parent.info.status})")
        lines.append(f"- runs: {len(sweep.runs)}, not FINISHED: {failed}")
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
    lines += ["", f"## Best run: {names[best.info.run_id]}", "", *per_class_table(best, classes)]
    ordered = [baseline, *[run for run in scored if run is not baseline]]
    ordered_names = [names[run.info.run_id] for run in ordered]
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


def add_run_selection(parser: argparse.ArgumentParser, runs_help: str) -> None:
    """--sweep NAME | --latest | --runs ID ..., and --tracking-uri: how a command names the runs it reads."""
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--sweep", help="the sweep's parent run id, its sweep name or parent run name")
    which.add_argument("--latest", action="store_true", help="the most recent sweep")
    which.add_argument("--runs", nargs="+", metavar="RUN_ID", help=runs_help)
    parser.add_argument("--tracking-uri", default=None, help="default: MLFLOW_TRACKING_URI, else ./mlflow.db")


def selected_runs(client: MlflowClient, args: argparse.Namespace) -> Sweep:
    """The runs that add_run_selection's arguments name."""
    if args.runs:
        return runs_by_id(client, args.runs)
    return sweep_runs(client, latest_parent(client) if args.latest else find_parent(client, args.sweep))


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
    report = write_comparison(sweep, out, uri)
    if sweep.parent and not args.no_log:
        client.log_artifacts(sweep.parent.info.run_id, str(out), "report")
    print(f"report: {report}")
    return report


if __name__ == "__main__":
    main()
