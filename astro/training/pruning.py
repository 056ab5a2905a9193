"""Optuna pruning inside a training job: report the optimized metric after every epoch to the job's own
trial, through the study's storage, and stop when the study's pruner says so.

The sweeper (hydra_plugins/astro_optuna_sweeper) tells each job its trial, and the sweep callback passes
that on to this process in one environment variable (`TrialLink`); a single run or a plain multirun has
none and trains exactly as before. The job raises RunPruned; whoever launched it tells the study PRUNED
(the sweeper's study holds the trial, and writes from two places would clash).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from astro.config.compat import allowed_targets

log = logging.getLogger(__name__)
TRIAL_ENV = "ASTRO_OPTUNA_TRIAL"  # JSON of a TrialLink
EpochHook = Callable[[dict[str, float]], None]


class RunPruned(Exception):
    """The study's pruner stopped this trial after `epoch`; its checkpoints so far are kept."""

    def __init__(self, trial: int, epoch: int, value: float) -> None:
        super().__init__(trial, epoch, value)
        self.trial, self.epoch, self.value = trial, epoch, value

    def __str__(self) -> str:
        return f"Optuna trial {self.trial} pruned after epoch {self.epoch} (value {self.value:.4f})"


@dataclass(frozen=True)
class TrialLink:
    """Which trial of which study a job trains, and the pruner that judges it (a `_target_` node)."""

    storage: str
    study: str
    trial: int
    pruner: dict[str, Any] | None = None

    def hand_off(self) -> None:
        os.environ[TRIAL_ENV] = json.dumps(asdict(self))

    @staticmethod
    def clear() -> None:
        os.environ.pop(TRIAL_ENV, None)

    @classmethod
    def received(cls) -> TrialLink | None:
        raw = os.environ.get(TRIAL_ENV)
        return cls(**json.loads(raw)) if raw else None


def report_to_trial(on_epoch: EpochHook, metric: str) -> EpochHook:
    """`on_epoch`, followed in an Optuna trial by reporting `metric` and raising RunPruned when the
    study's pruner says so; `on_epoch` itself everywhere else."""
    link = TrialLink.received()
    if link is None:
        return on_epoch
    reporter = TrialReporter(link, metric)

    def hook(row: dict[str, float]) -> None:
        on_epoch(row)
        reporter(row)

    return hook


class TrialReporter:
    """Reports one metric per epoch to a trial in the study's storage and asks the study's pruner."""

    def __init__(self, link: TrialLink, metric: str) -> None:
        import optuna
        from hydra.utils import instantiate
        from optuna.storages import RDBStorage

        storage = RDBStorage(link.storage, engine_kwargs={"pool_pre_ping": True})
        with allowed_targets():
            pruner = instantiate(link.pruner) if link.pruner else optuna.pruners.NopPruner()
        study = optuna.load_study(study_name=link.study, storage=storage, pruner=pruner)
        trial_id = storage.get_trial_id_from_study_id_trial_number(study._study_id, link.trial)
        self.trial = optuna.trial.Trial(study, trial_id)
        self.number, self.metric = link.trial, metric

    def __call__(self, row: dict[str, float]) -> None:
        epoch, value = int(row["epoch"]), float(row[self.metric])
        self.trial.report(value, epoch)
        if not self.trial.should_prune():
            return
        log.info("Optuna trial %d pruned after epoch %d: %s %.4f", self.number, epoch, self.metric, value)
        raise RunPruned(self.number, epoch, value)
