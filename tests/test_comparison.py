"""`python -m astro compare`: the seed's Run 1 vs Run 2 comparison rebuilt from MLflow after
`python train.py -m experiment=run1,run2`, and one-line errors for runs that cannot be found."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from astro.comparison import report as comparison
from astro.data.galaxy10 import CLASS_NAMES
from tests.conftest import run_script, smoke_overrides


@pytest.fixture(scope="module")
def seed_runs(data_dir, tmp_path_factory):
    """Both seed recipes at smoke size as one multirun; their job runs in job order and the store."""
    tmp_path = tmp_path_factory.mktemp("seed_runs")
    store = {"uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "artifact_root": str(tmp_path / "art")}
    result = run_script(
        "train.py",
        "-m",
        "experiment=run1,run2",
        *smoke_overrides(data_dir, tmp_path, store),
        "epochs=1",
        f"hydra.sweep.dir={tmp_path / 'multirun'}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(store["uri"])
    experiment = client.get_experiment_by_name("astro-debug").experiment_id
    runs = client.search_runs([experiment], "tags.`astro.sweep.role` = 'job'")
    return tmp_path, store["uri"], sorted(runs, key=lambda run: run.info.run_name)


def rows(text: str, first_cell: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith(f"| {first_cell} |")
    ]


@pytest.mark.slow
def test_run1_vs_run2_table_from_mlflow(seed_runs):
    tmp_path, uri, (run1, run2) = seed_runs
    out = tmp_path / "report"
    text = comparison.main(["--sweep", "experiment", "--tracking-uri", uri, "--out", str(out)]).read_text()

    (first,) = rows(text, "run1-g2-e1")[:1]
    (second,) = rows(text, "run2-g3-e1")[:1]
    assert first[:4] == ["run1-g2-e1", "0", "`experiment=run1`", "FINISHED"]
    assert second[:4] == ["run2-g3-e1", "1", "`experiment=run2`", "FINISHED"]
    for i, key in enumerate(("test/macro_f1", "test/macro_auc", "test/accuracy")):
        value, delta = second[5 + 2 * i], second[6 + 2 * i]
        assert value == f"{run2.data.metrics[key]:.4f}" and first[6 + 2 * i] == "—"
        assert delta == f"{run2.data.metrics[key] - run1.data.metrics[key]:+.4f}"

    best = max((run1, run2), key=lambda run: run.data.metrics["kept/val_macro_f1"])
    assert f"## Best run: {best.info.run_name.split(' | ')[-1]}" in text
    assert "| class | precision | recall | F1 | ROC-AUC |" in text
    assert "| class | run1-g2-e1 | run2-g3-e1 |" in text
    for name in CLASS_NAMES:
        f1 = rows(text, name)[-1]
        assert f1[1] == f"{run1.data.metrics[f'test/f1/{name}']:.3f}"
        assert f1[2].startswith(f"{run2.data.metrics[f'test/f1/{name}']:.3f} (")
    assert (out / "per_class_f1.png").stat().st_size > 0

    assert "## Paired intervals against the baseline" in text and "## Seed groups" not in text
    paired = rows(text, "run2-g3-e1")[1]
    delta = run2.data.metrics["test/macro_f1"] - run1.data.metrics["test/macro_f1"]
    assert paired[1].startswith(f"{delta:+.3f} [") and len(paired) == 2 + len(CLASS_NAMES)


@pytest.mark.slow
def test_runs_by_id_take_the_first_as_baseline_and_latest_finds_the_sweep(seed_runs):
    tmp_path, uri, (run1, run2) = seed_runs
    ids = [run2.info.run_id, run1.info.run_id]
    text = comparison.main(
        ["--runs", *ids, "--tracking-uri", uri, "--out", str(tmp_path / "by_id")]
    ).read_text()
    assert "baseline for Δ: **run2-g3-e1**" in text and rows(text, "run2-g3-e1")[0][6] == "—"
    latest = comparison.main(
        ["--latest", "--tracking-uri", uri, "--out", str(tmp_path / "latest"), "--no-log"]
    )
    assert "| run1-g2-e1 | 0 |" in latest.read_text()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--sweep", "no-such-sweep"],
            "error: no sweep with parent run id, sweep name or run name 'no-such-sweep'",
        ),
        (["--runs", "0123456789abcdef0123456789abcdef"], "error: no run with id '0123456789abcdef"),
    ],
)
def test_runs_that_cannot_be_found_are_one_line(seed_runs, capsys, args, message):
    _, uri, _ = seed_runs
    with pytest.raises(SystemExit) as exit_info:
        comparison.main([*args, "--tracking-uri", uri])
    assert exit_info.value.code == 1 and message in capsys.readouterr().err


def test_a_missing_store_is_one_line(tmp_path: Path, capsys):
    with pytest.raises(SystemExit):
        comparison.main(["--latest", "--tracking-uri", f"sqlite:///{tmp_path / 'nowhere.db'}"])
    assert "error: no MLflow store at sqlite:///" in capsys.readouterr().err
    assert not (tmp_path / "nowhere.db").exists()
