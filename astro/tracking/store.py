"""The MLflow store a job logs to: point MLflow at it, make sure the experiment exists, and fail fast for
a server that does not answer."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from astro.tracking.tags import EXPERIMENT_KIND, MODEL_TRAINING_KIND


def configure(tracking_uri: str, experiment: str, artifact_root: str | None = None) -> str:
    """Point MLflow at the store and make sure the experiment exists; return its id."""
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else _create(client, experiment, artifact_root)
    if found is None or EXPERIMENT_KIND not in found.tags:  # a kind someone chose is kept
        client.set_experiment_tag(experiment_id, EXPERIMENT_KIND, MODEL_TRAINING_KIND)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def _create(client: MlflowClient, experiment: str, artifact_root: str | None) -> str:
    """A new experiment, with an absolute artifact location so runs started from any folder land together;
    the one another job created meanwhile when two start at once."""
    location = None
    if artifact_root:
        location = Path(artifact_root).expanduser().resolve().joinpath(experiment).as_uri()
    try:
        return client.create_experiment(experiment, artifact_location=location)
    except MlflowException:
        found = client.get_experiment_by_name(experiment)
        if found is None:
            raise
        return found.experiment_id


def probe(uri: str) -> None:
    """Fail fast for an HTTP store that does not answer, instead of MLflow's long retry loop."""
    if uri.startswith(("http://", "https://")):
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5):
            pass
