"""One training run's record: its output folder and MLflow run, new or resumed, the setup artifacts
logged at the start, and the final status whatever happens (FINISHED; KILLED on a stop or when an Optuna
pruner stops it; FAILED)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from astro.checkpoint.io import Checkpoint, load_checkpoint
from astro.data.datamodule import GalaxyDataModule
from astro.errors import ConfigError, TrainingInterrupted
from astro.evaluation.plots import training_curves_png
from astro.tracking.dataset import source_digest
from astro.tracking.handoff import received
from astro.tracking.metric_names import epoch_metrics, kept_metrics
from astro.tracking.tags import (
    CONFIG_HASH,
    DATA,
    DEVICE,
    ERROR,
    OPTUNA_STATE,
    OUTPUT_DIR,
    PRUNED,
    PRUNED_AT_EPOCH,
)
from astro.tracking.tracker import Tracker
from astro.training.naming import readable_params, run_name
from astro.training.pruning import RunPruned
from astro.training.resume import config_hash, config_hashes, resume_checkpoint

log = logging.getLogger(__name__)


@dataclass
class TrackedRun:
    out: Path
    tracker: Tracker
    resumed: Checkpoint | None
    model_id: str | None = None  # the run's LoggedModel, once logged (finalize)

    @property
    def run_id(self) -> str | None:
        return self.tracker.run_id

    def log_epoch(self, row: dict[str, float]) -> None:
        self.tracker.log_metrics(epoch_metrics(row), step=int(row["epoch"]))

    def finish(self, history: list[dict[str, float]], results: dict[str, float], optimized: str) -> float:
        """Training curves, the best validation scores and results.json, logged and written; returns
        the metric a sweeper optimises."""
        training_curves_png(history, self.out / "training_curves.png")
        self.tracker.log_artifact(self.out / "training_curves.png", "plots")
        results["val/macro_f1"] = max(row["val/macro_f1"] for row in history)
        results["val/accuracy"] = max(row["val/accuracy"] for row in history)
        results["time/fit_s"] = sum(row.get("time/epoch_s", 0.0) for row in history)
        # the kept model: the first epoch with the best val macro F1, as TopK keeps it (best.pt)
        final = kept_metrics(max(history, key=lambda row: row["val/macro_f1"]))
        if torch.cuda.is_initialized():
            results["system/peak_gpu_memory_mb"] = final["system/peak_gpu_memory_mb"] = (
                torch.cuda.max_memory_allocated() / 2**20
            )
        self.tracker.log_metrics(final, model_id=self.model_id)
        (self.out / "results.json").write_text(json.dumps(results, indent=2))
        log.info(
            "Done: %s = %.4f | test macro F1 %.4f | outputs %s | MLflow run %s (browse: make ui)",
            optimized,
            results[optimized],
            results["test/macro_f1"],
            self.out,
            self.tracker.last_run_id or f"offline, see {self.tracker.journal}",
        )
        return float(results[optimized])


@contextmanager
def tracked_run(
    cfg: DictConfig, data: GalaxyDataModule, model: nn.Module, device: torch.device
) -> Iterator[TrackedRun]:
    """Start (or, with resume, continue) the run; end it FINISHED, KILLED or FAILED."""
    out = Path(cfg.paths.output_dir)
    tracker = Tracker(cfg.tracking.uri, cfg.tracking.experiment, cfg.tracking.artifact_root, out)
    resumed = _resumed(cfg, tracker)
    if resumed is not None:
        _same_target(resumed, data)
        out = tracker.offline_dir = Path(resumed.resume.output_dir)
        tracker.start(run_id=resumed.card.training.run_id)
        log.info("Resuming %s after epoch %d in %s", resumed.card.training.run_id, resumed.resume.epoch, out)
    else:
        out.mkdir(parents=True, exist_ok=True)
        tags = {
            DATA: data.name,
            DEVICE: str(device),
            CONFIG_HASH: config_hash(cfg),
            OUTPUT_DIR: str(out.resolve()),
        }
        tracker.start(run_name(cfg, received()[1]), tags=tags)
        _log_setup(cfg, data, model, tracker, out)
    try:
        yield TrackedRun(out, tracker, resumed)
        tracker.end("FINISHED")
    except RunPruned as pruned:
        # KILLED, as MLflow has no PRUNED status: stopped on purpose, never a champion; the tags say why
        tracker.set_tags({OPTUNA_STATE: PRUNED, PRUNED_AT_EPOCH: str(pruned.epoch)})
        tracker.end("KILLED")
        raise
    except (KeyboardInterrupt, TrainingInterrupted):
        tracker.end("KILLED")
        raise
    except Exception as exc:
        tracker.set_tags({ERROR: f"{type(exc).__name__}: {exc}"[:5000]})
        tracker.end("FAILED")
        raise


def _resumed(cfg: DictConfig, tracker: Tracker) -> Checkpoint | None:
    path = resume_checkpoint(cfg, tracker.client, tracker.experiment_id)
    if path is None:
        return None
    checkpoint = load_checkpoint(path)
    if checkpoint.resume is None:
        return None
    if checkpoint.resume.config_hash not in config_hashes(cfg):
        log.warning("resuming %s with a config that differs from the one it was started with", path)
    return checkpoint


def _same_target(checkpoint: Checkpoint, data: GalaxyDataModule) -> None:
    """A run adapted to one survey is never continued on another (or without one): its card would then
    name a target it was only partly trained on."""
    before = checkpoint.card.adaptation.fingerprint if checkpoint.card.adaptation else None
    now = data.unlabeled.fingerprint if data.unlabeled is not None else None
    if before != now:
        raise ConfigError(
            f"resume: {checkpoint.source} was adapted to {before or 'no target'}, this run to "
            f"{now or 'no target'}: resume with the same data.unlabeled, or start a new run"
        )


def _log_setup(
    cfg: DictConfig, data: GalaxyDataModule, model: nn.Module, tracker: Tracker, out: Path
) -> None:
    """The resolved config as params (readable_params), the data as the run's MLflow dataset; config,
    split and class table as files and artifacts."""
    tracker.log_params(readable_params(cfg))
    params = sum(p.numel() for p in model.parameters())
    tracker.log_params({"model.num_parameters": params})
    profile = {
        "num_images": len(data.labels("all")),
        "num_classes": data.num_classes,
        "image_size": data.image_size,
    }
    tracker.log_dataset(data.name, data.source.location, source_digest(data.source.fingerprint()), profile)
    if data.unlabeled is not None:  # train-time adaptation's target survey
        target = data.unlabeled
        about = {"images": len(target), "available": target.available, "field": target.field}
        name = Path(target.source).stem or "unlabeled"
        tracker.log_dataset(name, target.source, source_digest(target.fingerprint), about, "adaptation")
    (out / "config_resolved.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    (out / "split.json").write_text(json.dumps({name: idx.tolist() for name, idx in data.splits.items()}))
    table = data.class_table()
    (out / "class_table.json").write_text(json.dumps(table, indent=2))
    for path in ("config_resolved.yaml", "split.json", "class_table.json"):
        tracker.log_artifact(out / path, "setup")
    rows = "\n".join(f"  {r['class']:<26} {r['train']:>6} {r['val']:>6} {r['test']:>6}" for r in table)
    header = f"  {'class':<26} {'train':>6} {'val':>6} {'test':>6}"
    log.info("Data %s, %d classes\n%s\n%s", data.name, data.num_classes, header, rows)
    log.info("Model %s: %d parameters", type(model).__name__, params)
