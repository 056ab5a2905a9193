"""The MLflow UI as `python -m astro ui` opens it, in Debian's chromium: after a smoke run, the runs table
lists the run, its page shows the per-epoch curves first, and the Models tab lists its model.

ASTRO_SCREENSHOTS=1 also writes the screenshots of docs/tracking_and_sweeps.md into docs/."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from PIL import Image
from playwright.sync_api import expect

from astro.checkpoint.io import load_checkpoint
from astro.tracking.ui import newest_experiment, runs_url
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, ROOT

pytestmark = pytest.mark.slow
TIMEOUT_MS = 60_000


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    """pytest-playwright launches Debian's chromium (CI installs it with apt-get), never a downloaded one."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"no browser: {CHROMIUM} is missing; to run this test install Debian's chromium: "
            "apt-get install chromium (as root; .ci/run does this)"
        )
    return {"executable_path": str(CHROMIUM), "headless": True, "args": CHROMIUM_ARGS}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ui(smoke_model, tmp_path) -> Iterator[tuple[str, str]]:
    """`python -m astro ui --no-browser` on the smoke store, on loopback and a free port; (base, link)."""
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": smoke_model["uri"]}
    log = open(tmp_path / "ui.log", "w")  # noqa: SIM115 (closed below, after the process)
    process = subprocess.Popen(
        [sys.executable, "-m", "astro", "ui", "--no-browser", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (tmp_path / "ui.log").read_text()[-3000:]
            try:
                urllib.request.urlopen(f"{base}/health", timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "ui.log").read_text()[-3000:]
                time.sleep(0.5)
        link = next(line for line in (tmp_path / "ui.log").read_text().splitlines() if "astro's runs" in line)
        yield base, link.split(": ", 1)[1]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def shot(page, name: str, tmp_path: Path) -> None:
    """A small PNG (a 128-colour palette): into docs/ with ASTRO_SCREENSHOTS=1, else tmp_path."""
    raw = tmp_path / f"{name}.raw.png"
    page.screenshot(path=str(raw))
    folder = ROOT / "docs" if os.environ.get("ASTRO_SCREENSHOTS") == "1" else tmp_path
    Image.open(raw).convert("RGB").quantize(128).save(folder / f"{name}.png", optimize=True)


def test_the_ui_opens_on_the_runs_the_run_s_curves_and_its_model(ui, page, smoke_model, tmp_path):
    base, link = ui
    uri = smoke_model["uri"]
    client = MlflowClient(uri)
    run = client.get_run(load_checkpoint(smoke_model["checkpoint"]).card.training.run_id)
    experiment_id = run.info.experiment_id
    assert link == runs_url(base, newest_experiment(uri))  # the shared store may hold other experiments
    link = runs_url(base, experiment_id)
    page.set_viewport_size({"width": 1280, "height": 760})

    # What makes the layout stick for every page (a run's page included): the sidebar's "Model training"
    # switch, clicked once where the URL does not choose the layout; the browser keeps it in localStorage.
    page.goto(f"{base}/#/experiments")
    page.get_by_role("button", name="Model training").click()
    assert page.evaluate("localStorage.getItem('mlflow.workflowType_v1')") == '"machine_learning"'
    page.goto(link)
    close = page.get_by_role("button", name="Close")  # the Assistant panel, when it opens by itself
    if close.count():
        close.first.click()
    name = run.info.run_name
    expect(page.get_by_role("link", name=name).first).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_text("Detect Issues")).to_have_count(0)
    shot(page, "mlflow_ui_runs", tmp_path)

    page.get_by_role("link", name=name).first.click()
    page.get_by_role("tab", name="Model metrics").click()
    expect(page.get_by_text("val_macro_f1").first).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_role("link", name="Judges")).to_have_count(0)  # not the GenAI layout
    page.wait_for_timeout(4000)  # the curves draw after their data arrives
    shot(page, "mlflow_ui_run_metrics", tmp_path)

    page.goto(f"{base}/#/experiments/{experiment_id}/models?workflowType=machine_learning")
    (model,) = client.search_logged_models([experiment_id])
    expect(page.get_by_text(model.name, exact=True).first).to_be_visible(timeout=TIMEOUT_MS)
    shot(page, "mlflow_ui_models", tmp_path)
