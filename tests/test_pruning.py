"""Pruning and the trial bookkeeping of astro's Optuna sweeper, on real studies in sqlite files: a job's
reports reach its trial, a clearly worse trial is pruned, outcomes are told right, and two workers that
ask for the last trial at the same moment never overshoot the study."""

from __future__ import annotations

import pickle
from pathlib import Path

import optuna
import pytest
from hydra.core.utils import JobReturn, JobStatus
from optuna.trial import TrialState

from astro.errors import TrainingInterrupted
from astro.sweeps.trials import UNUSED, SearchSpace, ask_within, keep, settle
from astro.training.pruning import TRIAL_ENV, RunPruned, TrialLink, report_to_trial

optuna.logging.set_verbosity(optuna.logging.WARNING)
MEDIAN = {"_target_": "optuna.pruners.MedianPruner", "n_startup_trials": 3, "n_warmup_steps": 2}


def new_study(tmp_path: Path) -> tuple[optuna.Study, str]:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    return optuna.create_study(study_name="s", storage=url, direction="maximize"), url


def finish(study: optuna.Study, curve: list[float]) -> None:
    trial = study.ask()
    for epoch, value in enumerate(curve, start=1):
        trial.report(value, epoch)
    study.tell(trial, max(curve))


def hook_for(study: optuna.Study, url: str, monkeypatch, pruner=MEDIAN):
    trial = study.ask()
    monkeypatch.setenv(TRIAL_ENV, "")
    TrialLink(url, "s", trial.number, pruner).hand_off()
    seen: list[dict] = []
    return trial, seen, report_to_trial(seen.append, "val/macro_f1")


def test_a_clearly_worse_trial_is_pruned_after_the_warm_up(tmp_path, monkeypatch):
    study, url = new_study(tmp_path)
    for _ in range(3):
        finish(study, [0.30, 0.40, 0.50, 0.55])
    trial, seen, hook = hook_for(study, url, monkeypatch)
    hook({"epoch": 1, "val/macro_f1": 0.05})  # epoch 1 is before the warm-up's end: not judged
    with pytest.raises(RunPruned) as pruned:
        hook({"epoch": 2, "val/macro_f1": 0.06})
    assert (pruned.value.trial, pruned.value.epoch) == (trial.number, 2)
    assert len(seen) == 2  # the run's own hook (MLflow) saw both epochs before pruning
    stored = optuna.load_study(study_name="s", storage=url).trials[trial.number]
    assert stored.intermediate_values == {1: 0.05, 2: 0.06}  # in the storage, from the job's side


def test_a_good_trial_and_a_trial_without_a_pruner_train_on(tmp_path, monkeypatch):
    study, url = new_study(tmp_path)
    for _ in range(3):
        finish(study, [0.30, 0.40, 0.50, 0.55])
    for pruner, value in ((MEDIAN, 0.6), (None, 0.01)):
        _, seen, hook = hook_for(study, url, monkeypatch, pruner)
        for epoch in range(1, 5):
            hook({"epoch": epoch, "val/macro_f1": value})
        assert len(seen) == 4


def test_outside_a_trial_the_run_s_hook_is_unchanged(monkeypatch):
    monkeypatch.delenv(TRIAL_ENV, raising=False)
    hook = print
    assert report_to_trial(hook, "val/macro_f1") is hook


def test_run_pruned_survives_pickling_to_the_launcher():
    back = pickle.loads(pickle.dumps(RunPruned(7, 3, 0.25)))
    assert (back.trial, back.epoch, back.value) == (7, 3, 0.25) and "pruned after epoch 3" in str(back)


def job_return(status: JobStatus, value) -> JobReturn:
    ret = JobReturn(overrides=[], status=status)
    ret._return_value = value
    return ret


def test_each_outcome_is_told_as_what_it_is(tmp_path):
    study, _ = new_study(tmp_path)
    cases = [
        (JobStatus.COMPLETED, 0.5, TrialState.COMPLETE, False),
        (JobStatus.FAILED, RunPruned(1, 3, 0.1), TrialState.PRUNED, False),
        (JobStatus.FAILED, RuntimeError("boom"), TrialState.FAIL, True),
        (JobStatus.COMPLETED, "not a number", TrialState.FAIL, True),
        (JobStatus.FAILED, TrainingInterrupted("stopped", 130), TrialState.RUNNING, True),
    ]
    for status, value, state, is_failure in cases:
        trial = study.ask()
        error = settle(study, trial.number, job_return(status, value))
        assert (error is not None) == is_failure
        assert study.trials[trial.number].state == state, value


def test_two_workers_asking_for_the_last_trial_at_once_do_not_overshoot(tmp_path):
    study, _ = new_study(tmp_path)
    finish(study, [0.5])
    first, second = study.ask(), study.ask()  # both asked before either checked
    assert keep(study, first, target=2)
    assert not keep(study, second, target=2)
    settled = study.trials[second.number]
    assert settled.state == TrialState.FAIL and settled.system_attrs[UNUSED]
    assert ask_within(study, target=2) is None  # decided + running already make 2
    study.tell(first.number, state=TrialState.PRUNED)  # a pruned trial counts as decided
    assert ask_within(study, target=2) is None
    assert ask_within(study, target=3) is not None


def test_each_trial_s_overrides_tell_its_job_the_trial_number(tmp_path):
    study, _ = new_study(tmp_path)
    space = SearchSpace.parse(["loss.gamma=interval(0.0, 5.0)", "epochs=choice(2,4)", "data=gz1_sdss"])
    trial = study.ask()
    overrides = space.overrides(trial)
    assert overrides[-1] == f"++hydra.job.env_set.ASTRO_OPTUNA_TRIAL_NUMBER={trial.number}"
    assert "data=gz1_sdss" in overrides and any(o.startswith("loss.gamma=") for o in overrides)
    assert set(trial.params) == {"loss.gamma", "epochs"}


def test_a_bad_pruner_setting_is_one_line_naming_the_key():
    from omegaconf import OmegaConf

    from astro.errors import ConfigError
    from astro.sweeps.optuna_sweep import check_pruner

    bad = OmegaConf.create({"_target_": "optuna.pruners.MedianPruner", "n_warmup_steps": -1})
    with pytest.raises(
        ConfigError, match=r"^hydra.sweeper.pruner: Number of warmup steps cannot be negative"
    ):
        check_pruner(bad)
    check_pruner(OmegaConf.create({"_target_": "optuna.pruners.NopPruner"}))
