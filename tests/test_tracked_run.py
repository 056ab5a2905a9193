from omegaconf import OmegaConf

from astro.tracking.metric_names import epoch_metrics, kept_metrics, selection_score
from astro.tracking.tracker import flatten
from astro.training.naming import readable_params
from astro.training.tracked_run import run_name
from tests.conftest import compose_train


def test_run_name_rounds_a_proposed_gamma_to_three_significant_digits():
    cfg = compose_train(["loss.gamma=0.9575972518944614", "epochs=10"])
    assert run_name(cfg) == "AstroCNN-FocalLoss-g0.958-e10"
    assert run_name(compose_train(["loss.gamma=2.0", "epochs=20"])) == "AstroCNN-FocalLoss-g2-e20"


def test_an_explicit_run_name_says_gamma_and_epochs_too():
    assert run_name(compose_train(["experiment=run1"])) == "run1-g2-e50"
    assert run_name(compose_train(["experiment=run2"])) == "run2-g3-e75"


def test_params_leave_out_hydra_instantiation_keys():
    cfg = compose_train(["paths.output_dir=/run"])
    every, readable = flatten(OmegaConf.to_container(cfg, resolve=True)), flatten(readable_params(cfg))
    assert "loss.gamma" in readable and "optim.optimizer.lr" in readable
    assert not [key for key in readable if key.rsplit(".", 1)[-1].startswith("_")]
    assert len(readable) < len(every)


def test_epoch_curves_come_first_and_the_kept_epoch_is_named():
    row = {
        "epoch": 3,
        "train/loss": 1.0,
        "val/loss": 1.1,
        "val/macro_f1": 0.5,
        "val/accuracy": 0.6,
        "lr": 0.1,
    }
    names = sorted(epoch_metrics({**row, "time/epoch_s": 2.0}))
    assert names[:5] == [
        "epoch/lr",
        "epoch/train_loss",
        "epoch/val_accuracy",
        "epoch/val_loss",
        "epoch/val_macro_f1",
    ]
    assert kept_metrics(row) == {
        "kept/val_loss": 1.1,
        "kept/val_macro_f1": 0.5,
        "kept/val_accuracy": 0.6,
        "kept/epoch": 3.0,
    }
    # MLflow's run page shows sections alphabetically: the curves before the kept model and test.
    assert sorted(["test/f1", "kept", "epoch", "time"])[0] == "epoch"
    assert selection_score({"best/val_macro_f1": 0.4}) == 0.4 and selection_score({}) is None
