"""MLflow as its users expect: experiments tagged as model training, the training data as a dataset input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from mlflow.tracking import MlflowClient

from astro.data.galaxy10 import Galaxy10H5
from astro.data.synthetic import generate_h5
from astro.tracking.dataset import source_digest
from astro.tracking.sync import sync
from astro.tracking.tracker import Tracker
from tests.conftest import ROOT

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


RACER = """
import sys, time
from pathlib import Path
from astro.tracking.tracker import Tracker
uri, mine, other = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
tracker = Tracker(uri, "sweep", None, mine)
(mine / "ready").write_text("")
while not (other / "ready").exists():
    pass
go = max((mine / "ready").stat().st_mtime, (other / "ready").stat().st_mtime) + 1  # the same for both
for k in range(6):  # six new datasets, each logged by both jobs at the same instant
    run_id = tracker.start(f"job{k}")
    while time.time() < go + 0.5 * k:
        pass
    tracker.log_dataset("synthetic", "/data/g10.h5", f"digest{k}", {"num_images": 10})
    tracker.end()
    print(run_id)
"""


def test_jobs_logging_the_same_new_dataset_at_once_each_keep_it(tmp_path):
    """MLflow checks that a dataset is absent, then inserts it: two jobs of a sweep doing that at once
    race (a unique-key error for one of them), which must not send a job's tracking offline."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    Tracker(uri, "sweep", None, tmp_path)  # the sweep's parent creates the experiment first
    folders = [tmp_path / "job0", tmp_path / "job1"]
    for folder in folders:
        folder.mkdir()
    jobs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, uri, str(folders[i]), str(folders[1 - i])],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [job.communicate(timeout=120) for job in jobs]
    assert all(job.returncode == 0 for job in jobs), [err[-2000:] for _, err in outputs]
    assert not any("unreachable" in err for _, err in outputs), [err[-2000:] for _, err in outputs]
    client = MlflowClient(uri)
    run_ids = [line for out, _ in outputs for line in out.split()]
    digests = [[i.dataset.digest for i in client.get_run(r).inputs.dataset_inputs] for r in run_ids]
    assert sorted(digests) == sorted([[f"digest{k}"] for k in range(6)] * 2)
    assert all(client.get_run(r).info.status == "FINISHED" for r in run_ids)
