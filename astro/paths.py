"""Where the project's files live by default: its root, and the MLflow store every command shares."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def default_tracking_uri() -> str:
    """MLFLOW_TRACKING_URI when set (a server, another store), else the project's sqlite file."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"
