"""Crash safety: kill -9 / SIGTERM mid-run and resume=auto gives the uninterrupted result; NaN fails
cleanly; an unreachable MLflow store does not stop training."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from astro.checkpoint.io import load_checkpoint
from tests.conftest import ROOT, run_script, smoke_overrides

pytestmark = pytest.mark.slow


def args(data_dir: Path, tmp_path: Path, store: dict[str, str], run_dir: str) -> list[str]:
    """Smoke data at batch size 8: ~26 steps per epoch, so a signal lands inside an epoch."""
    return [
        *smoke_overrides(data_dir, tmp_path, store),
        "epochs=4",
        "batch_size=8",
        f"hydra.run.dir={tmp_path / run_dir}",
    ]


def start(argv: list[str]) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(log: Path, text: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if log.exists() and text in log.read_text():
            return
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.02)
    raise AssertionError(f"'{text}' never appeared in {log}")


def results(run_dir: Path) -> dict[str, float]:
    return json.loads((run_dir / "results.json").read_text())


@pytest.fixture(scope="module")
def reference(data_dir, tmp_path_factory) -> dict[str, float]:
    """The uninterrupted run that resumed runs must reproduce."""
    tmp_path = tmp_path_factory.mktemp("reference")
    store = {"uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "artifact_root": str(tmp_path / "art")}
    done = run_script("train.py", *args(data_dir, tmp_path, store, "run"))
    assert done.returncode == 0, done.stderr[-2000:]
    return results(tmp_path / "run")


def single_run(uri: str):
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("astro-debug").experiment_id])
    assert len(runs) == 1, "resume must continue the same MLflow run, not start another"
    return client, runs[0]


def assert_same_result(resumed: dict, reference: dict) -> None:
    for key in ("test/macro_f1", "test/accuracy", "test/macro_auc", "val/macro_f1"):
        assert resumed[key] == pytest.approx(reference[key], abs=1e-6), key


def test_kill_9_then_resume_auto_equals_an_uninterrupted_run(data_dir, tmp_path, store, reference):
    proc = start(args(data_dir, tmp_path, store, "first"))
    wait_for(tmp_path / "first" / "train.log", "epoch 1/4", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    last = load_checkpoint(tmp_path / "first" / "checkpoints" / "last.pt")
    assert 1 <= last.resume.epoch < 4
    resumed = run_script("train.py", *args(data_dir, tmp_path, store, "second"), "resume=auto")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert_same_result(results(tmp_path / "first"), reference)
    client, run = single_run(store["uri"])
    assert run.info.status == "FINISHED"
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "epoch/val_macro_f1")]
    assert steps == [1, 2, 3, 4]  # no epoch repeated, none lost


def test_sigterm_stops_after_a_step_marks_killed_and_resumes_mid_epoch(data_dir, tmp_path, store, reference):
    proc = start(args(data_dir, tmp_path, store, "first"))
    wait_for(tmp_path / "first" / "train.log", "epoch 2/4", proc)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "stopped by SIGTERM" in stderr and "resume=auto" in stderr and "Traceback" not in stderr
    _, run = single_run(store["uri"])
    assert run.info.status == "KILLED"
    last = load_checkpoint(tmp_path / "first" / "checkpoints" / "last.pt")
    partial = last.resume.partial
    if partial is not None:  # stopped inside an epoch: its batch order and progress are saved
        assert 0 < partial.progress.steps < len(partial.plan)
    resumed = run_script("train.py", *args(data_dir, tmp_path, store, "second"), "resume=auto")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert_same_result(results(tmp_path / "first"), reference)
    assert single_run(store["uri"])[1].info.status == "FINISHED"


def test_non_finite_loss_fails_the_run_with_the_likely_cause(data_dir, tmp_path, store):
    done = run_script("train.py", *args(data_dir, tmp_path, store, "run"), "optim.optimizer.lr=1e30")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "loss became nan/inf at epoch" in done.stderr and "optim.optimizer.lr" in done.stderr
    _, run = single_run(store["uri"])
    assert run.info.status == "FAILED" and "NonFiniteLossError" in run.data.tags["astro.error"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_store_keeps_training_and_syncs_later(data_dir, tmp_path):
    uri = f"http://127.0.0.1:{closed_port()}"
    run_args = args(data_dir, tmp_path, {"uri": uri, "artifact_root": str(tmp_path / "art")}, "run")
    done = run_script("train.py", *run_args, "epochs=2")
    assert done.returncode == 0, done.stderr[-2000:]
    log = (tmp_path / "run" / "train.log").read_text()
    assert sum("unreachable (" in line for line in log.splitlines()) == 1  # warned once
    journal = tmp_path / "run" / "mlflow_offline.jsonl"
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [r["step"] for r in records if r["op"] == "metrics" and "epoch/val_macro_f1" in r["metrics"]] == [
        1,
        2,
    ]
    store = f"sqlite:///{tmp_path / 'later.db'}"
    synced = subprocess.run(
        [sys.executable, "-m", "astro", "sync", str(tmp_path / "run"), "--tracking-uri", store],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert synced.returncode == 0, synced.stderr[-2000:]
    client, run = single_run(store)
    assert run.info.status == "FINISHED" and "test/macro_f1" in run.data.metrics
    assert [m.step for m in client.get_metric_history(run.info.run_id, "epoch/val_macro_f1")] == [1, 2]
    assert run.data.params["loss.gamma"] == "2.0"


def test_last_checkpoint_holds_the_full_training_state(data_dir, tmp_path, store):
    done = run_script("train.py", *args(data_dir, tmp_path, store, "run"), "epochs=1")
    assert done.returncode == 0, done.stderr[-2000:]
    last = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    state = last.resume
    assert state.optimizer_state["state"] and state.scheduler_state and last.card.training.run_id
    assert state.epoch == 1 and len(state.history) == 1 and len(state.top_k) == 1
    assert state.config_hash and state.output_dir == str((tmp_path / "run").resolve())
    assert set(state.rng) >= {"python", "numpy", "torch", "generator"}
    assert isinstance(state.rng["generator"], torch.Tensor)


def test_sigterm_stops_the_whole_sweep(data_dir, tmp_path, store):
    sweep_args = [a for a in args(data_dir, tmp_path, store, "unused") if not a.startswith("hydra.run")]
    proc = start(["-m", "seed=1,2", f"hydra.sweep.dir={tmp_path / 'sweep'}", *sweep_args])
    wait_for(tmp_path / "sweep" / "0" / "train.log", "epoch 1/4", proc)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM
    assert not (tmp_path / "sweep" / "1").exists()  # the second job never started
