"""Evaluate a checkpoint: python evaluate.py checkpoint=PATH [split=test] [tta=true] [data=OTHER]."""

import logging
from pathlib import Path

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from astro.adaptation.batchnorm import adapt_batchnorm, sampled_batches
from astro.checkpoint.card import Preprocessing
from astro.checkpoint.io import load_checkpoint
from astro.cli import user_errors_as_one_line
from astro.config.compat import VERSION_BASE, with_allowed_targets
from astro.config.schema import Adapt, register_configs
from astro.data.datamodule import GalaxyDataModule
from astro.data.transforms import Normalize, dihedral_views
from astro.data.unlabeled import sample_rows
from astro.device import resolve_device
from astro.errors import ConfigError
from astro.evaluation.forward import predict
from astro.evaluation.report import write_report
from astro.prediction.adaptation import adaptation_set
from astro.tracking.tags import SOURCE_RUN_ID
from astro.tracking.tracker import Tracker

log = logging.getLogger("astro.evaluate")


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Evaluate a checkpoint on a split of its own data (or of another data config); log the report."""
    if OmegaConf.is_missing(cfg, "checkpoint"):
        raise ConfigError(
            "no checkpoint given: pass checkpoint=PATH (e.g. outputs/<date>/<time>/checkpoints/best.pt)"
        )
    checkpoint = load_checkpoint(cfg.checkpoint)
    card, device = checkpoint.card, resolve_device(cfg.device)
    data_cfg = cfg.data if cfg.data is not None else OmegaConf.create(card.config["data"])
    data_cfg = OmegaConf.merge(data_cfg, {"image_size": card.preprocessing.image_size})
    data: GalaxyDataModule = instantiate(data_cfg)
    model = checkpoint.model().to(device)
    normalize = Normalize(card.preprocessing.mean, card.preprocessing.std)
    adapted = adapt(cfg, model, data, card.preprocessing, device) if cfg.adapt == Adapt.bn else "off"
    batches = data.eval_batches(cfg.split, cfg.batch_size, device)
    batches.transform = normalize
    predictions = predict(model, batches, views=dihedral_views if cfg.tta else None)

    out = Path(cfg.output_dir)
    context = {
        "checkpoint": str(Path(cfg.checkpoint).resolve()),
        "trained on": card.training.data_name,
        "evaluated on": f"{data.name} / {cfg.split}",
        "test-time augmentation": "8 dihedral views" if cfg.tta else "off",
        "test-time adaptation": adapted,
    }
    report = write_report(predictions, card.posthoc, card.class_names, out, "Evaluation", context)
    tracker = Tracker(cfg.tracking.uri, cfg.tracking.experiment, cfg.tracking.artifact_root)
    tracker.start(f"evaluate-{Path(cfg.checkpoint).stem}", tags={SOURCE_RUN_ID: card.training.run_id or ""})
    tracker.log_params(
        {"checkpoint": str(cfg.checkpoint), "split": cfg.split, "tta": cfg.tta, "adapt": adapted}
    )
    tracker.log_metrics(report.scalars(f"eval/{cfg.split}"))
    tracker.log_artifacts(out, "eval")
    tracker.end("FINISHED")
    log.info("eval/%s macro F1 %.4f, accuracy %.4f -> %s", cfg.split, report.macro_f1, report.accuracy, out)
    return report.scalars(f"eval/{cfg.split}")


def adapt(
    cfg: DictConfig, model: nn.Module, data: GalaxyDataModule, preprocessing: Preprocessing, device
) -> str:
    """AdaBN before evaluating: BatchNorm statistics re-estimated on a seeded sample of the evaluated
    split's images (labels unused), or of `adapt_on`; returns what it adapted to, for the report."""
    normalize = Normalize(preprocessing.mean, preprocessing.std)
    if cfg.adapt_on is None:
        images, _ = data.tensors(cfg.split)
        rows = sample_rows(len(images), cfg.adapt_samples, cfg.adapt_seed)
        batches = sampled_batches(images, rows, cfg.batch_size, normalize, device)
        source = f"{data.name} / {cfg.split}"
    else:
        sample = adaptation_set(cfg.adapt_on, None, preprocessing, cfg.adapt_samples, cfg.adapt_seed)
        batches, source = sample.batches(cfg.batch_size, normalize, device), cfg.adapt_on
    seen = adapt_batchnorm(model, batches)
    return f"BatchNorm statistics re-estimated on {seen} images of {source} (seed {cfg.adapt_seed})"


register_configs()  # the schemas and resolvers Hydra composes this app with


@with_allowed_targets
@hydra.main(config_path="conf", config_name="evaluate", **VERSION_BASE)
@with_allowed_targets
@user_errors_as_one_line
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    main()
