"""Train-time adaptation end to end: `python train.py adapt=dann data.unlabeled=<folder>` trains, logs
the alignment curve, and its checkpoint, demo provenance and served model say what it was adapted to."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from astro.checkpoint.io import load_checkpoint
from astro.errors import ConfigError, DataError
from astro.serving.source import provenance
from tests.conftest import compose_train, smoke_overrides
from tests.test_unlabeled import write_pngs
from train import train

pytestmark = pytest.mark.slow


def adapted_cfg(data_dir, tmp_path, store, target, *extra: str):
    return compose_train(
        [
            *smoke_overrides(data_dir, tmp_path, store),
            "adapt=dann",
            f"data.unlabeled={target}",
            f"paths.output_dir={tmp_path / 'out'}",
            "tracking.experiment=adapted",
            *extra,
        ]
    )


def test_dann_training_records_what_the_model_was_adapted_to(data_dir, tmp_path, store):
    write_pngs(tmp_path / "target", 12)
    train(adapted_cfg(data_dir, tmp_path, store, tmp_path / "target"))
    client = MlflowClient(store["uri"])
    (run,) = client.search_runs([client.get_experiment_by_name("adapted").experiment_id])
    assert run.info.status == "FINISHED" and run.data.params["adapt.weight"] == "1.0"
    assert run.info.run_name.endswith("-e2-AdversarialAlignment")  # "-dann" from the command line
    contexts = {d.dataset.name: [t.value for t in d.tags] for d in run.inputs.dataset_inputs}
    assert contexts["target"] == ["adaptation"] and contexts["synthetic"] == ["training"]
    curve = client.get_metric_history(run.info.run_id, "epoch/train_dann_distance")
    assert [m.step for m in curve] == [1, 2] and all(0 < m.value < 5 for m in curve)

    best = load_checkpoint(tmp_path / "out" / "checkpoints" / "best.pt")
    adapted = best.card.adaptation
    assert adapted.method == "AdversarialAlignment" and adapted.images == 12 and adapted.available == 12
    assert adapted.source == str(tmp_path / "target") and adapted.fingerprint.startswith("files:12:")
    about = provenance(best.card, "best.pt", store["uri"]).markdown()
    assert "**adapted to**: AdversarialAlignment (weight 1) to 12 unlabelled images of" in about
    last = load_checkpoint(tmp_path / "out" / "checkpoints" / "last.pt")
    assert "discriminator.0.weight" in last.resume.alignment_state  # a resumed run continues it

    experiment_id = client.get_experiment_by_name("adapted").experiment_id
    (model,) = client.search_logged_models(
        [experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'"
    )
    mlflow.set_tracking_uri(store["uri"])
    served = mlflow.models.get_model_info(f"models:/{model.model_id}").metadata
    assert served["adaptation"]["images"] == 12 and served["adapted_to"].startswith("AdversarialAlignment")


def test_an_unusable_target_stops_before_any_run_is_tracked(data_dir, tmp_path, store):
    (tmp_path / "target").mkdir()
    with pytest.raises(DataError, match="no images in this folder"):
        train(adapted_cfg(data_dir, tmp_path, store, tmp_path / "target"))
    assert MlflowClient(store["uri"]).get_experiment_by_name("adapted") is None
    assert not (tmp_path / "out" / "checkpoints").exists()


def test_a_resume_onto_another_target_or_none_is_refused(data_dir, tmp_path, store):
    write_pngs(tmp_path / "target", 6)
    train(adapted_cfg(data_dir, tmp_path, store, tmp_path / "target", "epochs=1"))
    run_dir = tmp_path / "out"
    write_pngs(tmp_path / "elsewhere", 7)
    with pytest.raises(ConfigError, match=r"was adapted to files:6:.*this run to files:7:"):
        train(adapted_cfg(data_dir, tmp_path, store, tmp_path / "elsewhere", "epochs=2", f"resume={run_dir}"))
    unadapted = [*smoke_overrides(data_dir, tmp_path, store), f"resume={run_dir}", "epochs=2"]
    with pytest.raises(ConfigError, match="this run to no target"):
        train(compose_train([*unadapted, f"paths.output_dir={tmp_path / 'again'}"]))
