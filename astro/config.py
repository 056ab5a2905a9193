"""Config schema (registered in Hydra's ConfigStore), resolvers and up-front validation.

The schema declares the type of every top-level key and puts the root in struct mode, so a typo'd key
or a wrong type fails at compose time; the values themselves are written once, in conf/train.yaml.
`validate` checks every value range (the one place they are checked) before any data is loaded, each
failure one sentence naming the key.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.utils import get_object
from omegaconf import MISSING, DictConfig, OmegaConf

from astro.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
METRICS = ("val/macro_f1", "val/accuracy", "test/macro_f1", "test/accuracy", "test/macro_auc")


def default_tracking_uri() -> str:
    """MLFLOW_TRACKING_URI when set (a server, another store), else the project's sqlite file."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"


@dataclass
class TrainSchema:
    epochs: int = MISSING
    seed: int = MISSING
    image_size: int = MISSING
    max_images: int | None = MISSING
    batch_size: int = MISSING
    eval_batch_size: int = MISSING
    optimized_metric: str = MISSING
    device: str = MISSING
    top_k: int = MISSING
    grad_clip: float | None = MISSING
    tta: bool = MISSING
    progress: bool = MISSING
    run_name: str | None = MISSING
    resume: str | None = MISSING
    channels_last: bool = MISSING
    amp: Any = MISSING
    compile: bool = MISSING
    data_on_device: Any = MISSING
    logit_adjustment: float = MISSING
    model: Any = MISSING
    loss: Any = MISSING
    sampler: Any = MISSING
    optim: Any = MISSING
    data: Any = MISSING
    augment: Any = None
    paths: Any = MISSING
    tracking: Any = MISSING


def register() -> None:
    """Register the schema and the `astro_root` / `astro_tracking_uri` resolvers (idempotent)."""
    ConfigStore.instance().store(name="train_schema", node=TrainSchema)
    if not OmegaConf.has_resolver("astro_root"):
        OmegaConf.register_new_resolver("astro_root", lambda: str(PROJECT_ROOT))
    if not OmegaConf.has_resolver("astro_tracking_uri"):
        OmegaConf.register_new_resolver("astro_tracking_uri", default_tracking_uri)


register()

Check = tuple[str, str, Callable[[Any], bool]]
# (key, the rule as the error states it, the test); keys absent from a composition are skipped.
RANGES: tuple[Check, ...] = (
    *(
        (
            key,
            "must be a positive integer",
            lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
        )
        for key in ("epochs", "batch_size", "eval_batch_size", "image_size", "top_k")
    ),
    (
        "max_images",
        "must be null or an integer >= 10",
        lambda v: v is None or (isinstance(v, int) and v >= 10),
    ),
    ("optimized_metric", f"must be one of {METRICS}", lambda v: v in METRICS),
    ("device", "must be auto, cpu or cuda[:N]", lambda v: v in ("auto", "cpu") or str(v).startswith("cuda")),
    ("amp", "must be auto, true or false", lambda v: v in ("auto", True, False)),
    ("data_on_device", "must be auto, true or false", lambda v: v in ("auto", True, False)),
    ("logit_adjustment", "must be >= 0 (0 is off, 1 targets balanced error)", lambda v: v >= 0),
    ("loss.gamma", "must be >= 0 (0 is plain cross-entropy)", lambda v: v >= 0),
    ("loss.label_smoothing", "must be in [0, 1)", lambda v: 0 <= v < 1),
    ("loss.beta", "must be in [0, 1)", lambda v: 0 <= v < 1),
    ("loss.reduction", "must be one of mean, sum, none", lambda v: v in ("mean", "sum", "none")),
    ("optim.optimizer.lr", "must be > 0", lambda v: v > 0),
)


def validate(cfg: DictConfig) -> None:
    """Check ranges and cross-key constraints; raise ConfigError with the key and allowed values."""
    for key, rule, ok in RANGES:
        value = OmegaConf.select(cfg, key, default="__absent__")
        if value != "__absent__" and not ok(value):
            raise ConfigError(f"{key}={_shown(value)} {rule}")
    _check_image_size(cfg)
    split = OmegaConf.select(cfg, "data.split")
    if split is not None:
        shares = [split.train, split.val, split.test]
        if min(shares) < 0 or abs(sum(shares) - 1.0) > 1e-6 or split.train == 0:
            raise ConfigError(f"data.split fractions {shares} must be >= 0, sum to 1, train > 0")


def _shown(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)


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
