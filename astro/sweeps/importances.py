"""An Optuna study's parameter importances as numbers: `python -m astro importances --study NAME --storage
URI`. Which swept parameter moves the objective? Mean decrease in impurity of a random forest fitted to
the COMPLETE trials (the evaluator of the study's importance plot), repeated over forest seeds because a
forest on a dozen trials is itself noisy: prints mean and range per parameter, writes importances.json.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import optuna
from optuna.importance import MeanDecreaseImpurityImportanceEvaluator
from optuna.trial import TrialState

from astro.cli import user_errors_as_one_line
from astro.errors import AstroError
from astro.sweeps.storage import upgrade_needed

FOREST_SEEDS = 10


class StudyError(AstroError):
    """The study cannot be read or has too few trials for importances."""


@dataclass(frozen=True)
class Importance:
    """One parameter's importance (shares sum to 1 per forest), over forest seeds."""

    param: str
    mean: float
    low: float
    high: float


def param_importances(study: optuna.Study, seed: int = 0) -> dict[str, float]:
    """Mean decrease in impurity of one random forest (seed) fitted to the COMPLETE trials, most important
    first: the evaluator of both the numbers here and the study's importance plot, so they agree. optuna's
    default fANOVA evaluator breaks on current scikit-learn trees."""
    evaluator = MeanDecreaseImpurityImportanceEvaluator(seed=seed)
    return optuna.importance.get_param_importances(study, evaluator=evaluator)


def importances(study: optuna.Study, seeds: int = FOREST_SEEDS) -> list[Importance]:
    """Most important first."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        raise StudyError(
            f"study {study.study_name} has {len(complete)} COMPLETE trial(s): importances need 2"
        )
    runs = [param_importances(study, seed) for seed in range(seeds)]
    found = [
        Importance(
            name, sum(r[name] for r in runs) / seeds, min(r[name] for r in runs), max(r[name] for r in runs)
        )
        for name in runs[0]
    ]
    return sorted(found, key=lambda item: -item.mean)


def _load(study: str, storage: str) -> optuna.Study:
    try:
        return optuna.load_study(study_name=study, storage=storage)
    except (KeyError, ValueError, RuntimeError) as error:
        raise upgrade_needed(storage, error) or StudyError(
            f"no Optuna study '{study}' in {storage} ({error})"
        ) from None


def main(argv: Sequence[str] | None = None) -> list[Importance]:
    parser = argparse.ArgumentParser(prog="python -m astro importances", description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", required=True, help="the study name (hydra.sweeper.study_name)")
    parser.add_argument("--storage", required=True, help="e.g. sqlite:///multirun/<study>/optuna.db")
    parser.add_argument("--out", type=Path, default=None, help="importances.json here (default: not written)")
    return _importances(parser.parse_args(argv))


@user_errors_as_one_line
def _importances(args: argparse.Namespace) -> list[Importance]:
    study = _load(args.study, args.storage)
    found = importances(study)
    trials = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    print(
        f"study {args.study}: {trials} COMPLETE trials, best value {study.best_value:.4f} {study.best_params}"
    )
    print(f"importance (mean decrease in impurity, mean [min, max] over {FOREST_SEEDS} forest seeds):")
    for item in found:
        print(f"  {item.param:<12} {item.mean:.3f} [{item.low:.3f}, {item.high:.3f}]")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps([asdict(item) for item in found], indent=2))
    return found


if __name__ == "__main__":
    main()
