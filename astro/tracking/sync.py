"""Replaying an offline run: a run folder's mlflow_offline.jsonl (written by Tracker while the store was
unreachable) goes into a store: `python -m astro sync RUN_DIR [--tracking-uri URI]`. A run that went
offline mid-run continues its own MLflow run (no duplicate); one that never reached the store becomes a
new run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from astro.paths import default_tracking_uri
from astro.tracking.dataset import dataset_input
from astro.tracking.store import configure
from astro.tracking.tags import SYNCED_FROM
from astro.tracking.tracker import OFFLINE_JOURNAL


def sync(run_dir: str | Path, tracking_uri: str | None = None) -> str:
    """Replay a run folder's offline journal into a store, continuing its run there if it has one; return
    the run's id."""
    journal = Path(run_dir) / OFFLINE_JOURNAL
    if not journal.is_file():
        raise FileNotFoundError(f"{journal}: no offline journal in this run folder")
    records = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    start = records[0]
    uri = tracking_uri or default_tracking_uri()
    configure(uri, start.get("experiment") or "astro")
    status = "FINISHED"
    continued = _existing_run(MlflowClient(uri), start.get("run_id"))
    names = {"run_id": continued} if continued else {"run_name": start.get("run_name")}
    with mlflow.start_run(**names, tags=start.get("tags") or {}) as run:
        for rec in records[1:]:
            if rec["op"] == "params":
                mlflow.log_params(rec["params"])
            elif rec["op"] == "metrics":
                mlflow.log_metrics(rec["metrics"], step=rec.get("step"))
            elif rec["op"] == "tags":
                mlflow.set_tags(rec["tags"])
            elif rec["op"] == "artifact" and Path(rec["path"]).exists():
                mlflow.log_artifact(rec["path"], rec.get("artifact_path"))
            elif rec["op"] == "artifacts" and Path(rec["path"]).exists():
                mlflow.log_artifacts(rec["path"], rec.get("artifact_path"))
            elif rec["op"] == "dataset":
                fields = {key: rec[key] for key in ("name", "source", "digest", "profile")}
                MlflowClient(uri).log_inputs(run.info.run_id, datasets=[dataset_input(**fields)])
            elif rec["op"] == "end":
                status = rec["status"]
        mlflow.set_tag(SYNCED_FROM, str(journal))
    MlflowClient(uri).set_terminated(run.info.run_id, status)
    journal.rename(journal.with_suffix(".synced"))
    return run.info.run_id


def _existing_run(client: MlflowClient, run_id: str | None) -> str | None:
    """run_id if the store has that run (the journal may be replayed into another store)."""
    if not run_id:
        return None
    try:
        return client.get_run(run_id).info.run_id
    except MlflowException:
        return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m astro sync", description=__doc__)
    parser.add_argument("run_dir", help="a run folder holding mlflow_offline.jsonl")
    parser.add_argument("--tracking-uri", default=None, help="default: MLFLOW_TRACKING_URI, else ./mlflow.db")
    args = parser.parse_args(argv)
    try:
        run_id = sync(args.run_dir, args.tracking_uri)
    except FileNotFoundError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"synced {args.run_dir} -> MLflow run {run_id}")


if __name__ == "__main__":
    main()
