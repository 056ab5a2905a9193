"""Jobs behind the entrypoints: build everything from the composed config, train, track and evaluate."""

from __future__ import annotations

import json
import logging
import shutil
import signal
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from astro.calibration import fit_temperature, logit_adjust
from astro.checkpointing import TopK, load_checkpoint, load_weights, save_checkpoint
from astro.config import check_class_count, validate
from astro.data.datamodule import GalaxyDataModule
from astro.data.transforms import Normalize
from astro.errors import ConfigError, TrainingInterrupted
from astro.evaluation import dihedral_views, write_report
from astro.metrics import quick_metrics
from astro.plots import training_curves_png
from astro.resume import capture_rng, config_hash, restore_rng, resume_checkpoint
from astro.schedule import current_lr
from astro.tracking import Tracker
from astro.training import (
    EpochProgress,
    GracefulStop,
    Performance,
    Trainer,
    predict,
    resolve_device,
    seed_everything,
)

log = logging.getLogger(__name__)


def run_name(cfg: DictConfig) -> str:
    """An explicit run_name, else '<model>-<loss>-g<gamma>-e<epochs>' from the composed choices."""
    if cfg.run_name:
        return str(cfg.run_name)
    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    model = choices.get("model") or cfg.model._target_.rsplit(".", 1)[-1]
    loss = choices.get("loss") or cfg.loss._target_.rsplit(".", 1)[-1]
    gamma = OmegaConf.select(cfg, "loss.gamma")
    return f"{model}-{loss}" + (f"-g{gamma}" if gamma is not None else "") + f"-e{cfg.epochs}"


def run_training(cfg: DictConfig) -> float:
    """Train (or resume), keep top-k checkpoints by val macro F1, evaluate the best on test; return the
    optimized metric for a sweeper."""
    validate(cfg)
    generator = seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    data: GalaxyDataModule = instantiate(cfg.data)
    check_class_count(cfg, data.num_classes)
    model = instantiate(cfg.model, num_classes=data.num_classes)
    loss_fn = instantiate(cfg.loss, class_counts=data.class_counts("train").tolist())
    sampler = instantiate(cfg.sampler)(data.labels("train"), generator=generator)
    augment = instantiate(cfg.augment) if cfg.augment else None
    train_batches = data.train_batches(sampler, cfg.batch_size, device, augment, generator)
    optimizer = instantiate(cfg.schedule.optimizer)(model.parameters())
    schedule = instantiate(cfg.schedule.scheduler)(
        optimizer, steps_per_epoch=len(train_batches), epochs=cfg.epochs
    )
    perf = Performance.resolve(cfg.channels_last, cfg.amp, cfg.compile, device)
    if cfg.data_on_device is True or (cfg.data_on_device == "auto" and device.type == "cuda"):
        data.keep_on(device)
    trainer = Trainer(model, loss_fn, optimizer, schedule, device, cfg.grad_clip, cfg.progress, perf)

    out = Path(cfg.paths.output_dir)
    tracker = Tracker(cfg.tracking.uri, cfg.tracking.experiment, cfg.tracking.artifact_root, out)
    state = _resume_state(cfg, tracker)
    if state is not None:
        out = Path(state["output_dir"])
        tracker.offline_dir = out
        _restore(state, trainer, generator)
        tracker.start(run_id=state["mlflow_run_id"])
        log.info("Resuming %s after epoch %d in %s", state["mlflow_run_id"], state["epoch"], out)
    else:
        out.mkdir(parents=True, exist_ok=True)
        tags = {
            "astro.data": data.name,
            "astro.device": str(device),
            "astro.config_hash": config_hash(cfg),
            "astro.output_dir": str(out.resolve()),
        }
        tracker.start(run_name(cfg), tags=tags)
    try:
        if state is None:
            _log_setup(cfg, data, model, tracker, out)
        fit = FitLoop(cfg, data, trainer, train_batches, tracker, out, generator)
        history = fit.run(state)
        results = _test_best(cfg, data, trainer, tracker, out)
        training_curves_png(history, out / "training_curves.png")
        tracker.log_artifact(out / "training_curves.png", "plots")
        best_val = max(row["val/macro_f1"] for row in history)
        results["val/macro_f1"] = best_val
        results["val/accuracy"] = max(row["val/accuracy"] for row in history)
        tracker.log_metrics({"best/val_macro_f1": best_val})
        (out / "results.json").write_text(json.dumps(results, indent=2))
        tracker.end("FINISHED")
    except (KeyboardInterrupt, TrainingInterrupted):
        tracker.end("KILLED")
        raise
    except Exception as exc:
        tracker.set_tags({"astro.error": f"{type(exc).__name__}: {exc}"[:5000]})
        tracker.end("FAILED")
        raise
    log.info(
        "Done: %s = %.4f | test macro F1 %.4f | outputs %s | MLflow run %s (browse: make ui)",
        cfg.optimized_metric,
        results[cfg.optimized_metric],
        results["test/macro_f1"],
        out,
        tracker.last_run_id or f"offline, see {tracker.journal}",
    )
    return float(results[cfg.optimized_metric])


