"""`python -m astro importances` on a constructed study whose answer is known: the objective depends on
gamma alone, so gamma carries almost all the importance."""

from __future__ import annotations

import json

import optuna
import pytest

from astro.sweeps import importances as study_importances


@pytest.fixture
def storage(tmp_path):
    uri = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name="known", storage=uri, direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0)
    )
    study.optimize(
        lambda t: -((t.suggest_float("gamma", 0, 5) - 2) ** 2) + 0 * t.suggest_int("epochs", 2, 6), 20
    )
    return uri


def test_the_parameter_the_objective_depends_on_is_the_important_one(storage, tmp_path, capsys):
    out = tmp_path / "importances.json"
    found = study_importances.main(["--study", "known", "--storage", storage, "--out", str(out)])
    assert [item.param for item in found] == ["gamma", "epochs"]
    assert found[0].mean > 0.8 and found[0].low <= found[0].mean <= found[0].high
    assert json.loads(out.read_text())[0]["param"] == "gamma"
    assert "20 COMPLETE trials" in capsys.readouterr().out


def test_a_missing_study_is_one_line(storage, capsys):
    with pytest.raises(SystemExit):
        study_importances.main(["--study", "nope", "--storage", storage])
    err = capsys.readouterr().err
    assert "no Optuna study 'nope'" in err and "Traceback" not in err
