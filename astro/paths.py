"""Where the project's files live by default: its root, and the MLflow store every command shares."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def default_tracking_uri() -> str:
    """MLFLOW_TRACKING_URI when set (a server, another store), else the project's sqlite file."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"


def default_artifact_root(tracking_uri: str) -> str | None:
    """Where a new experiment keeps its artifacts: beside the sqlite file (`<its folder>/mlartifacts`:
    the project's mlartifacts/ for the project's store, and beside any other sqlite file
    MLFLOW_TRACKING_URI names); None for a server, which then decides (its --artifacts-destination)."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    return str(Path(tracking_uri.removeprefix("sqlite:///")).expanduser().resolve().parent / "mlartifacts")