def _resume_state(cfg: DictConfig, tracker: Tracker) -> dict | None:
    if cfg.resume in (None, False, "", "never"):
        return None
    if tracker.client is None and cfg.resume == "auto":
        raise ConfigError("resume=auto needs the MLflow store to find the run; pass resume=<run folder>")
    path = resume_checkpoint(cfg, tracker.client, tracker.experiment_id)
    if path is None:
        return None
    state = load_checkpoint(path)
    if state.get("config_hash") != config_hash(cfg):
        log.warning("resuming %s with a config that differs from the one it was started with", path)
    return state


def _restore(state: dict, trainer: Trainer, generator) -> None:
    load_weights(trainer.model, state, state["output_dir"])
    trainer.optimizer.load_state_dict(state["optimizer_state"])
    trainer.schedule.scheduler.load_state_dict(state["scheduler_state"])
    restore_rng(state["rng"], generator)


def _log_setup(cfg, data: GalaxyDataModule, model, tracker: Tracker, out: Path) -> None:
    resolved = OmegaConf.to_container(cfg, resolve=True)
    tracker.log_params(resolved)
    params = sum(p.numel() for p in model.parameters())
    tracker.log_params({"model.num_parameters": params})
    (out / "config_resolved.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    split = {name: idx.tolist() for name, idx in data.splits.items()}
    (out / "split.json").write_text(json.dumps(split))
    table = data.class_table()
    (out / "class_table.json").write_text(json.dumps(table, indent=2))
    for path in ("config_resolved.yaml", "split.json", "class_table.json"):
        tracker.log_artifact(out / path, "setup")
    rows = "\n".join(f"  {r['class']:<26} {r['train']:>6} {r['val']:>6} {r['test']:>6}" for r in table)
    log.info(
        "Data %s, %d classes\n  %-26s %6s %6s %6s\n%s",
        data.name,
        data.num_classes,
        "class",
        "train",
        "val",
        "test",
        rows,
    )
    log.info("Model %s: %d parameters", type(model).__name__, params)


class FitLoop:
    """Epochs of training and validation with top-k checkpoints and a resumable last.pt."""

    def __init__(self, cfg, data: GalaxyDataModule, trainer: Trainer, train_batches, tracker, out, generator):
        self.cfg, self.data, self.trainer, self.train_batches = cfg, data, trainer, train_batches
        self.tracker, self.out, self.generator = tracker, out, generator
        self.val_batches = data.eval_batches("val", cfg.eval_batch_size, trainer.device)
        self.checkpoints = TopK(out / "checkpoints", k=cfg.top_k)
        self.history: list[dict[str, float]] = []

    def run(self, state: dict | None) -> list[dict]:
        first, partial = 1, None
        if state is not None:
            first, partial = state["epoch"] + 1, state.get("partial")
            self.history = state["history"]
            self.checkpoints.entries = [tuple(e) for e in state["top_k"]]
        with GracefulStop() as stop:
            for epoch in range(first, self.cfg.epochs + 1):
                if partial is not None and partial["epoch"] == epoch:
                    plan, start = partial["plan"], EpochProgress(**partial["progress"])
                else:
                    plan, start = self.train_batches.plan(), None
                progress = self.trainer.train_epoch(self.train_batches, plan, epoch, start, stop)
                if progress.stopped:
                    self._save_last(epoch - 1, {"epoch": epoch, "plan": plan, "progress": asdict(progress)})
                    self._interrupted(stop, epoch, progress.steps)
                self._end_epoch(epoch, progress.mean_loss)
                if stop.requested:
                    self._interrupted(stop, epoch + 1, 0)
        shutil.copy2(self.checkpoints.best, self.out / "checkpoints" / "best.pt")
        self.tracker.log_artifact(self.out / "checkpoints" / "best.pt", "checkpoints")
        return self.history

    def _end_epoch(self, epoch: int, train_loss: float) -> None:
        probs, labels, val_loss = self.trainer.predict(self.val_batches)
        counts = self.data.class_counts("train")
        probs = logit_adjust(probs, counts / counts.sum(), self.cfg.logit_adjustment)
        val = quick_metrics(labels, probs, self.data.num_classes)
        row = {
            "epoch": epoch,
            "train/loss": train_loss,
            "val/loss": val_loss,
            "val/macro_f1": val["macro_f1"],
            "val/accuracy": val["accuracy"],
            "lr": current_lr(self.trainer.optimizer),
        }
        self.history.append(row)
        self.tracker.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=epoch)
        self.trainer.schedule.after_epoch(row)
        self.checkpoints.update(val["macro_f1"], epoch, self._payload(epoch, row))
        self._save_last(epoch, None)
        log.info(
            "epoch %d/%d  train/loss %.4f  val/loss %.4f  val/macro_f1 %.4f  val/accuracy %.4f  lr %.2e",
            epoch,
            self.cfg.epochs,
            train_loss,
            val_loss,
            val["macro_f1"],
            val["accuracy"],
            row["lr"],
        )

    def _payload(self, epoch: int, metrics: dict) -> dict:
        return {
            "mlflow_run_id": self.tracker.run_id,
            "model_state": self.trainer.model.state_dict(),
            "config": OmegaConf.to_container(self.cfg, resolve=True),
            "class_names": list(self.data.class_names),
            "normalization": {"mean": self.data.mean, "std": self.data.std},
            "image_size": int(self.cfg.image_size),
            "epoch": epoch,
            "metrics": metrics,
            "data_name": self.data.name,
        }

    def _save_last(self, epoch: int, partial: dict | None) -> None:
        """Everything a resume needs: optimizer, scheduler, RNG states, history, top-k, a partial epoch."""
        save_checkpoint(
            self.out / "checkpoints" / "last.pt",
            {
                **self._payload(epoch, self.history[-1] if self.history else {}),
                "optimizer_state": self.trainer.optimizer.state_dict(),
                "scheduler_state": self.trainer.schedule.scheduler.state_dict(),
                "rng": capture_rng(self.generator),
                "history": self.history,
                "top_k": self.checkpoints.entries,
                "partial": partial,
                "output_dir": str(self.out.resolve()),
                "config_hash": config_hash(self.cfg),
            },
        )

    def _interrupted(self, stop: GracefulStop, epoch: int, step: int) -> None:
        name = signal.Signals(stop.signal).name
        raise TrainingInterrupted(
            f"stopped by {name} at epoch {epoch}, step {step}; state saved to "
            f"{self.out / 'checkpoints' / 'last.pt'}; continue with the same command plus resume=auto",
            exit_code=128 + int(stop.signal),
        )


