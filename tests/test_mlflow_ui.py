"""The MLflow UI as `python -m astro ui` opens it, in Debian's chromium with a fresh profile: after a smoke
run, astro's link lands on the runs table, the run's page (opened from it, its URL naming no layout) is
still in the model-training layout, with the per-epoch curves first, and the Models tab lists its model.

ASTRO_SCREENSHOTS=1 also writes the screenshots of docs/tracking_and_sweeps.md into docs/."""

from __future__ import annotations

import os
import re
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
from astro.tracking.ui import LANDING, newest_experiment, runs_url
from astro.tracking.ui_app import LAYOUT_KEY
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
    # astro's link: the newest experiment (the shared store may hold others), through its landing page
    assert link == runs_url(base, newest_experiment(uri), LANDING), (
        "astro's link is not its landing page: is astro's mlflow.app entry point installed (make install)?"
    )
    link = runs_url(base, experiment_id, LANDING)
    runs = re.compile(rf"^{re.escape(base)}/#/experiments/{experiment_id}/runs\?")
    layout = f"localStorage.getItem('{LAYOUT_KEY}')"
    page.set_viewport_size({"width": 1280, "height": 760})

    page.goto(link)  # a fresh profile: pytest-playwright gives each test a new browser context
    expect(page).to_have_url(runs, timeout=TIMEOUT_MS)
    assert page.evaluate(layout) == '"machine_learning"'
    name = run.info.run_name
    expect(page.get_by_role("link", name=name).first).to_be_visible(timeout=TIMEOUT_MS)
    close = page.get_by_role("button", name="Close")  # the Assistant panel, when it opens by itself
    if close.count():
        close.first.click()
    expect(page.get_by_text("Detect Issues")).to_have_count(0)
    shot(page, "mlflow_ui_runs", tmp_path)

    # The run's page: its URL names no layout, so the browser's default decides. Only the model-training
    # layout has the sidebar's "Model registry"; the GenAI one has "Judges" and the breadcrumb "Evaluations".
    page.get_by_role("link", name=name).first.click()
    expect(page).to_have_url(re.compile(rf"/#/experiments/{experiment_id}/runs/{run.info.run_id}"))
    expect(page.get_by_role("link", name="Model registry")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_role("link", name="Evaluations")).to_have_count(0)
    expect(page.get_by_role("link", name="Judges")).to_have_count(0)
    page.get_by_role("tab", name="Model metrics").click()
    expect(page.get_by_text("val_macro_f1").first).to_be_visible(timeout=TIMEOUT_MS)
    page.wait_for_timeout(4000)  # the curves draw after their data arrives
    shot(page, "mlflow_ui_run_metrics", tmp_path)

    page.goto(f"{base}/#/experiments/{experiment_id}/models?workflowType=machine_learning")
    (model,) = client.search_logged_models([experiment_id])
    expect(page.get_by_text(model.name, exact=True).first).to_be_visible(timeout=TIMEOUT_MS)
    shot(page, "mlflow_ui_models", tmp_path)

    # A browser that holds a choice of its own (the sidebar's switch) keeps it.
    page.evaluate(f"localStorage.setItem('{LAYOUT_KEY}', JSON.stringify('genai'))")
    page.goto(link)
    expect(page).to_have_url(runs, timeout=TIMEOUT_MS)
    assert page.evaluate(layout) == '"genai"'
