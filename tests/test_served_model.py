"""The run's pyfunc model/: same probabilities as the demo, registered with an alias, served over REST."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from importlib import metadata
from pathlib import Path

import mlflow.artifacts
import mlflow.pyfunc
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from mlflow.tracking import MlflowClient
from packaging.requirements import Requirement
from PIL import Image

from astro.checkpoint.io import load_checkpoint
from astro.comparison.registry import main as register
from astro.data.synthetic import synthetic_path
from astro.serving.classifier import Classifier
from astro.serving.pyfunc import example_image
from tests.conftest import ROOT
from tests.test_predict import run_predict


@pytest.fixture(scope="module")
def run_id(smoke_model) -> str:
    return load_checkpoint(smoke_model["checkpoint"]).card.training.run_id


def _expected(classifier: Classifier, image) -> list[float]:
    probs = classifier.predict(image)
    return [probs[name] for name in classifier.class_names]


def logged_model(uri: str, run_id: str):
    client = MlflowClient(uri)
    experiment_id = client.get_run(run_id).info.experiment_id
    (model,) = client.search_logged_models([experiment_id], filter_string=f"source_run_id = '{run_id}'")
    return model


def test_training_logs_a_logged_model_from_code_with_its_run_s_params_and_metrics(smoke_model, run_id):
    model = logged_model(smoke_model["uri"], run_id)
    assert model.name == "model" and model.source_run_id == run_id
    assert model.params["loss.gamma"] == "2.0" and model.params["choice.model"] == "astro_cnn"
    assert {m.key for m in model.metrics} >= {"test/macro_f1", "kept/val_macro_f1"}
    local = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=model.artifact_location, tracking_uri=smoke_model["uri"]
        )
    )
    files = {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()}
    assert "python_model.pkl" not in files and not any(f.startswith("code/") for f in files)
    requirements = (local / "requirements.txt").read_text().split()
    assert any(r.startswith("astro==") for r in requirements)
    torch_needs = [Requirement(r) for r in requirements if Requirement(r).name == "torch"]
    assert torch_needs and torch_needs[0].specifier.contains(metadata.version("torch").split("+")[0])


def test_training_logs_a_pyfunc_model_that_matches_the_demo(smoke_model, run_id, tmp_path):
    mlflow.set_tracking_uri(smoke_model["uri"])
    try:
        model = mlflow.pyfunc.load_model(f"models:/{logged_model(smoke_model['uri'], run_id).model_id}")
    finally:
        mlflow.set_tracking_uri(None)
    assert model.metadata.signature.inputs.input_names() == ["image"]
    classifier = Classifier.from_checkpoint(smoke_model["checkpoint"])
    array = np.asarray(Image.open(io.BytesIO(example_image())).convert("RGB"))
    out = model.predict(pd.DataFrame({"image": [example_image(), array]}))
    assert list(out.columns) == classifier.class_names
    np.testing.assert_allclose(out.iloc[0], _expected(classifier, example_image()), atol=1e-6)
    np.testing.assert_allclose(out.iloc[1], _expected(classifier, Image.fromarray(array)), atol=1e-6)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_ping(url: str, server: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stderr.read().decode()[-3000:]
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"{url}/ping did not answer within {timeout} s")


@pytest.mark.slow
def test_register_champion_then_predict_and_serve_it(smoke_model, run_id, data_dir, tmp_path):
    uri = smoke_model["uri"]
    registered = register(["--runs", run_id, "--tracking-uri", uri])
    assert registered.uri() == "models:/galaxy-morphology@champion" and registered.run_id == run_id

    h5 = synthetic_path(data_dir / "synthetic", 300, seed=0)
    by_alias = run_predict(registered.uri(), h5, tmp_path / "a.parquet", f"tracking.uri={uri}")
    by_path = run_predict(smoke_model["checkpoint"], h5, tmp_path / "b.parquet")
    assert pq.read_table(by_alias)["confidence"] == pq.read_table(by_path)["confidence"]

    port = _free_port()
    venv_bin = str(Path(sys.executable).parent)  # where `mlflow models serve` finds uvicorn (an active venv)
    path = f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "PATH": path, "MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri}
    env["PYTHONPATH"] = str(ROOT)  # the model's code imports astro: this checkout's
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            registered.uri(),
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            "1",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_ping(url, server)
        body = {
            "dataframe_split": {"columns": ["image"], "data": [[base64.b64encode(example_image()).decode()]]}
        }
        request = urllib.request.Request(
            f"{url}/invocations", json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            predictions = json.load(response)["predictions"]
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    classifier = Classifier.from_checkpoint(smoke_model["checkpoint"])
    served = [predictions[0][name] for name in classifier.class_names]
    np.testing.assert_allclose(served, _expected(classifier, example_image()), atol=1e-6)
