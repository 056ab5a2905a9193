"""What a user made under astro's flat layout (before the concept packages) still works: checkpoints whose
card names the old `_target_`s, a registered pyfunc model pickled under its old module, and resume=auto of
a run whose fingerprint the old code wrote (astro.checkpoint.moved)."""

from __future__ import annotations

import importlib
import shutil
import signal
from dataclasses import replace
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from hydra.utils import get_class, get_method, instantiate
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from astro.checkpoint.io import load_checkpoint, save_checkpoint
from astro.checkpoint.moved import MOVED, flat_layout
from astro.data.synthetic import synthetic_path
from astro.serving.classifier import Classifier
from astro.serving.pyfunc import GalaxyMorphologyModel, example_image, save_served_model
from astro.training.resume import _digest, _result_tree, config_hashes
from evaluate import evaluate
from tests.conftest import compose_train, run_script
from tests.test_predict import run_predict
from tests.test_resume import args, results, single_run, start, wait_for

# The flat layout's names of the training config's targets, written out as astro 0.1 wrote them.
FLAT_TARGETS = {
    "loss": "astro.losses.FocalLoss",
    "sampler": "astro.samplers.weighted",
    "optimizer": "astro.optim.adamw",
    "scheduler": "astro.optim.warmup_cosine",
}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_every_old_module_name_gives_its_new_module_s_objects(old):
    module, new = importlib.import_module(old), importlib.import_module(MOVED[old])
    public = [name for name in vars(new) if not name.startswith("_") and name[0].isupper()]
    for name in public:
        assert getattr(module, name) is getattr(new, name)


def test_old_targets_instantiate_the_same_classes():
    assert get_class("astro.losses.FocalLoss") is get_class("astro.training.losses.FocalLoss")
    sampler = instantiate({"_target_": "astro.samplers.weighted", "_partial_": True})
    assert sampler.func is get_method("astro.training.samplers.weighted")


def test_the_flat_fingerprint_is_the_one_the_old_code_wrote():
    cfg = compose_train(["paths.output_dir=/run"])
    tree = _result_tree(cfg)
    assert tree["loss"]["_target_"] == "astro.training.losses.FocalLoss"
    tree["loss"]["_target_"] = FLAT_TARGETS["loss"]
    tree["sampler"]["_target_"] = FLAT_TARGETS["sampler"]
    tree["optim"]["optimizer"]["_target_"] = FLAT_TARGETS["optimizer"]
    tree["optim"]["scheduler"]["_target_"] = FLAT_TARGETS["scheduler"]
    current, flat = config_hashes(cfg)
    assert flat == _digest(tree) and current != flat


def flat_checkpoint(best: Path, path: Path) -> Path:
    """best.pt as the flat layout wrote it: the card's config names the old modules."""
    checkpoint = load_checkpoint(best)
    old = replace(checkpoint.card, config=flat_layout(checkpoint.card.config))
    assert old.config["loss"]["_target_"] == FLAT_TARGETS["loss"]
    return save_checkpoint(path, replace(checkpoint, card=old))


@pytest.mark.slow
def test_a_checkpoint_naming_old_targets_evaluates_predicts_and_serves(smoke_model, data_dir, tmp_path):
    old = flat_checkpoint(smoke_model["checkpoint"], tmp_path / "old" / "best.pt")
    h5 = synthetic_path(data_dir / "synthetic", 300, seed=0)
    by_old = pq.read_table(run_predict(old, h5, tmp_path / "old.parquet"))
    by_new = pq.read_table(run_predict(smoke_model["checkpoint"], h5, tmp_path / "new.parquet"))
    assert by_old["confidence"] == by_new["confidence"]
    overrides = [f"checkpoint={old}", f"output_dir={tmp_path / 'eval'}", f"tracking.uri={smoke_model['uri']}"]
    scores = evaluate(compose_train(overrides, name="evaluate"))
    assert 0 <= scores["eval/test/macro_f1"] <= 1
    demo = Classifier(load_checkpoint(old)).predict(example_image())
    assert demo == pytest.approx(
        Classifier.from_checkpoint(smoke_model["checkpoint"]).predict(example_image())
    )


@pytest.mark.slow
def test_a_model_registered_under_the_old_module_name_still_loads_and_predicts(
    smoke_model, data_dir, tmp_path, monkeypatch
):
    old = flat_checkpoint(smoke_model["checkpoint"], tmp_path / "old" / "best.pt")
    importlib.import_module("astro.served_model")
    monkeypatch.setattr(GalaxyMorphologyModel, "__module__", "astro.served_model")  # pickled by that name
    folder = save_served_model(old, tmp_path / "model")
    monkeypatch.undo()
    assert b"astro.served_model" in (folder / "python_model.pkl").read_bytes()

    uri = smoke_model["uri"]
    client = MlflowClient(uri, registry_uri=uri)
    run = client.create_run(client.get_experiment_by_name("astro-debug").experiment_id)
    client.log_artifacts(run.info.run_id, str(folder), "model")
    client.set_terminated(run.info.run_id)
    client.create_registered_model("flat-layout")
    version = client.create_model_version("flat-layout", f"runs:/{run.info.run_id}/model", run.info.run_id)
    client.set_registered_model_alias("flat-layout", "champion", version.version)

    mlflow.set_registry_uri(uri)
    mlflow.set_tracking_uri(uri)
    try:
        model = mlflow.pyfunc.load_model("models:/flat-layout@champion")
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
    served = model.predict(pd.DataFrame({"image": [example_image()]}))
    classifier = Classifier.from_checkpoint(smoke_model["checkpoint"])
    expected = classifier.predict(example_image())
    np.testing.assert_allclose(served.iloc[0], [expected[n] for n in classifier.class_names], atol=1e-6)
    h5 = synthetic_path(data_dir / "synthetic", 300, seed=0)
    by_alias = run_predict("models:/flat-layout@champion", h5, tmp_path / "a.parquet", f"tracking.uri={uri}")
    assert pq.read_table(by_alias).num_rows == 300


@pytest.mark.slow
def test_resume_auto_continues_a_run_started_under_the_flat_layout(data_dir, tmp_path, store):
    proc = start(args(data_dir, tmp_path, store, "first"))
    wait_for(tmp_path / "first" / "train.log", "epoch 1/4", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # What the old code wrote: its fingerprint in the run's tag and in last.pt, its targets in the card.
    cfg = OmegaConf.load(tmp_path / "first" / "config_resolved.yaml")
    flat = _digest(flat_layout(_result_tree(cfg)))
    client, run = single_run(store["uri"])
    client.set_tag(run.info.run_id, "astro.config_hash", flat)
    last_pt = tmp_path / "first" / "checkpoints" / "last.pt"
    last = load_checkpoint(last_pt)
    card = replace(last.card, config=flat_layout(last.card.config))
    save_checkpoint(last_pt, replace(last, card=card, resume=replace(last.resume, config_hash=flat)))
    shutil.rmtree(tmp_path / "first" / "eval", ignore_errors=True)

    resumed = run_script("train.py", *args(data_dir, tmp_path, store, "second"), "resume=auto")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "differs" not in resumed.stderr
    assert results(tmp_path / "first")["test/macro_f1"] >= 0
    client, run = single_run(store["uri"])
    assert run.info.status == "FINISHED"
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "epoch/val_macro_f1")]
    assert steps == [1, 2, 3, 4]
    assert torch.load(last_pt, weights_only=False)["resume"]["epoch"] == 4
