"""MLflow as its users expect: experiments tagged as model training, the training data as a dataset input."""

from __future__ import annotations

import json

import pytest
from mlflow.tracking import MlflowClient

from astro.data.galaxy10 import Galaxy10H5
from astro.data.synthetic import generate_h5
from astro.tracking import Tracker
from astro.tracking_dataset import source_digest
from astro.tracking_sync import sync

KIND = "mlflow.experimentKind"


@pytest.fixture(scope="module")
def h5(tmp_path_factory: pytest.TempPathFactory) -> Galaxy10H5:
    path = tmp_path_factory.mktemp("data") / "galaxy10_synthetic_n10_seed0.h5"
    generate_h5(str(path), 10, seed=0)
    return Galaxy10H5(str(path))


def test_experiments_are_tagged_as_model_training_once_and_a_chosen_kind_is_kept(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    client.create_experiment("before")  # made by an older astro, without the tag
    client.set_experiment_tag(client.create_experiment("chosen"), KIND, "genai_development")
    for name in ("new", "before", "chosen"):
        Tracker(uri, name, str(tmp_path / "art"))
    kinds = {name: client.get_experiment_by_name(name).tags.get(KIND) for name in ("new", "before", "chosen")}
    assert kinds == {
        "new": "custom_model_development",
        "before": "custom_model_development",
        "chosen": "genai_development",
    }


def test_the_training_data_is_the_runs_dataset_input(tmp_path, h5):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(uri, "exp", str(tmp_path / "art"))
    run_id = tracker.start("r")
    digest = source_digest(h5.fingerprint())
    tracker.log_dataset("synthetic", h5.path, digest, {"num_images": len(h5), "image_size": 64})
    tracker.end()
    (entry,) = MlflowClient(uri).get_run(run_id).inputs.dataset_inputs
    dataset = entry.dataset
    assert (dataset.name, dataset.digest, dataset.source_type) == ("synthetic", digest, "local")
    assert json.loads(dataset.source) == {"uri": h5.path} and len(digest) == 12
    assert json.loads(dataset.profile) == {"num_images": 10, "image_size": 64}
    assert [(tag.key, tag.value) for tag in entry.tags] == [("mlflow.data.context", "training")]


def test_a_dataset_logged_offline_is_journaled_and_synced(tmp_path, h5, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(uri, "exp", str(tmp_path / "art"), tmp_path / "run")
    tracker.start("r")

    def down(*args, **kwargs):
        raise ConnectionError("store went away")

    monkeypatch.setattr(tracker.client, "log_inputs", down)
    tracker.log_dataset("synthetic", h5.path, "abc", {"num_images": 10})
    tracker.end()
    records = [
        json.loads(line) for line in (tmp_path / "run" / "mlflow_offline.jsonl").read_text().splitlines()
    ]
    assert [r["op"] for r in records] == ["start", "dataset", "end"]
    run_id = sync(tmp_path / "run", uri)
    (entry,) = MlflowClient(uri).get_run(run_id).inputs.dataset_inputs
    assert (entry.dataset.name, entry.dataset.digest, json.loads(entry.dataset.source)) == (
        "synthetic",
        "abc",
        {"uri": h5.path},
    )
