"""What a human reads in MLflow's runs table: a run's name and its params."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from astro.tracking.tags import SWEEP_OVERRIDES

# Hydra's instantiation keys: which class a value builds, not a choice a user made (the group's choice,
# `choice.<group>`, says that); every other key of the resolved config stays a param.
INSTANTIATION_KEYS = ("_target_", "_partial_", "_convert_", "_recursive_", "_args_")
SWEEP_SYNTAX = re.compile(r",|^\s*(choice|range|interval|tag|glob)\(")


def run_name(cfg: DictConfig, sweep_tags: Mapping[str, str] | None = None) -> str:
    """'<name>-g<gamma>-e<epochs>[-<adapt>]', the name being run_name when set, else '<model>-<loss>' from
    the composed choices (gamma to 3 significant digits: Optuna proposes values like 0.9575972518944614); a
    sweep's job puts what it sweeps first: 'loss.gamma=1 | AstroCNN-focal-g1-e20'."""
    choices = _choices()
    model = choices.get("model") or cfg.model._target_.rsplit(".", 1)[-1]
    loss = choices.get("loss") or cfg.loss._target_.rsplit(".", 1)[-1]
    gamma = OmegaConf.select(cfg, "loss.gamma")
    name = (str(cfg.run_name) if cfg.run_name else f"{model}-{loss}") + (
        f"-g{gamma:.3g}" if gamma is not None else ""
    )
    name += f"-e{cfg.epochs}"
    if OmegaConf.is_dict(OmegaConf.select(cfg, "adapt")):  # train-time adaptation: say which
        name += f"-{choices.get('adapt') or cfg.adapt._target_.rsplit('.', 1)[-1]}"
    swept = swept_values(cfg, sweep_tags or {})
    return f"{', '.join(swept)} | {name}" if swept else name


def swept_values(cfg: DictConfig, sweep_tags: Mapping[str, str]) -> list[str]:
    """'key=value' of each key the job's sweep varies, in the sweep's order (numbers to 3 digits)."""
    if SWEEP_OVERRIDES not in sweep_tags or not HydraConfig.initialized():
        return []
    keys = [o.split("=", 1)[0] for o in json.loads(sweep_tags[SWEEP_OVERRIDES]) if _is_swept(o)]
    keys += list(OmegaConf.select(HydraConfig.get(), "sweeper.params", default=None) or {})
    job = dict(o.split("=", 1) for o in HydraConfig.get().overrides.task if "=" in o)
    return [f"{key.lstrip('+~')}={_short(job[key])}" for key in dict.fromkeys(keys) if key in job]


def _is_swept(override: str) -> bool:
    return "=" in override and bool(SWEEP_SYNTAX.search(override.split("=", 1)[1]))


def _short(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value
    return f"{number:.3g}"


def _choices() -> dict[str, Any]:
    return dict(HydraConfig.get().runtime.choices) if HydraConfig.initialized() else {}


def readable_params(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config without Hydra's instantiation keys, plus `choice.<group>` for each composed
    config group (model=astro_cnn, loss=focal, ...): what a reader compares runs by."""
    tree = OmegaConf.to_container(cfg, resolve=True)
    params = _without_instantiation(tree)
    choices = {k: v for k, v in _choices().items() if v is not None and not k.startswith("hydra")}
    return {**params, "choice": choices} if choices else params


def _without_instantiation(tree: Any) -> Any:
    if not isinstance(tree, dict):
        return tree
    return {k: _without_instantiation(v) for k, v in tree.items() if k not in INSTANTIATION_KEYS}
