"""Jobs behind the entrypoints: build everything from the composed config, train, track and evaluate."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from astro.checkpointing import TopK, load_checkpoint, load_weights, save_checkpoint
from astro.config import validate
from astro.data.datamodule import GalaxyDataModule
from astro.data.transforms import Normalize
from astro.evaluation import dihedral_views, write_report
from astro.metrics import quick_metrics
from astro.plots import training_curves_png
from astro.schedule import current_lr
from astro.tracking import Tracker
from astro.training import Trainer, predict, resolve_device, seed_everything

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
    """Train, keep top-k checkpoints by val macro F1, evaluate the best on test; return the metric."""
    validate(cfg)
    generator = seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)

    data: GalaxyDataModule = instantiate(cfg.data)
    model = instantiate(cfg.model, num_classes=data.num_classes)
    loss_fn = instantiate(cfg.loss, class_counts=data.class_counts("train").tolist())
    sampler = instantiate(cfg.sampler)(data.labels("train"), generator=generator)
    augment = instantiate(cfg.augment) if cfg.augment else None
    train_batches = data.train_batches(sampler, cfg.batch_size, device, augment, generator)
    val_batches = data.eval_batches("val", cfg.eval_batch_size, device)
    optimizer = instantiate(cfg.schedule.optimizer)(model.parameters())
    schedule = instantiate(cfg.schedule.scheduler)(
        optimizer, steps_per_epoch=len(train_batches), epochs=cfg.epochs
    )
    trainer = Trainer(model, loss_fn, optimizer, schedule, device, cfg.grad_clip, cfg.progress)

    tracker = Tracker(cfg.tracking.uri, cfg.tracking.experiment, cfg.tracking.artifact_root)
    tracker.start(run_name(cfg), tags={"astro.data": data.name, "astro.device": str(device)})
    try:
        _log_setup(cfg, data, model, tracker, out)
        history = _fit(cfg, data, trainer, train_batches, val_batches, tracker, out)
        results = _test_best(cfg, data, trainer, tracker, out)
        training_curves_png(history, out / "training_curves.png")
        tracker.log_artifact(out / "training_curves.png", "plots")
        best_val = max(row["val/macro_f1"] for row in history)
        results["val/macro_f1"] = best_val
        results["val/accuracy"] = max(row["val/accuracy"] for row in history)
        tracker.log_metrics({"best/val_macro_f1": best_val})
        (out / "results.json").write_text(json.dumps(results, indent=2))
        tracker.end("FINISHED")
    except KeyboardInterrupt:
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
        tracker.last_run_id,
    )
    return float(results[cfg.optimized_metric])


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


def _payload(cfg, data: GalaxyDataModule, trainer: Trainer, epoch: int, metrics: dict, run_id) -> dict:
    return {
        "mlflow_run_id": run_id,
        "model_state": trainer.model.state_dict(),
        "config": OmegaConf.to_container(cfg, resolve=True),
        "class_names": list(data.class_names),
        "normalization": {"mean": data.mean, "std": data.std},
        "image_size": int(cfg.image_size),
        "epoch": epoch,
        "metrics": metrics,
        "data_name": data.name,
    }


def _fit(cfg, data, trainer: Trainer, train_batches, val_batches, tracker, out: Path) -> list[dict]:
    checkpoints = TopK(out / "checkpoints", k=cfg.top_k)
    history: list[dict[str, float]] = []
    for epoch in range(1, cfg.epochs + 1):
        train_loss = trainer.train_epoch(train_batches, epoch)
        probs, labels, val_loss = trainer.predict(val_batches)
        val = quick_metrics(labels, probs, data.num_classes)
        row = {
            "epoch": epoch,
            "train/loss": train_loss,
            "val/loss": val_loss,
            "val/macro_f1": val["macro_f1"],
            "val/accuracy": val["accuracy"],
            "lr": current_lr(trainer.optimizer),
        }
        history.append(row)
        tracker.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=epoch)
        trainer.schedule.after_epoch(row)
        payload = _payload(cfg, data, trainer, epoch, row, tracker.run_id)
        checkpoints.update(val["macro_f1"], epoch, payload)
        save_checkpoint(
            out / "checkpoints" / "last.pt",
            {
                **payload,
                "optimizer_state": trainer.optimizer.state_dict(),
                "scheduler_state": trainer.schedule.scheduler.state_dict(),
                "top_k": checkpoints.entries,
                "history": history,
            },
        )
        log.info(
            "epoch %d/%d  train/loss %.4f  val/loss %.4f  val/macro_f1 %.4f  val/accuracy %.4f  lr %.2e",
            epoch,
            cfg.epochs,
            train_loss,
            val_loss,
            val["macro_f1"],
            val["accuracy"],
            row["lr"],
        )
    shutil.copy2(checkpoints.best, out / "checkpoints" / "best.pt")
    tracker.log_artifact(out / "checkpoints" / "best.pt", "checkpoints")
    return history


def _test_best(cfg, data, trainer: Trainer, tracker: Tracker, out: Path) -> dict[str, Any]:
    best = out / "checkpoints" / "best.pt"
    payload = load_checkpoint(best)
    load_weights(trainer.model, payload, best)
    views = dihedral_views if cfg.tta else None
    probs, labels, _ = trainer.predict(data.eval_batches("test", cfg.eval_batch_size, trainer.device), views)
    context = {
        "checkpoint": str(best),
        "best epoch": str(payload["epoch"]),
        "data": data.name,
        "split": "test",
        "test-time augmentation": "8 dihedral views" if cfg.tta else "off",
    }
    report = write_report(labels, probs, data.class_names, out / "eval" / "test", "Test evaluation", context)
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
    report = write_report(labels, probs, tuple(payload["class_names"]), out, "Evaluation", context)
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
