"""Config schema (registered in Hydra's ConfigStore), resolvers and up-front validation.

The schema types the top-level keys and puts the root in struct mode, so a typo'd key fails at compose
time; `validate` checks value ranges before any data is loaded, each failure one sentence naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.utils import get_object
from omegaconf import MISSING, DictConfig, OmegaConf

from astro.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
METRICS = ("val/macro_f1", "val/accuracy", "test/macro_f1", "test/accuracy", "test/macro_auc")


@dataclass
class TrainSchema:
    epochs: int = 20
    seed: int = 42
    image_size: int = 64
    batch_size: int = 64
    eval_batch_size: int = 256
    optimized_metric: str = "val/macro_f1"
    device: str = "auto"
    top_k: int = 3
    grad_clip: float | None = None
    tta: bool = False
    progress: bool = True
    run_name: str | None = None
    resume: str | None = None
    channels_last: bool = True
    amp: Any = "auto"
    compile: bool = False
    data_on_device: Any = "auto"
    logit_adjustment: float = 0.0
    model: Any = MISSING
    loss: Any = MISSING
    sampler: Any = MISSING
    schedule: Any = MISSING
    data: Any = MISSING
    augment: Any = None
    paths: Any = MISSING
    tracking: Any = MISSING


def register() -> None:
    """Register the schema and the `astro_root` resolver (idempotent)."""
    ConfigStore.instance().store(name="train_schema", node=TrainSchema)
    if not OmegaConf.has_resolver("astro_root"):
        OmegaConf.register_new_resolver("astro_root", lambda: str(PROJECT_ROOT))


register()


def _positive_int(cfg: DictConfig, key: str) -> None:
    value = OmegaConf.select(cfg, key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{key}={value} must be a positive integer")


def validate(cfg: DictConfig) -> None:
    """Check ranges and cross-key constraints; raise ConfigError with the key and allowed values."""
    for key in ("epochs", "batch_size", "eval_batch_size", "image_size", "top_k"):
        _positive_int(cfg, key)
    if cfg.optimized_metric not in METRICS:
        raise ConfigError(f"optimized_metric='{cfg.optimized_metric}' must be one of {METRICS}")
    if cfg.device not in ("auto", "cpu") and not str(cfg.device).startswith("cuda"):
        raise ConfigError(f"device='{cfg.device}' must be auto, cpu or cuda[:N]")
    for key in ("amp", "data_on_device"):
        if cfg[key] not in ("auto", True, False):
            raise ConfigError(f"{key}={cfg[key]} must be auto, true or false")
    gamma = OmegaConf.select(cfg, "loss.gamma")
    if gamma is not None and gamma < 0:
        raise ConfigError(f"loss.gamma={gamma} must be >= 0 (0 is plain cross-entropy)")
    lr = OmegaConf.select(cfg, "schedule.optimizer.lr")
    if lr is not None and lr <= 0:
        raise ConfigError(f"schedule.optimizer.lr={lr} must be > 0")
    _check_image_size(cfg)
    split = OmegaConf.select(cfg, "data.split")
    if split is not None:
        shares = [split.train, split.val, split.test]
        if min(shares) < 0 or abs(sum(shares) - 1.0) > 1e-6 or split.train == 0:
            raise ConfigError(f"data.split fractions {shares} must be >= 0, sum to 1, train > 0")


def check_class_count(cfg: DictConfig, num_classes: int) -> None:
    """Per-class loss weights must match the data's classes; checked before the cache is built."""
    for key in ("loss.alpha", "loss.weight"):
        value = OmegaConf.select(cfg, key)
        if OmegaConf.is_list(value) and len(value) != num_classes:
            raise ConfigError(
                f"{key} has {len(value)} values but data '{cfg.data.name}' has {num_classes} classes"
            )


def _check_image_size(cfg: DictConfig) -> None:
    target = cfg.model._target_
    try:
        model_cls = get_object(target)
    except Exception:
        raise ConfigError(f"model._target_='{target}' cannot be imported") from None
    multiple = getattr(model_cls, "size_multiple", 32)
    if cfg.image_size % multiple:
        raise ConfigError(
            f"image_size={cfg.image_size} must be a multiple of {multiple} for model "
            f"{target.rsplit('.', 1)[-1]} (e.g. {max(multiple, cfg.image_size // multiple * multiple)})"
        )
