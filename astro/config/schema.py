"""The entrypoints' schemas, registered in Hydra's ConfigStore, and the resolvers their YAML uses.

Each schema declares the type of every top-level key and puts the root in struct mode, so a typo'd key,
a wrong type or a value outside a choice (a StrEnum, which reads as its string) fails at compose time,
in Hydra's one message; the values themselves are written once, in conf/<entrypoint>.yaml.
Entrypoints call `register_configs()` before `@hydra.main` composes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from astro.paths import PROJECT_ROOT, default_artifact_root, default_tracking_uri


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
    adapt: Any = None
    paths: Any = MISSING
    tracking: Any = MISSING


class Split(StrEnum):
    """The part of a data source that evaluate.py scores."""

    train = "train"
    val = "val"
    test = "test"
    all = "all"


class Adapt(StrEnum):
    """Test-time adaptation before predicting: none, or bn (BatchNorm statistics re-estimated)."""

    none = "none"
    bn = "bn"


@dataclass
class AdaptationKeys:
    """The test-time adaptation keys that evaluate.py and predict.py share (docs/prediction.md)."""

    adapt: Adapt = MISSING
    adapt_on: str | None = MISSING
    adapt_samples: int = MISSING
    adapt_seed: int = MISSING


@dataclass
class EvaluateSchema(AdaptationKeys):
    checkpoint: str = MISSING
    data: Any = MISSING
    split: Split = MISSING
    tta: bool = MISSING
    batch_size: int = MISSING
    device: str = MISSING
    image_size: int | None = MISSING
    max_images: int | None = MISSING
    output_dir: str = MISSING
    paths: Any = MISSING
    tracking: Any = MISSING


class OutputFormat(StrEnum):
    """What predict.py writes."""

    parquet = "parquet"
    csv = "csv"


@dataclass
class PredictSchema(AdaptationKeys):
    checkpoint: str | None = MISSING
    input: str = MISSING
    output: str = MISSING
    format: OutputFormat = MISSING
    tta: bool = MISSING
    field: float = MISSING
    batch_size: int = MISSING
    chunk_size: int = MISSING
    workers: int | None = MISSING
    shard: int = MISSING
    num_shards: int = MISSING
    max_bad_fraction: float = MISSING
    overwrite: bool = MISSING
    progress: bool = MISSING
    device: str = MISSING
    paths: Any = MISSING
    tracking: Any = MISSING


SCHEMAS = {"train_schema": TrainSchema, "evaluate_schema": EvaluateSchema, "predict_schema": PredictSchema}


def register_configs() -> None:
    """Register the schemas and the astro_root, astro_tracking_uri, astro_artifact_root resolvers."""
    for name, node in SCHEMAS.items():
        ConfigStore.instance().store(name=name, node=node)
    if not OmegaConf.has_resolver("astro_root"):
        OmegaConf.register_new_resolver("astro_root", lambda: str(PROJECT_ROOT))
    if not OmegaConf.has_resolver("astro_tracking_uri"):
        OmegaConf.register_new_resolver("astro_tracking_uri", default_tracking_uri)
    if not OmegaConf.has_resolver("astro_artifact_root"):
        OmegaConf.register_new_resolver("astro_artifact_root", default_artifact_root)
