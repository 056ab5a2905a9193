"""`python -m astro dashboard`: optuna-dashboard serves a sweep's study on loopback, its page and its
trials. optuna-dashboard needs optuna >= 3: run on the next stack (`make test-next`), skipped elsewhere."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import optuna
import pytest

from tests.conftest import ROOT

pytest.importorskip("optuna_dashboard", reason="optuna-dashboard is on the next stack only: `make test-next`")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read().decode()


def test_the_dashboard_serves_the_studys_page_on_loopback(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(study_name="other", storage=storage)
    study = optuna.create_study(study_name="focal_optuna", storage=storage, direction="maximize")
    study.optimize(lambda t: -((t.suggest_float("loss.gamma", 0, 5) - 2) ** 2), n_trials=3)
    port = free_port()
    command = ["dashboard", "--storage", storage, "--study", "focal_optuna", "--port", str(port)]
    server = subprocess.Popen(
        [sys.executable, "-m", "astro", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        first = server.stdout.readline()
        page = f"http://127.0.0.1:{port}/dashboard/studies/{study._study_id}"
        assert page in first, first
        deadline = time.monotonic() + 60
        while True:
            try:
                status, kind, body = fetch(f"http://127.0.0.1:{port}/api/studies/{study._study_id}")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the dashboard did not answer"
                time.sleep(0.5)
        detail = json.loads(body)
        assert status == 200 and detail["name"] == "focal_optuna" and len(detail["trials"]) == 3
        status, kind, html = fetch(page)
        assert status == 200 and "text/html" in kind and "<html" in html.lower()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_missing_study_is_one_line(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna.create_study(study_name="s", storage=storage)
    out = subprocess.run(
        [sys.executable, "-m", "astro", "dashboard", "--storage", storage, "--study", "nope"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == 1 and "no Optuna study 'nope'" in out.stderr and "Traceback" not in out.stderr
