"""Train a galaxy-morphology classifier: python train.py [group=option ...] [key=value ...]."""

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig

from astro.adaptation.features import feature_width
from astro.checkpoint.card import card_for_run
from astro.cli import user_errors_as_one_line
from astro.config.compat import VERSION_BASE, with_allowed_targets
from astro.config.schema import register_configs
from astro.config.validation import alignment_config, check_class_count, validate
from astro.data.datamodule import GalaxyDataModule
from astro.device import Performance, keep_data_on, resolve_device
from astro.training.aligned_step import AlignedStep, trainable_parameters
from astro.training.checkpoints import RunCheckpoints
from astro.training.finalize import calibrate_and_test
from astro.training.pruning import report_to_trial
from astro.training.resume import config_hash
from astro.training.rng import seed_everything
from astro.training.tracked_run import tracked_run
from astro.training.trainer import Trainer


def train(cfg: DictConfig) -> float:
    """Build data, model, loss, sampler, optimizer and schedule -> fit -> test; return the optimized
    metric (validation, never test) for a sweeper."""
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
    target = data.target_batches(cfg.batch_size, device, augment, generator)  # data.unlabeled, if any
    adapt = alignment_config(cfg)  # adapt=mmd|coral|dann, or None
    alignment = instantiate(adapt)(feature_width(model), data.num_classes) if adapt else None
    aligned = AlignedStep(model, alignment, target) if alignment and target else None
    optimizer = instantiate(cfg.optim.optimizer)(trainable_parameters(model, alignment))
    schedule = instantiate(cfg.optim.scheduler)(
        optimizer, steps_per_epoch=len(train_batches), epochs=cfg.epochs
    )
    perf = Performance.resolve(cfg.channels_last, cfg.amp, cfg.compile, device)
    if keep_data_on(device, cfg.data_on_device):
        data.keep_on(device)
    trainer = Trainer(model, loss_fn, optimizer, schedule, device, cfg.grad_clip, cfg.progress, perf, aligned)

    with tracked_run(cfg, data, model, device) as run:
        card = card_for_run(cfg, data, run.run_id)
        checkpoints = RunCheckpoints(run.out / "checkpoints", cfg.top_k, card, config_hash(cfg), generator)
        state = run.resumed.resume if run.resumed else None
        if run.resumed:
            trainer.restore(run.resumed.weights, state, generator)
            checkpoints.restore(state)
        val_batches = data.eval_batches("val", cfg.eval_batch_size, device)
        on_epoch = report_to_trial(run.log_epoch, cfg.optimized_metric)  # prunes in an Optuna sweep
        history = trainer.fit(
            train_batches, val_batches, cfg.epochs, checkpoints, card.posthoc, on_epoch, state
        )
        results = calibrate_and_test(cfg, data, trainer, checkpoints, run)
        return run.finish(history, results, cfg.optimized_metric)


register_configs()  # the schemas and resolvers Hydra composes this app with


@with_allowed_targets
@hydra.main(config_path="conf", config_name="train", **VERSION_BASE)
@with_allowed_targets
@user_errors_as_one_line
def main(cfg: DictConfig) -> float:
    return train(cfg)


if __name__ == "__main__":
    main()
