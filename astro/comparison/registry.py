"""Register the best run of a sweep as a model version and point an alias at it:
`python -m astro register --sweep NAME [--name galaxy-morphology] [--alias champion]`.

The best run is chosen on validation (kept/val_macro_f1, the metric the sweep optimized), never on test,
among the runs that logged an MLflow model. Then `models:/galaxy-morphology@champion` is what
`mlflow models serve`, predict.py and the demo take.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from astro.cli import user_errors_as_one_line
from astro.comparison.report import SELECTION
from astro.comparison.selection import ComparisonError, add_run_selection, selected_runs
from astro.paths import default_tracking_uri
from astro.serving.pyfunc import ARTIFACT_PATH
from astro.tracking.metric_names import selection_score
from astro.tracking.store import open_store

MODEL_NAME = "galaxy-morphology"
ALIAS = "champion"


@dataclass(frozen=True)
class Registered:
    name: str
    version: str
    alias: str
    run_id: str
    score: float

    def uri(self) -> str:
        return f"models:/{self.name}@{self.alias}"


def best_run(client: MlflowClient, runs: Sequence[Run], metric: str = SELECTION[1]) -> Run:
    """The run with the highest validation metric among those that logged a model."""
    scored = [r for r in runs if selection_score(r.data.metrics, metric) is not None]
    scored = [run for run in scored if _has_model(client, run)]
    if not scored:
        raise ComparisonError(f"none of the {len(runs)} runs logged both {metric} and an MLflow model")
    return max(scored, key=lambda run: selection_score(run.data.metrics, metric))


def _has_model(client: MlflowClient, run: Run) -> bool:
    return model_source(client, run) is not None


def model_source(client: MlflowClient, run: Run) -> tuple[str, str | None] | None:
    """Where the run's model is, and its LoggedModel id: the LoggedModel the run logged (MLflow 3), else
    the `model/` artifacts of a run logged before that; None if neither."""
    logged = client.search_logged_models(
        [run.info.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'", max_results=1
    )
    if logged:
        return logged[0].artifact_location, logged[0].model_id
    listing = client.list_artifacts(run.info.run_id, ARTIFACT_PATH)
    if any(f.path == f"{ARTIFACT_PATH}/MLmodel" for f in listing):
        return f"{run.info.artifact_uri}/{ARTIFACT_PATH}", None
    return None


def register(client: MlflowClient, run: Run, name: str, alias: str, metric: str = SELECTION[1]) -> Registered:
    """A new version of `name` from the run's model, with `alias` moved to it."""
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description="Galaxy-morphology classifier (astro)")
    source, model_id = model_source(client, run) or (f"{run.info.artifact_uri}/{ARTIFACT_PATH}", None)
    version = client.create_model_version(name, source, run_id=run.info.run_id, model_id=model_id).version
    client.set_registered_model_alias(name, alias, version)
    return Registered(name, str(version), alias, run.info.run_id, selection_score(run.data.metrics, metric))


def main(argv: Sequence[str] | None = None) -> Registered:
    parser = argparse.ArgumentParser(prog="python -m astro register", description=__doc__.split("\n\n")[0])
    add_run_selection(parser, "choose among these runs")
    parser.add_argument("--name", default=MODEL_NAME, help=f"registered model name (default {MODEL_NAME})")
    parser.add_argument("--alias", default=ALIAS, help=f"alias set on the new version (default {ALIAS})")
    return _register(parser.parse_args(argv))


@user_errors_as_one_line
def _register(args: argparse.Namespace) -> Registered:
    uri = args.tracking_uri or default_tracking_uri()
    client = open_store(uri, registry=True)
    done = register(client, best_run(client, selected_runs(client, args).runs), args.name, args.alias)
    print(
        f"{done.uri()} -> version {done.version} (run {done.run_id}, {SELECTION[0]} {done.score:.4f}); "
        f"serve it: MLFLOW_TRACKING_URI={uri} mlflow models serve -m {done.uri()} --env-manager local"
    )
    return done
