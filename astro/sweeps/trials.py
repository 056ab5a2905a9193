"""One Optuna trial's way through a sweep: its Hydra overrides, and its state from what its job returned.
Shared by the batch and the asynchronous modes (astro.sweeps.optuna_sweep, astro.sweeps.workers)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import optuna
from hydra.core.utils import JobReturn
from hydra_plugins.hydra_optuna_sweeper._impl import create_params_from_overrides
from optuna.distributions import BaseDistribution
from optuna.trial import Trial, TrialState

from astro.errors import TrainingInterrupted
from astro.sweeps.multirun import TRIAL_NUMBER_ENV, job_error
from astro.training.pruning import RunPruned

log = logging.getLogger(__name__)
DECIDED = (TrialState.COMPLETE, TrialState.PRUNED)  # what n_trials counts; FAIL and lost trials re-run
UNUSED = "astro.unused"  # system attr of a trial asked in the same moment as the last one needed


@dataclass(frozen=True)
class SearchSpace:
    """The distributions Optuna samples and the values every trial gets, from the sweeper's params and
    the command line (the plugin's parsing, so both accept the same syntax)."""

    distributions: dict[str, BaseDistribution]
    fixed: dict[str, Any]
    fixed_overrides: tuple[str, ...] = field(default=())

    @classmethod
    def parse(cls, arguments: list[str]) -> SearchSpace:
        distributions, fixed, *rest = create_params_from_overrides(arguments)  # 1.4 adds deletions
        kept = {name: d for name, d in distributions.items() if name not in fixed}
        return cls(kept, fixed, tuple(rest[0]) if rest else ())

    def overrides(self, trial: Trial) -> list[str]:
        """Sample the trial's parameters; the job's overrides, which tell the job its trial number."""
        for name, distribution in self.distributions.items():
            trial._suggest(name, distribution)  # as the plugin does: the distributions are parsed ones
        for name, value in self.fixed.items():
            trial.set_user_attr(name, value)
        params = {**trial.params, **self.fixed}
        return [
            *(f"{name}={value}" for name, value in params.items()),
            *self.fixed_overrides,
            f"++hydra.job.env_set.{TRIAL_NUMBER_ENV}={trial.number}",
        ]


def settle(study: optuna.Study, number: int, ret: JobReturn) -> BaseException | None:
    """Tell the study how the trial's job ended: COMPLETE with its value, PRUNED, or FAIL; return the
    failure, None otherwise. An interrupted job's trial stays RUNNING, so
    re-running the command retries it (with resume=auto, from its last.pt)."""
    error = job_error(ret)
    if isinstance(error, RunPruned):
        study.tell(number, state=TrialState.PRUNED)
        return None
    if isinstance(error, TrainingInterrupted):
        return error
    if error is None:
        try:
            study.tell(number, float(ret.return_value))
            return None
        except (TypeError, ValueError) as bad:
            error = ValueError(f"the job returned {ret.return_value!r}, not a number: {bad}")
    study.tell(number, state=TrialState.FAIL)
    log.warning("Optuna trial %d failed: %s", number, error)
    return error


def claimed(study: optuna.Study, below: int | None = None) -> int:
    """Trials decided or running (those numbered below `below` only, for the running ones)."""
    trials = study.get_trials(deepcopy=False, states=(*DECIDED, TrialState.RUNNING))
    return sum(t.state != TrialState.RUNNING or below is None or t.number < below for t in trials)


def ask_within(study: optuna.Study, target: int) -> Trial | None:
    """The next trial, or None once `target` trials are decided or running. Two workers that ask in the
    same moment for the last trial needed both get one; the higher-numbered one sees the other RUNNING,
    is marked FAIL (system attr astro.unused) and is not run, so the study never overshoots."""
    if claimed(study) >= target:
        return None
    trial = study.ask()
    return trial if keep(study, trial, target) else None


def keep(study: optuna.Study, trial: Trial, target: int) -> bool:
    """Whether a freshly asked trial is needed: fewer than `target` trials are decided or running below
    it. A trial that is not is settled FAIL (marked astro.unused) before it runs."""
    if claimed(study, below=trial.number) < target:
        return True
    study._storage.set_trial_system_attr(trial._trial_id, UNUSED, True)
    study.tell(trial.number, state=TrialState.FAIL)
    return False
