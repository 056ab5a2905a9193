"""The MLflow store: the one place that says whether a store is there and answers (a job logging to it, a
command reading runs from it, the demo looking for a model), points MLflow at it and makes sure the
experiment exists."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from sqlalchemy.engine import make_url

from astro.errors import StoreError
from astro.tracking.tags import EXPERIMENT_KIND, MODEL_TRAINING_KIND

HEALTH_TIMEOUT_S = 5


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


def store_exists(uri: str) -> bool:
    """False for a sqlite file that is not there: opening it would create an empty store as a side effect,
    and a reader would then report an empty store instead of a wrong path. A server counts as there (probe
    asks whether it answers)."""
    if not uri.startswith("sqlite:"):
        return True
    database = make_url(uri).database
    return bool(database) and Path(database).is_file()


def probe(uri: str) -> None:
    """Fail fast, in one sentence, for an HTTP store that does not answer, instead of MLflow's retry loop
    (minutes of backoff before the first error)."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=HEALTH_TIMEOUT_S):
            pass
    except OSError as exc:  # URLError, HTTPError, a timeout
        reason = getattr(exc, "reason", None) or exc
        raise StoreError(f"MLflow store {uri} does not answer ({reason})") from None


def check_store(uri: str) -> None:
    """Raise StoreError unless the store is there and answers: what a command that reads runs needs."""
    if not store_exists(uri):
        raise StoreError(f"no MLflow store at {uri} (set --tracking-uri or MLFLOW_TRACKING_URI)")
    probe(uri)


def open_store(uri: str, registry: bool = False) -> MlflowClient:
    """A client on a store that is there and answers (check_store); with registry, on its model registry
    too (else MLflow consults the process-wide registry URI, and may open, creating it, ./mlflow.db)."""
    check_store(uri)
    return MlflowClient(uri, registry_uri=uri if registry else None)
