"""Which runs a command reads from MLflow: a sweep's jobs (by parent run id, sweep name or run name, or
the latest sweep; every invocation of a resumed Optuna study), or runs by id. Shared by
`python -m astro compare` and `python -m astro register`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from astro.errors import AstroError
from astro.tracking.tags import (
    JOB,
    JOB_NUM,
    JOB_OVERRIDES,
    OPTUNA_STATE,
    PARENT,
    PRUNED,
    STORAGE,
    STUDY,
    SWEEP_ID,
    SWEEP_NAME,
    SWEEP_ROLE,
)


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


def is_pruned(run: Run) -> bool:
    """A job an Optuna pruner stopped (it ends KILLED): never a best run, reported apart."""
    return run.data.tags.get(OPTUNA_STATE) == PRUNED


def _search(client: MlflowClient, filter_string: str, max_results: int = 50000) -> list[Run]:
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(
        experiments, filter_string, max_results=max_results, order_by=["attributes.start_time DESC"]
    )


def find_parent(client: MlflowClient, sweep: str) -> Run:
    """A sweep's parent run by run id, sweep name or run name; for a name, the most recent such sweep."""
    parent = f"tags.`{SWEEP_ROLE}` = '{PARENT}'"
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
    found = _search(client, f"tags.`{SWEEP_ROLE}` = '{PARENT}'", max_results=1)
    if not found:
        raise ComparisonError("no sweep in this store (run one with `python train.py -m ...`)")
    return found[0]


def sweep_runs(client: MlflowClient, parent: Run) -> Sweep:
    """The parent's jobs in job order; for an Optuna study, those of every invocation of the study."""
    parents = [parent]
    study, storage = parent.data.tags.get(STUDY), parent.data.tags.get(STORAGE)
    if study and storage:
        same = f"tags.`{STUDY}` = '{study}' and tags.`{STORAGE}` = '{storage}'"
        found = _search(client, f"tags.`{SWEEP_ROLE}` = '{PARENT}' and {same}")
        parents = sorted(found, key=lambda run: run.info.start_time)
    runs = []
    for each in parents:
        jobs = _search(client, f"tags.`{SWEEP_ID}` = '{each.info.run_id}' and tags.`{SWEEP_ROLE}` = '{JOB}'")
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


def changed_overrides(runs: Sequence[Run]) -> list[list[str]]:
    """Per run, its sweep overrides that not every run shares: what the sweep changed."""
    overrides = [json.loads(run.data.tags.get(JOB_OVERRIDES, "[]")) for run in runs]
    shared = set.intersection(*(set(o) for o in overrides)) if overrides else set()
    return [[o for o in items if o not in shared] for items in overrides]
