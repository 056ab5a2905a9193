"""MLflow tracking: one run per training job, flattened config as params, metrics per epoch, artifacts."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow
from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)
PARAM_VALUE_LIMIT = 6000


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """{'loss': {'gamma': 2}} -> {'loss.gamma': '2'}; lists become their string form."""
    out: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = str(value)[:PARAM_VALUE_LIMIT]
    return out


def configure(tracking_uri: str, experiment: str, artifact_root: str | None = None) -> str:
    """Point MLflow at the store and make sure the experiment exists; return its id.

    New experiments get an absolute artifact location so runs started from any folder land together.
    """
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        experiment_id = found.experiment_id
    else:
        location = None
        if artifact_root:
            location = Path(artifact_root).expanduser().resolve().joinpath(experiment).as_uri()
        experiment_id = client.create_experiment(experiment, artifact_location=location)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


class Tracker:
    """The active MLflow run of a job."""

    def __init__(self, tracking_uri: str, experiment: str, artifact_root: str | None = None) -> None:
        self.experiment_id = configure(tracking_uri, experiment, artifact_root)
        self.run: mlflow.ActiveRun | None = None
        self.last_run_id: str | None = None

    @property
    def run_id(self) -> str | None:
        return self.run.info.run_id if self.run else None

    def start(self, run_name: str | None = None, tags: dict[str, str] | None = None) -> str:
        # Tests and sweeps run jobs back to back in one process: never inherit a stale env run id.
        os.environ.pop("MLFLOW_RUN_ID", None)
        self.run = mlflow.start_run(run_name=run_name, tags=tags or {})
        self.last_run_id = self.run.info.run_id
        return self.last_run_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        mlflow.log_params(flatten(params))

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        mlflow.log_artifact(str(path), artifact_path)

    def log_artifacts(self, directory: str | Path, artifact_path: str | None = None) -> None:
        mlflow.log_artifacts(str(directory), artifact_path)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        mlflow.set_tags(dict(tags))

    def end(self, status: str = "FINISHED") -> None:
        if self.run is not None:
            mlflow.end_run(status)
            self.run = None
