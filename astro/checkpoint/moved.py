"""Modules that moved when astro's flat layout became concept packages, so that what a user made before
still works: checkpoints whose card names the old `_target_`s, runs that `resume=auto` continues, and
registered pyfunc models whose pickled class names its old module.

`MOVED` is the one map. Old module names stay importable (an import hook that resolves each name to its
module's new home, installed by `astro/__init__.py`), and `flat_layout` rewrites a config tree back to the
old names, so a run started before the move keeps its config fingerprint. Old names that are now
packages (`astro.tracking`, `astro.sweeps`, `astro.evaluation`, `astro.prediction`, `astro.comparison`,
`astro.config`) are not in the map: no checkpoint, config or model ever named a class in them.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType
from typing import Any

MOVED: dict[str, str] = {
    "astro.model_card": "astro.checkpoint.card",
    "astro.checkpointing": "astro.checkpoint.io",
    "astro.trainer": "astro.training.trainer",
    "astro.run_checkpoints": "astro.training.checkpoints",
    "astro.tracked_run": "astro.training.tracked_run",
    "astro.testing": "astro.training.finalize",
    "astro.losses": "astro.training.losses",
    "astro.optim": "astro.training.optim",
    "astro.samplers": "astro.training.samplers",
    "astro.stopping": "astro.training.stopping",
    "astro.rng": "astro.training.rng",
    "astro.resume": "astro.training.resume",
    "astro.posthoc": "astro.evaluation.posthoc",
    "astro.calibration": "astro.evaluation.calibration",
    "astro.metrics": "astro.evaluation.metrics",
    "astro.plots": "astro.evaluation.plots",
    "astro.paired_bootstrap": "astro.evaluation.bootstrap",
    "astro.coarse_transfer": "astro.evaluation.coarse",
    "astro.tracking_store": "astro.tracking.store",
    "astro.tracking_dataset": "astro.tracking.dataset",
    "astro.tracking_sync": "astro.tracking.sync",
    "astro.sweep_handoff": "astro.tracking.handoff",
    "astro.optuna_study": "astro.sweeps.study",
    "astro.optuna_storage": "astro.sweeps.storage",
    "astro.study_importances": "astro.sweeps.importances",
    "astro.run_selection": "astro.comparison.selection",
    "astro.noise_report": "astro.comparison.noise",
    "astro.seed_groups": "astro.comparison.seed_groups",
    "astro.registry": "astro.comparison.registry",
    "astro.batch_prediction": "astro.prediction.batch",
    "astro.catalogue": "astro.data.catalogue",
    "astro.prediction_table": "astro.prediction.table",
    "astro.shards": "astro.prediction.shards",
    "astro.inference": "astro.serving.classifier",
    "astro.gradcam": "astro.serving.gradcam",
    "astro.model_source": "astro.serving.source",
    "astro.served_model": "astro.serving.pyfunc",
}
# The old layout's name for each current module (the inverse map), for `flat_layout`.
OLD_NAMES = {new: old for old, new in MOVED.items()}


def flat_layout(tree: Any) -> Any:
    """A config tree with every `_target_` as the flat layout named it (for old fingerprints)."""
    if isinstance(tree, dict):
        return {
            key: _old_path(value) if key == "_target_" else flat_layout(value) for key, value in tree.items()
        }
    if isinstance(tree, list):
        return [flat_layout(value) for value in tree]
    return tree


def _old_path(dotted: Any) -> Any:
    if not isinstance(dotted, str):
        return dotted
    module, _, name = dotted.rpartition(".")
    return f"{OLD_NAMES[module]}.{name}" if module in OLD_NAMES else dotted


class _OldModuleNames(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports `astro.<old>` as a module whose attributes are those of its new home, so a class pickled
    or named under its old path resolves to the class itself (one class, never a copy)."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        return importlib.util.spec_from_loader(fullname, self) if fullname in MOVED else None

    def create_module(self, spec: Any) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        home = importlib.import_module(MOVED[module.__name__])
        module.__getattr__ = lambda name: getattr(home, name)  # type: ignore[method-assign]
        module.__doc__ = f"Moved to {home.__name__}."


def install_aliases() -> None:
    """Make the old module names importable (idempotent). After the path finders, so a module that
    exists is always found first."""
    if not any(isinstance(finder, _OldModuleNames) for finder in sys.meta_path):
        sys.meta_path.append(_OldModuleNames())
