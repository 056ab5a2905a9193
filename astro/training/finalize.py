"""Training's test step: fit the post-hoc steps on validation, ship them in best.pt, test once.

Selection and calibration use validation only; the test split is predicted once, at the end.
"""

from __future__ import annotations

from dataclasses import replace

from omegaconf import DictConfig

from astro.checkpoint.io import load_checkpoint, save_checkpoint
from astro.data.datamodule import GalaxyDataModule
from astro.data.transforms import dihedral_views
from astro.evaluation.posthoc import fit_posthoc
from astro.evaluation.report import write_report
from astro.serving.pyfunc import log_served_model
from astro.training.checkpoints import RunCheckpoints
from astro.training.tracked_run import TrackedRun
from astro.training.trainer import Trainer


def calibrate_and_test(
    cfg: DictConfig, data: GalaxyDataModule, trainer: Trainer, checkpoints: RunCheckpoints, run: TrackedRun
) -> dict[str, float]:
    """Load the best checkpoint, fit its post-hoc steps on val, rewrite and log best.pt, then write
    and log the test report; return the test metrics."""
    best = load_checkpoint(checkpoints.finish())
    best.load_into(trainer.model)
    views = dihedral_views if cfg.tta else None
    val = trainer.predict(data.eval_batches("val", cfg.eval_batch_size, trainer.device), views)
    prior = data.class_counts("train") / data.class_counts("train").sum()
    steps = fit_posthoc(val.logits, val.labels, prior, cfg.logit_adjustment)
    save_checkpoint(checkpoints.best, replace(best, card=replace(best.card, posthoc=steps)))
    run.tracker.log_artifact(checkpoints.best, "checkpoints")
    run.model_id = log_served_model(run.tracker, checkpoints.best)
    test = trainer.predict(data.eval_batches("test", cfg.eval_batch_size, trainer.device), views)
    context = {
        "checkpoint": str(checkpoints.best),
        "best epoch": str(best.card.training.epoch),
        "data": data.name,
        "split": "test",
        "test-time augmentation": "8 dihedral views" if cfg.tta else "off",
        "post-hoc logit adjustment tau": str(cfg.logit_adjustment),
    }
    out = run.out / "eval" / "test"
    report = write_report(test, steps, data.class_names, out, "Test evaluation", context)
    run.tracker.log_metrics(report.scalars("test"), model_id=run.model_id)
    run.tracker.log_artifacts(out, "eval/test")
    return report.scalars("test")
