"""Which checkpoint to serve, and what a user should know about it.

A reference is a checkpoint file, an MLflow artifact URI (`runs:/<run_id>/checkpoints/best.pt`) or a
registered model (`models:/<name>/<version>`); with none, the best checkpoint of the newest finished
training run in the tracking store. The provenance comes from the checkpoint itself plus, when the store
knows the training run, its test metrics (checkpoints are written before the test evaluation).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlflow.artifacts
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from astro.checkpoint.card import ModelCard
from astro.errors import CheckpointError, StoreError
from astro.tracking.store import check_store, open_store, store_exists

BEST_CHECKPOINT = "checkpoints/best.pt"
MLFLOW_SCHEMES = ("runs:/", "models:/")
RECENT_RUNS = 200  # newest finished runs searched for a checkpoint (evaluation runs have none)


@dataclass(frozen=True)
class ModelSource:
    """A local checkpoint file and how it was found."""

    path: Path
    description: str


def resolve(reference: str | None, uri: str) -> ModelSource | None:
    """The checkpoint for a reference; None only when no reference is given and the store has no model."""
    if reference is None:
        return newest_finished(uri)
    if reference.startswith(MLFLOW_SCHEMES):
        return ModelSource(download(reference, uri), reference)
    path = Path(reference).expanduser()
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    return ModelSource(path, str(path))


def newest_finished(uri: str) -> ModelSource | None:
    """The best checkpoint of the most recently finished run that logged one, in any experiment."""
    if not store_exists(uri):
        return None
    client = open_store(uri)
    try:
        experiment_ids = [e.experiment_id for e in client.search_experiments()]
        runs = client.search_runs(
            experiment_ids,
            filter_string="attributes.status = 'FINISHED'",
            max_results=RECENT_RUNS,
            order_by=["attributes.end_time DESC"],
        )
        for run in runs:
            logged = {f.path for f in client.list_artifacts(run.info.run_id, "checkpoints")}
            if BEST_CHECKPOINT in logged:
                reference = f"runs:/{run.info.run_id}/{BEST_CHECKPOINT}"
                name = run.info.run_name or run.info.run_id
                return ModelSource(download(reference, uri), f"newest finished run '{name}' ({reference})")
    except MlflowException as exc:
        raise CheckpointError(f"{uri}: cannot search the MLflow store ({_reason(exc)})") from None
    return None


def download(reference: str, uri: str) -> Path:
    """Fetch an MLflow artifact; a folder (e.g. a registered `checkpoints/`) must hold one checkpoint."""
    try:
        check_store(uri)  # download_artifacts would create a missing sqlite store, or retry a dead server
    except StoreError as exc:
        raise CheckpointError(f"{reference}: cannot fetch ({exc})") from None
    try:
        artifact = registered_source(reference, uri) if reference.startswith("models:/") else reference
        local = Path(mlflow.artifacts.download_artifacts(artifact, tracking_uri=uri))
    except MlflowException as exc:
        raise CheckpointError(f"{reference}: cannot fetch from {uri} ({_reason(exc)})") from None
    if local.is_file():
        return local
    candidates = sorted(local.rglob("best.pt")) or sorted(local.rglob("*.pt"))
    if len(candidates) != 1:
        raise CheckpointError(f"{reference}: expected one checkpoint (.pt) in it, found {len(candidates)}")
    return candidates[0]


def _reason(exc: MlflowException) -> str:
    return exc.message.splitlines()[0] if exc.message else type(exc).__name__


def registered_source(reference: str, uri: str) -> str:
    """`models:/<name>/<version>`, `models:/<name>@<alias>` or `models:/<model_id>` (a run's LoggedModel)
    -> where that model's files are.

    Asked of this store's registry explicitly: download_artifacts would consult the process-wide
    registry URI for a models:/ URI, and open (creating it) ./mlflow.db.
    """
    client = MlflowClient(uri, registry_uri=uri)
    name, _, version = reference.removeprefix("models:/").partition("/")
    if not version and "@" not in name:
        return client.get_logged_model(name).artifact_location
    if not version and "@" in name:
        name, _, alias = name.partition("@")
        version = client.get_model_version_by_alias(name, alias).version
    return client.get_model_version_download_uri(name, version)


@dataclass(frozen=True)
class Provenance:
    """What the served model is: where it came from, what it was trained on, how well it did."""

    source: str
    architecture: str
    data_name: str
    image_size: int
    epoch: int | None
    run_id: str | None
    val_macro_f1: float | None
    test_macro_f1: float | None
    temperature: float | None
    logit_adjustment_tau: float
    adapted_to: str | None = None

    def markdown(self) -> str:
        def score(value: float | None, missing: str) -> str:
            return f"{value:.3f}" if value is not None else missing

        rows = [
            ("checkpoint", f"`{self.source}`"),
            ("model", self.architecture),
            ("trained on", f"{self.data_name} data, {self.image_size} px"),
            ("MLflow run", f"`{self.run_id}`" if self.run_id else "not recorded"),
            ("best epoch", str(self.epoch) if self.epoch is not None else "?"),
            ("val macro F1", score(self.val_macro_f1, "not recorded")),
            ("test macro F1", score(self.test_macro_f1, "not in the reachable MLflow store")),
            ("confidences", self._confidences()),
            ("adapted to", self.adapted_to or "nothing: trained on its source survey only"),
        ]
        return "\n".join(f"- **{key}**: {value}" for key, value in rows)

    def _confidences(self) -> str:
        scaled = (
            f"temperature-scaled (T = {self.temperature:.2f}, fitted on validation)"
            if self.temperature
            else "softmax, not calibrated (the checkpoint has no temperature)"
        )
        tau = self.logit_adjustment_tau
        return scaled + (f", logit adjustment tau = {tau:g}" if tau else "")


def provenance(card: ModelCard, source: str, uri: str) -> Provenance:
    """Read the checkpoint's card and, if the store has its run, the run's test macro F1."""
    run_id = card.training.run_id
    return Provenance(
        source=source,
        architecture=card.architecture,
        data_name=card.training.data_name,
        image_size=card.preprocessing.image_size,
        epoch=card.training.epoch,
        run_id=run_id,
        val_macro_f1=card.training.metrics.get("val/macro_f1"),
        test_macro_f1=logged_test_macro_f1(run_id, uri) if run_id else None,
        temperature=card.posthoc.temperature,
        logit_adjustment_tau=card.posthoc.tau,
        adapted_to=card.adaptation.summary() if card.adaptation else None,
    )


def logged_test_macro_f1(run_id: str, uri: str) -> float | None:
    """None when the store is not there, does not answer or does not have the run: the card still shows."""
    try:
        return open_store(uri).get_run(run_id).data.metrics.get("test/macro_f1")
    except (MlflowException, StoreError):
        return None
