from mlflow.tracking import MlflowClient

from astro.tracking.tracker import Tracker, flatten


def test_flatten_nested_config():
    flat = flatten({"loss": {"gamma": 2.0, "alpha": None}, "widths": [1, 2], "epochs": 3, "empty": {}})
    assert flat == {
        "loss.gamma": "2.0",
        "loss.alpha": "None",
        "widths": "[1, 2]",
        "epochs": "3",
        "empty": "{}",
    }


def test_tracker_logs_to_a_sqlite_store(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(uri, "exp", str(tmp_path / "art"))
    run_id = tracker.start("r", tags={"k": "v"})
    tracker.log_params({"a": {"b": 1}})
    tracker.log_metrics({"val/macro_f1": 0.5}, step=1)
    (tmp_path / "note.txt").write_text("hi")
    tracker.log_artifact(tmp_path / "note.txt", "notes")
    tracker.end()
    run = MlflowClient(uri).get_run(run_id)
    assert run.data.params["a.b"] == "1" and run.data.metrics["val/macro_f1"] == 0.5
    assert run.info.status == "FINISHED" and run.data.tags["k"] == "v"
    assert (tmp_path / "art" / "exp").exists()
    assert [f.path for f in MlflowClient(uri).list_artifacts(run_id, "notes")] == ["notes/note.txt"]


def test_a_store_that_fails_mid_run_switches_to_the_journal_once(tmp_path, monkeypatch, caplog):
    import json

    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "exp", str(tmp_path / "art"), tmp_path / "run")
    tracker.start("r")
    tracker.log_metrics({"val/macro_f1": 0.1}, step=1)

    def down(*args, **kwargs):
        raise ConnectionError("store went away")

    monkeypatch.setattr(tracker.client, "log_batch", down)
    with caplog.at_level("WARNING", logger="astro.tracking.tracker"):
        tracker.log_metrics({"val/macro_f1": 0.2}, step=2)
        tracker.log_metrics({"val/macro_f1": 0.3}, step=3)
        tracker.set_tags({"k": "v"})
    tracker.end("FINISHED")
    assert sum("unreachable" in r.message for r in caplog.records) == 1
    journal = (tmp_path / "run" / "mlflow_offline.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in journal]
    assert [r["op"] for r in records] == ["start", "metrics", "metrics", "tags", "end"]
    assert [r["step"] for r in records if r["op"] == "metrics"] == [2, 3]
    after = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "exp", str(tmp_path / "art"), tmp_path / "run2")
    assert after.start("next") is not None and not after.offline  # no state leaks between jobs
    after.end()


def test_runs_nest_under_a_sweep_parent_and_resume_in_place(tmp_path, monkeypatch):
    from astro.tracking.handoff import PARENT_RUN_ENV

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    parent = Tracker(uri, "exp", str(tmp_path / "art"))
    parent_id = parent.start("parent")
    monkeypatch.setenv(PARENT_RUN_ENV, parent_id)
    child = Tracker(uri, "exp", str(tmp_path / "art"))
    child_id = child.start("child")
    child.end("KILLED")
    again = Tracker(uri, "exp", str(tmp_path / "art"))
    assert again.start(run_id=child_id) == child_id
    again.log_metrics({"m": 1.0}, step=2)
    again.end("FINISHED")
    run = MlflowClient(uri).get_run(child_id)
    assert run.data.tags["mlflow.parentRunId"] == parent_id and run.info.status == "FINISHED"
    assert run.info.run_name == "child" and run.data.metrics["m"] == 1.0


def test_artifacts_go_beside_the_store_that_mlflow_tracking_uri_names(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient
    from omegaconf import OmegaConf

    from astro.tracking.store import configure
    from tests.conftest import compose_train

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{elsewhere / 'mlflow.db'}")
    tracking = compose_train().tracking
    assert tracking.artifact_root == str(elsewhere / "mlartifacts")
    experiment_id = configure(tracking.uri, "beside", tracking.artifact_root)
    location = MlflowClient(tracking.uri).get_experiment(experiment_id).artifact_location
    assert location == (elsewhere / "mlartifacts" / "beside").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert OmegaConf.to_container(compose_train().tracking, resolve=True)["artifact_root"] is None


def test_the_ui_app_is_mlflow_s_server_plus_the_landing_page(monkeypatch):
    """`mlflow ui --app-name astro` (python -m astro ui) finds astro's factory through pyproject.toml's
    entry point; its landing page stores the model-training layout only where the browser has none."""
    import tomllib
    from pathlib import Path

    from fastapi import FastAPI
    from flask import Flask

    from astro.tracking.ui import APP_NAME, LANDING
    from astro.tracking.ui_app import LAYOUT_KEY, create_app

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["mlflow.app"][APP_NAME] == "astro.tracking.ui_app:create_app"
    monkeypatch.setenv("_MLFLOW_SGI_NAME", "waitress")  # a WSGI server gets the Flask app
    page = create_app(Flask("t")).test_client().get(f"/{LANDING}")
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert f'if (localStorage.getItem("{LAYOUT_KEY}") === null)' in text
    assert f'localStorage.setItem("{LAYOUT_KEY}", "\\"machine_learning\\"")' in text
    monkeypatch.setenv("_MLFLOW_SGI_NAME", "uvicorn")  # MLflow's default server gets its ASGI wrapper
    assert isinstance(create_app(Flask("u")), FastAPI)
