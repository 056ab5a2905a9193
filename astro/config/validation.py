"""Value ranges of the training config, checked once before any data is loaded, each failure one sentence
naming the key (the schema has already checked the types)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf

from astro.errors import ConfigError

METRICS = ("val/macro_f1", "val/accuracy", "test/macro_f1", "test/accuracy", "test/macro_auc")

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
    (
        "adapt.weight",
        "must be >= 0 (0 keeps the joint batches, without the alignment term)",
        lambda v: v >= 0,
    ),
    ("data.unlabeled_field", "must be in (0, 1]", lambda v: 0 < v <= 1),
    ("data.unlabeled_max_images", "must be an integer >= 2", lambda v: isinstance(v, int) and v >= 2),
)


def validate(cfg: DictConfig) -> None:
    """Check ranges and cross-key constraints; raise ConfigError with the key and allowed values."""
    for key, rule, ok in RANGES:
        value = OmegaConf.select(cfg, key, default="__absent__")
        if value != "__absent__" and not ok(value):
            raise ConfigError(f"{key}={_shown(value)} {rule}")
    _check_image_size(cfg)
    _check_adaptation(cfg)
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


def alignment_config(cfg: DictConfig) -> DictConfig | None:
    """train.py's `adapt` node when it is an alignment objective (mmd, coral, dann); None for none."""
    adapt = OmegaConf.select(cfg, "adapt")
    return adapt if OmegaConf.is_dict(adapt) else None


def _check_adaptation(cfg: DictConfig) -> None:
    """Train-time adaptation needs both an objective and the target survey's images."""
    if OmegaConf.select(cfg, "adapt") == "bn":
        raise ConfigError(
            "adapt=bn is test-time adaptation (evaluate.py, predict.py): train with adapt=mmd, coral or dann"
        )
    adapt, unlabeled = alignment_config(cfg), OmegaConf.select(cfg, "data.unlabeled")
    if adapt is not None and unlabeled is None:
        raise ConfigError(
            "adapt needs unlabelled images of the target survey: data.unlabeled=<folder | manifest.csv | .h5>"
        )
    if adapt is None and unlabeled is not None:
        raise ConfigError(
            f"data.unlabeled={unlabeled} is given but no adapt objective: add adapt=mmd, coral or dann"
        )
