"""`python -m astro ui` (what `make ui` runs): `mlflow ui` on the project's store, opened on the runs table
of the newest experiment, in the model-training layout on every page with no click.

How MLflow 3.16's UI picks its layout (read from its built JS, mlflow/server/js/build): a `workflowType`
in the page's URL (`genai` or `machine_learning`) wins; else the browser's localStorage key
`mlflow.workflowType_v1` (a JSON string, e.g. `"machine_learning"`), which only the sidebar's
GenAI / Model training switch writes; else GenAI. The experiment's `mlflow.experimentKind` tag is read
only behind a feature flag that this build hard-codes off, and no server flag or setting chooses it. A
run's page, opened from the runs table, has no `workflowType` in its URL. So `mlflow ui` runs with
astro's server app (`--app-name astro`, astro/tracking/ui_app.py) and the link astro opens is its
landing page, which stores the model-training layout unless the browser already holds a choice, then
goes on to the runs table (whose URL also says `workflowType=machine_learning`).
"""

from __future__ import annotations

import importlib.metadata
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
# astro's server app (astro/tracking/ui_app.py, not imported here: it loads MLflow's server): its name in
# pyproject.toml's `mlflow.app` entry points and the path of its landing page.
APP_NAME, LANDING = "astro", "astro-ui"


def runs_url(base: str, experiment_id: str | None, page: str = "") -> str:
    """The runs table of an experiment in the machine-learning layout (the experiment list without one);
    `page=LANDING` opens it through astro's landing page, which makes that layout the browser's default."""
    if experiment_id is None:
        return f"{base}/{page}#/experiments?{WORKFLOW}"
    return f"{base}/{page}#/experiments/{experiment_id}/runs?{WORKFLOW}"


def app_installed() -> bool:
    """Whether astro's `mlflow.app` entry point is installed (an install older than it lacks it)."""
    return bool(importlib.metadata.entry_points(group="mlflow.app", name=APP_NAME))


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
    """Run `mlflow ui` with astro's server app (extra args go to it; --no-browser only prints the link;
    an `--app-name` of the user's, e.g. basic-auth, or `--dev`, which refuses any app, runs without it)."""
    argv = list(argv)
    browse = "--no-browser" not in argv
    argv = [a for a in argv if a != "--no-browser"]
    host, port = _option(argv, "--host", "127.0.0.1"), _option(argv, "--port", "5000")
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    app: list[str] = []
    if not _option(argv, "--app-name", "") and "--dev" not in argv:
        if app_installed():
            app = ["--app-name", APP_NAME]
        else:
            note = "reinstall astro (make install) so that a run's page opens in the model-training layout"
            print(f"note: {note}", file=sys.stderr)
    url = runs_url(base, newest_experiment(uri), LANDING if app else "")
    print(f"astro's runs: {url}", flush=True)
    if browse:
        threading.Thread(target=_open_when_up, args=(base, url), daemon=True).start()
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, *app, *argv]
    return subprocess.call(command)