def _test_best(cfg, data, trainer: Trainer, tracker: Tracker, out: Path) -> dict[str, Any]:
    best = out / "checkpoints" / "best.pt"
    payload = load_checkpoint(best)
    load_weights(trainer.model, payload, best)
    views = dihedral_views if cfg.tta else None
    prior = data.class_counts("train") / data.class_counts("train").sum()
    val_probs, val_labels, _ = trainer.predict(
        data.eval_batches("val", cfg.eval_batch_size, trainer.device), views
    )
    val_probs = logit_adjust(val_probs, prior, cfg.logit_adjustment)
    temperature = fit_temperature(np.log(np.clip(val_probs, 1e-12, 1.0)), val_labels)
    payload["temperature"] = temperature
    payload["logit_adjustment"] = {"tau": cfg.logit_adjustment, "prior": prior.tolist()}
    save_checkpoint(best, payload)
    tracker.log_artifact(best, "checkpoints")  # replaces the copy logged before calibration
    probs, labels, _ = trainer.predict(data.eval_batches("test", cfg.eval_batch_size, trainer.device), views)
    probs = logit_adjust(probs, prior, cfg.logit_adjustment)
    context = {
        "checkpoint": str(best),
        "best epoch": str(payload["epoch"]),
        "data": data.name,
        "split": "test",
        "test-time augmentation": "8 dihedral views" if cfg.tta else "off",
    }
    context["post-hoc logit adjustment tau"] = str(cfg.logit_adjustment)
    report = write_report(
        labels, probs, data.class_names, out / "eval" / "test", "Test evaluation", context, temperature
    )
    tracker.log_metrics(report.scalars("test"))
    tracker.log_artifacts(out / "eval" / "test", "eval/test")
    return report.scalars("test")


