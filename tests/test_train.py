"""End to end: train.py and evaluate.py as a user runs them, against temporary MLflow stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from astro.data.galaxy10 import CLASS_NAMES
from tests.conftest import compose_train, run_script, smoke_overrides, store_overrides
from train import train

pytestmark = pytest.mark.slow
EPOCH_METRICS = ("epoch/train_loss", "epoch/val_loss", "epoch/val_macro_f1", "epoch/val_accuracy", "epoch/lr")


def smoke_args(data_dir: Path, tmp_path: Path, store: dict[str, str]) -> list[str]:
    return [
        *smoke_overrides(data_dir, tmp_path, store),
        f"hydra.run.dir={tmp_path / 'run'}",
    ]


def only_run(uri: str, experiment: str = "astro-debug"):
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    assert len(runs) == 1
    return client, runs[0]


@pytest.fixture(scope="module")
def smoke_run(data_dir, tmp_path_factory):
    """One `python train.py debug=smoke` subprocess shared by the checks below."""
    tmp_path = tmp_path_factory.mktemp("smoke")
    store = {"uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "artifact_root": str(tmp_path / "art")}
    result = run_script("train.py", *smoke_args(data_dir, tmp_path, store))
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp_path, store, result


def test_smoke_run_logs_metrics_params_and_artifacts(smoke_run):
    tmp_path, store, _ = smoke_run
    client, run = only_run(store["uri"])
    assert run.info.status == "FINISHED"
    for name in EPOCH_METRICS:
        assert [m.step for m in client.get_metric_history(run.info.run_id, name)] == [1, 2]
    metrics = run.data.metrics
    for name in ("test/macro_f1", "test/macro_auc", "test/accuracy"):
        assert 0.0 <= metrics[name] <= 1.0
    assert {f"test/f1/{c}" for c in CLASS_NAMES} <= set(metrics)
    assert run.data.params["loss.gamma"] == "2.0" and run.data.params["epochs"] == "2"
    assert run.data.params["model.num_parameters"] == "423562"

    def listing(path: str) -> set[str]:
        return {Path(f.path).name for f in client.list_artifacts(run.info.run_id, path)}

    assert {"config_resolved.yaml", "split.json", "class_table.json"} <= listing("setup")
    assert "best.pt" in listing("checkpoints")
    assert {"report.md", "confusion_matrix.png", "roc_curves.png", "pr_curves.png"} <= listing("eval/test")
    assert "training_curves.png" in listing("plots")
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["test/macro_f1"] == pytest.approx(metrics["test/macro_f1"])


def test_a_smoke_run_s_console_is_quiet(smoke_run):
    """What a user reads of a normal run has no artifact-download progress bars and no Python reprs."""
    _, _, result = smoke_run
    console = result.stdout + result.stderr
    assert "Downloading artifacts" not in console, console[-3000:]
    assert " object at 0x" not in console, console[-3000:]


def test_checkpoint_is_self_describing(smoke_run):
    from astro.checkpoint.io import load_checkpoint

    tmp_path, _, _ = smoke_run
    card = load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt").card
    assert card.class_names == CLASS_NAMES and card.preprocessing.image_size == 32
    assert (
        len(card.preprocessing.mean) == 3 and card.training.run_id and card.training.data_name == "synthetic"
    )
    assert card.config["loss"]["gamma"] == 2.0 and card.architecture == "AstroCNN"
    assert card.posthoc.temperature > 0 and len(card.posthoc.prior) == 10 and card.posthoc.tau == 0.0


def test_evaluate_writes_the_report_and_logs_it(smoke_run, tmp_path):
    run_dir, store, _ = smoke_run
    out = tmp_path / "eval"
    result = run_script(
        "evaluate.py",
        f"checkpoint={run_dir / 'run' / 'checkpoints' / 'best.pt'}",
        f"hydra.run.dir={out}",
        "tta=true",
        *store_overrides(store),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for name in (
        "report.md",
        "metrics.json",
        "per_class.csv",
        "confusion_matrix.png",
        "roc_curves.png",
        "pr_curves.png",
    ):
        assert (out / name).stat().st_size > 0
    report = (out / "report.md").read_text()
    assert "| class | precision | recall | F1 (95% bootstrap CI) | ROC-AUC | support |" in report
    assert all(name in report for name in CLASS_NAMES)
    client = MlflowClient(store["uri"])
    exp = client.get_experiment_by_name("astro")
    (evaluation,) = client.search_runs([exp.experiment_id])
    assert 0 <= evaluation.data.metrics["eval/test/macro_f1"] <= 1


def test_train_returns_the_optimized_metric(data_dir, tmp_path, store):
    cfg = compose_train(
        [
            "debug=smoke",
            "epochs=1",
            f"paths.data_dir={data_dir}",
            f"paths.cache_dir={tmp_path / 'cache'}",
            f"paths.output_dir={tmp_path / 'out'}",
            "optimized_metric=val/macro_f1",
            *store_overrides(store),
        ]
    )
    value = train(cfg)
    _, run = only_run(store["uri"])
    assert isinstance(value, float) and value == pytest.approx(run.data.metrics["kept/val_macro_f1"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["epochs=0"], "error: epochs=0 must be a positive integer"),
        (
            ["data=galaxy10", "data.source.path=/nowhere/Galaxy10_DECals.h5"],
            "error: /nowhere/Galaxy10_DECals.h5: file not found",
        ),
        (
            ["loss.alpha=[1.0,2.0]"],
            "error: loss.alpha has 2 values but data 'synthetic' has 10 classes",
        ),
        (["adapt=coral", "data.unlabeled=/nowhere/sdss"], "error: /nowhere/sdss: input not found"),
    ],
)
def test_user_mistakes_are_one_line(data_dir, tmp_path, store, args, message):
    base = smoke_args(data_dir, tmp_path, store)
    if "data=galaxy10" in args:
        base.remove("debug=smoke")  # smoke shrinks the synthetic source; galaxy10 has no such key
    result = run_script("train.py", *base, *args)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("loss=focall", ["Could not find 'loss/focall'", "cross_entropy", "focal"]),
        ("epoch=3", ["Key 'epoch' not in 'TrainSchema'"]),
        ("epochs=many", ["'many'", "epochs"]),
    ],
)
def test_compose_errors_name_the_key_and_the_choices(arg, expected, tmp_path):
    result = run_script("train.py", arg, f"hydra.run.dir={tmp_path}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert all(text in result.stderr for text in expected)


def test_evaluate_with_a_missing_checkpoint_is_one_line(tmp_path):
    result = run_script("evaluate.py", f"checkpoint={tmp_path / 'nope.pt'}", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 1 and "checkpoint not found" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("script", "arg", "expected"),
    [
        ("evaluate.py", "split=bogus", "Invalid value 'bogus', expected one of [train, val, test, all]"),
        ("evaluate.py", "tta=maybe", "Value 'maybe' is not a valid bool"),
        ("predict.py", "format=xlsx", "Invalid value 'xlsx', expected one of [parquet, csv]"),
        ("predict.py", "workers=-1", "workers=-1 must be a positive integer"),
    ],
)
def test_evaluate_and_predict_settings_fail_before_any_work_in_one_line(script, arg, expected, tmp_path):
    extra = ["checkpoint=best.pt"] if script == "evaluate.py" else ["input=in", "output=out.parquet"]
    result = run_script(script, *extra, arg, f"hydra.run.dir={tmp_path}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert expected in result.stderr
