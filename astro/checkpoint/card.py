"""The checkpoint contract: what a trained model is and how to use it, as one typed record.

Like torchvision's `Weights(transforms, meta)`, a `ModelCard` travels with the weights and tells every
reader (evaluate.py, the demo, batch prediction, a served model) how the model was trained, how to
preprocess an image for it, which post-hoc steps turn its logits into calibrated probabilities, and where
it came from. It is written in one place (`astro.checkpoint.io.save_checkpoint`) and read in one place
(`astro.checkpoint.io.load_checkpoint`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from astro.config.compat import allowed_targets

FORMAT_VERSION = 2


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes the model's input: a square cutout resized once with `resize` to
    `image_size`, then standardised with the training split's per-channel mean and std (0-1 scale)."""

    image_size: int
    resize: str
    mean: tuple[float, ...]
    std: tuple[float, ...]


@dataclass(frozen=True)
class PosthocSteps:
    """Turned from logits into probabilities after the forward pass, in this order: logit adjustment
    (subtract tau * log prior, Menon et al. 2021), then temperature scaling (Guo et al. 2017)."""

    tau: float = 0.0
    prior: tuple[float, ...] | None = None
    temperature: float | None = None


@dataclass(frozen=True)
class TrainingRecord:
    """Where the weights came from: the MLflow run, the data, the epoch kept and its metrics."""

    run_id: str | None
    data_name: str
    epoch: int
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class AdaptationRecord:
    """What train-time adaptation aligned the model to: the objective and the unlabelled target images
    (`source` as given, how many were used of how many, and their fingerprint)."""

    method: str
    weight: float
    source: str
    images: int
    available: int
    fingerprint: str
    field: float = 1.0

    def summary(self) -> str:
        return f"{self.method} (weight {self.weight:g}) to {self.images} unlabelled images of {self.source}"


@dataclass(frozen=True)
class ModelCard:
    """Everything but the weights. `config` is the resolved training config (for evaluate.py's data and
    for resume); `model` is its model node, from which `build_model` rebuilds the architecture."""

    class_names: tuple[str, ...]
    preprocessing: Preprocessing
    model: dict[str, Any]
    posthoc: PosthocSteps
    training: TrainingRecord
    config: dict[str, Any]
    format_version: int = FORMAT_VERSION
    adaptation: AdaptationRecord | None = None  # train-time adaptation; None for a source-only model

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def architecture(self) -> str:
        return str(self.model["_target_"]).rsplit(".", 1)[-1]

    def build_model(self) -> nn.Module:
        """The untrained architecture with this card's class count (weights are loaded separately)."""
        with allowed_targets():
            return instantiate(OmegaConf.create(self.model), num_classes=self.num_classes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, tree: dict[str, Any]) -> ModelCard:
        """Inverse of to_dict; raises KeyError/TypeError on a malformed tree (load_checkpoint words it)."""
        return cls(
            class_names=tuple(tree["class_names"]),
            preprocessing=_typed(Preprocessing, tree["preprocessing"]),
            model=dict(tree["model"]),
            posthoc=_typed(PosthocSteps, tree["posthoc"]),
            training=TrainingRecord(**tree["training"]),
            config=dict(tree["config"]),
            format_version=int(tree["format_version"]),
            adaptation=_typed(AdaptationRecord, tree["adaptation"]) if tree.get("adaptation") else None,
        )


def _typed(cls: type, tree: dict[str, Any]) -> Any:
    """A frozen dataclass from a dict, with lists turned back into the tuples the fields declare."""
    values = {f.name: tree[f.name] for f in fields(cls) if f.name in tree}
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


# Keys of the flat dict that format 1 (astro 0.1) wrote; `from_v1` converts such a file on load.
V1_KEYS = ("model_state", "config", "class_names", "normalization", "image_size")


def from_v1(payload: dict[str, Any]) -> ModelCard:
    """A format-1 checkpoint's card: the same facts, then held as flat keys of the payload."""
    config = payload["config"]
    adjust = payload.get("logit_adjustment") or {}
    prior = adjust.get("prior")
    return ModelCard(
        class_names=tuple(payload["class_names"]),
        preprocessing=Preprocessing(
            image_size=int(payload["image_size"]),
            resize=str(config.get("data", {}).get("resize", "bilinear")),
            mean=tuple(payload["normalization"]["mean"]),
            std=tuple(payload["normalization"]["std"]),
        ),
        model=dict(config["model"]),
        posthoc=PosthocSteps(
            tau=float(adjust.get("tau", 0.0)),
            prior=tuple(prior) if prior is not None else None,
            temperature=payload.get("temperature"),
        ),
        training=TrainingRecord(
            run_id=payload.get("mlflow_run_id"),
            data_name=str(payload.get("data_name") or config.get("data", {}).get("name", "?")),
            epoch=int(payload.get("epoch", 0)),
            metrics=dict(payload.get("metrics") or {}),
        ),
        config=_v1_config(config),
    )


def _v1_config(config: dict[str, Any]) -> dict[str, Any]:
    """Format 1's synthetic source named its file (`path`); now it names the folder and the file name
    follows from size and seed."""
    source = dict(config.get("data", {}).get("source", {}))
    if source.get("_target_") == "astro.data.synthetic.synthetic_galaxy10" and "path" in source:
        source["directory"] = str(Path(source.pop("path")).parent)
        config = {**config, "data": {**config["data"], "source": source}}
    return config


def card_for_run(cfg: Any, data: Any, run_id: str | None) -> ModelCard:
    """The card of a training run before its first epoch: `cfg` the composed config, `data` its
    GalaxyDataModule (class names, resize, the train split's statistics and class prior)."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    counts = data.class_counts("train")
    return ModelCard(
        class_names=tuple(data.class_names),
        preprocessing=Preprocessing(int(cfg.image_size), str(data.resize), tuple(data.mean), tuple(data.std)),
        model=resolved["model"],
        posthoc=PosthocSteps(
            tau=float(cfg.logit_adjustment), prior=tuple(float(c) for c in counts / counts.sum())
        ),
        training=TrainingRecord(run_id=run_id, data_name=data.name, epoch=0),
        config=resolved,
        adaptation=_adaptation(resolved.get("adapt"), data.unlabeled),
    )


def _adaptation(adapt: Any, unlabeled: Any) -> AdaptationRecord | None:
    if not isinstance(adapt, dict) or unlabeled is None:
        return None
    return AdaptationRecord(
        method=str(adapt["_target_"]).rsplit(".", 1)[-1],
        weight=float(adapt.get("weight", 1.0)),
        source=str(unlabeled.source),
        images=len(unlabeled),
        available=int(unlabeled.available),
        fingerprint=str(unlabeled.fingerprint),
        field=float(unlabeled.field),
    )