def run_evaluation(cfg: DictConfig) -> dict[str, float]:
    """Evaluate a checkpoint on a split of its own data (or another data config) and log the report."""
    payload = load_checkpoint(cfg.checkpoint)
    train_cfg = OmegaConf.create(payload["config"])
    device = resolve_device(cfg.device)
    data_cfg = cfg.data if cfg.data is not None else train_cfg.data
    data_cfg = OmegaConf.merge(data_cfg, {"image_size": payload["image_size"]})
    data: GalaxyDataModule = instantiate(data_cfg)
    model = instantiate(train_cfg.model, num_classes=len(payload["class_names"]))
    load_weights(model, payload, cfg.checkpoint)
    model.to(device)
    batches = data.eval_batches(cfg.split, cfg.batch_size, device)
    norm = payload["normalization"]
    batches.transform = Normalize(norm["mean"], norm["std"])
    probs, labels, _ = predict(model, batches, views=dihedral_views if cfg.tta else None)
    out = Path(cfg.output_dir)
    context = {
        "checkpoint": str(Path(cfg.checkpoint).resolve()),
        "trained on": payload.get("data_name", "?"),
        "evaluated on": f"{data.name} / {cfg.split}",
        "test-time augmentation": "8 dihedral views" if cfg.tta else "off",
    }
    adjust = payload.get("logit_adjustment") or {}
    probs = logit_adjust(probs, adjust.get("prior"), adjust.get("tau", 0.0))
    report = write_report(
        labels, probs, tuple(payload["class_names"]), out, "Evaluation", context, payload.get("temperature")
    )
    tracker = Tracker(cfg.tracking.uri, cfg.tracking.experiment, cfg.tracking.artifact_root)
    source_run = payload.get("mlflow_run_id") or ""
    tracker.start(f"evaluate-{Path(cfg.checkpoint).stem}", tags={"astro.source_run_id": source_run})
    tracker.log_params({"checkpoint": str(cfg.checkpoint), "split": cfg.split, "tta": cfg.tta})
    prefix = f"eval/{cfg.split}"
    tracker.log_metrics(report.scalars(prefix))
    tracker.log_artifacts(out, "eval")
    tracker.end("FINISHED")
    log.info("%s macro F1 %.4f, accuracy %.4f -> %s", prefix, report.macro_f1, report.accuracy, out)
    return report.scalars(prefix)
