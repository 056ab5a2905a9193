"""MLflow tracking: one run per training job, flattened config as params, metrics per epoch, artifacts."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlflow.entities import DatasetInput, Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.tracking.context.registry import resolve_tags

from astro.tracking import handoff
from astro.tracking.dataset import absolute, dataset_input
from astro.tracking.store import configure, probe
from astro.tracking.tags import PARENT_RUN_ID

log = logging.getLogger(__name__)
PARAM_VALUE_LIMIT = 6000
OFFLINE_JOURNAL = "mlflow_offline.jsonl"
DATASET_RETRY_S = 0.5


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


class Tracker:
    """The MLflow run of a job, resilient to the store going away.

    If the store cannot be reached (at start or mid-run), training carries on: a single warning is
    logged and every later call is appended to `mlflow_offline.jsonl` in the run's folder, which
    `python -m astro sync RUN_DIR` (astro.tracking.sync) replays into a store once it is back.
    """

    def __init__(
        self, tracking_uri: str, experiment: str, artifact_root: str | None = None, offline_dir=None
    ) -> None:
        self.tracking_uri, self.experiment = tracking_uri, experiment
        self.offline_dir = Path(offline_dir) if offline_dir else Path.cwd()
        # Explicit run ids through MlflowClient, never MLflow's process-wide "active run": jobs that
        # share a process (sweeps, tests) cannot leak a run into each other, even after a failure.
        self._run_id: str | None = None
        self.last_run_id: str | None = None
        self.offline = False
        self.experiment_id: str | None = None
        self.client: MlflowClient | None = None
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no bars in a run's log
        try:
            probe(tracking_uri)
            self.experiment_id = configure(tracking_uri, experiment, artifact_root)
            self.client = MlflowClient(tracking_uri)
        except Exception as exc:
            self._go_offline(exc)

    @property
    def run_id(self) -> str | None:
        return self._run_id

    @property
    def journal(self) -> Path:
        return self.offline_dir / OFFLINE_JOURNAL

    def start(
        self, run_name: str | None = None, tags: dict[str, str] | None = None, run_id: str | None = None
    ) -> str | None:
        """Start a run, or continue `run_id` (a resumed job keeps its MLflow run)."""
        # Tests and sweeps run jobs back to back in one process: never inherit a stale env run id
        # (MLflow would also continue that run instead of nesting under parent_run_id).
        os.environ.pop("MLFLOW_RUN_ID", None)
        parent, job_tags = handoff.received()
        tags = {**job_tags, **(tags or {})}
        self._record("start", run_name=run_name, tags=tags, experiment=self.experiment)
        if not self.offline:
            try:
                if parent:
                    tags[PARENT_RUN_ID] = parent
                if run_id:
                    self.client.update_run(run_id, status="RUNNING")
                    if parent:  # a retried sweep trial joins the sweep that re-ran it
                        self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])
                else:
                    run_id = self.client.create_run(
                        self.experiment_id, run_name=run_name, tags=resolve_tags(tags)
                    ).info.run_id
                self._run_id = self.last_run_id = run_id
            except Exception as exc:
                self._go_offline(exc)
        return self.last_run_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        flat = flatten(params)
        batch = [Param(key, value) for key, value in flat.items()]
        self._call("params", lambda: self._batches(params=batch), params=flat)

    def log_metrics(
        self, metrics: Mapping[str, float], step: int | None = None, model_id: str | None = None
    ) -> None:
        """With model_id, the metrics are also the scores of that LoggedModel (its page, the Models tab)."""
        values = {k: float(v) for k, v in metrics.items()}
        now = int(time.time() * 1000)
        batch = [Metric(key, value, now, step or 0, model_id=model_id) for key, value in values.items()]
        self._call("metrics", lambda: self._batches(metrics=batch), metrics=values, step=step)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        self._call(
            "artifact",
            lambda: self.client.log_artifact(self._run_id, str(path), artifact_path),
            path=str(Path(path).resolve()),
            artifact_path=artifact_path,
        )

    def log_artifacts(self, directory: str | Path, artifact_path: str | None = None) -> None:
        self._call(
            "artifacts",
            lambda: self.client.log_artifacts(self._run_id, str(directory), artifact_path),
            path=str(Path(directory).resolve()),
            artifact_path=artifact_path,
        )

    def log_dataset(
        self, name: str, source: str, digest: str, profile: Mapping[str, Any], context: str = "training"
    ) -> None:
        """A dataset input of the run (name, source path, digest; see tracking_dataset): the training data,
        or with context "adaptation" the unlabelled target images."""
        record = {"name": name, "source": absolute(str(source)), "digest": digest, "profile": dict(profile)}
        record |= {"context": context} if context != "training" else {}
        self._call("dataset", lambda: self._log_inputs(dataset_input(**record)), **record)

    def _log_inputs(self, dataset: DatasetInput) -> None:
        """MLflow inserts a dataset after checking that it is absent, so the jobs of a sweep that log the
        same new dataset at once race, and the losers get a unique-key error (sqlite and PostgreSQL alike).
        The second try finds the winner's row and links it."""
        try:
            self.client.log_inputs(self._run_id, datasets=[dataset])
        except MlflowException:
            time.sleep(DATASET_RETRY_S)
            self.client.log_inputs(self._run_id, datasets=[dataset])

    def set_tags(self, tags: Mapping[str, str]) -> None:
        batch = [RunTag(key, str(value)) for key, value in tags.items()]
        self._call("tags", lambda: self._batches(tags=batch), tags=dict(tags))

    def end(self, status: str = "FINISHED") -> None:
        self._record("end", status=status)
        if self._run_id is not None:
            run_id = self._run_id
            self._call(
                "end", lambda: self.client.set_terminated(run_id, status), status=status, journal=False
            )
            self._run_id = None

    def _batches(self, params=(), metrics=(), tags=()) -> None:
        """log_batch within MLflow's per-request limits (100 params/tags, 1000 metrics)."""
        for start in range(0, max(len(params), len(tags)), 100):
            self.client.log_batch(
                self._run_id, params=params[start : start + 100], tags=tags[start : start + 100]
            )
        for start in range(0, len(metrics), 1000):
            self.client.log_batch(self._run_id, metrics=metrics[start : start + 1000])

    def _call(self, op: str, fn, journal: bool = True, **record: Any) -> None:
        if not self.offline and self._run_id is not None:
            try:
                fn()
                return
            except Exception as exc:
                self._go_offline(exc)
        if journal:
            self._record(op, **record)

    def _record(self, op: str, **record: Any) -> None:
        """Append to the offline journal (only once offline; the start record is kept for replay)."""
        if op == "start":
            self._start_record = {"op": op, **record}
            return
        if not self.offline:
            return
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        with open(self.journal, "a") as fh:
            if fh.tell() == 0:  # the run it continues, when the store went away mid-run
                start = {**getattr(self, "_start_record", {"op": "start"}), "run_id": self.last_run_id}
                fh.write(json.dumps(start) + "\n")
            fh.write(json.dumps({"op": op, **record}, default=str) + "\n")

    def _go_offline(self, exc: Exception) -> None:
        if not self.offline:
            log.warning(
                "MLflow store %s unreachable (%s: %s); training continues, tracking goes to %s "
                "(replay later: python -m astro sync %s)",
                self.tracking_uri,
                type(exc).__name__,
                str(exc).splitlines()[0][:200],
                self.journal,
                self.offline_dir,
            )
        self.offline = True
        self._run_id = None
