"""`python -m astro ui` (what `make ui` runs): `mlflow ui` on the project's store, opened on the runs table
of the newest experiment.

How MLflow 3.16's UI picks its layout (read from its built JS, mlflow/server/js/build): a `workflowType`
in the page's URL (`genai` or `machine_learning`) wins; else the browser's localStorage key
`mlflow.workflowType`, which only the sidebar's GenAI / Machine learning switch writes; else GenAI. The
experiment's `mlflow.experimentKind` tag is read only behind a feature flag that this build hard-codes
off, and no server flag or setting chooses it. So the link astro prints carries
`?workflowType=machine_learning`; one click on the sidebar's "Machine learning" switch makes the browser
remember it for every page (a run's page included).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import urllib.request
import webbrowser
from collections.abc import Sequence

from mlflow.exceptions import MlflowException

from astro.errors import StoreError
from astro.tracking.store import open_store

WORKFLOW = "workflowType=machine_learning"


def runs_url(base: str, experiment_id: str | None) -> str:
    """The runs table of an experiment in the machine-learning layout (the experiment list without one)."""
    if experiment_id is None:
        return f"{base}/#/experiments?{WORKFLOW}"
    return f"{base}/#/experiments/{experiment_id}/runs?{WORKFLOW}"


def newest_experiment(uri: str) -> str | None:
    """The id of the experiment with the most recent activity that has runs; None for an empty store."""
    try:
        client = open_store(uri)
        experiments = sorted(client.search_experiments(), key=lambda e: -(e.last_update_time or 0))
        for experiment in experiments:
            if client.search_runs([experiment.experiment_id], max_results=1):
                return experiment.experiment_id
    except (StoreError, MlflowException):
        return None
    return None


def _option(argv: Sequence[str], name: str, default: str) -> str:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return default


def _open_when_up(base: str, url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2):
                webbrowser.open(url)
                return
        except OSError:
            time.sleep(0.5)


def main(argv: Sequence[str], uri: str) -> int:
    """Run `mlflow ui` (extra args go to it; --no-browser only prints the link)."""
    argv = list(argv)
    browse = "--no-browser" not in argv
    argv = [a for a in argv if a != "--no-browser"]
    host, port = _option(argv, "--host", "127.0.0.1"), _option(argv, "--port", "5000")
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    url = runs_url(base, newest_experiment(uri))
    print(f"astro's runs: {url}", flush=True)
    if browse:
        threading.Thread(target=_open_when_up, args=(base, url), daemon=True).start()
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, *argv]
    return subprocess.call(command)
