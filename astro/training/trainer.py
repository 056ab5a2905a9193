"""The training loop: epochs of optimisation, each followed by validation and checkpoints.

No Hydra or MLflow inside: `fit` reports each epoch's row to a callback and leaves writing checkpoints
to `RunCheckpoints`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

import torch
from torch import nn
from tqdm import tqdm

from astro.checkpoint.card import PosthocSteps
from astro.checkpoint.state import EpochProgress, PartialEpoch, ResumeState
from astro.data.datamodule import Batches
from astro.device import Performance
from astro.errors import NonFiniteLossError
from astro.evaluation.forward import Predictions, Views, predict
from astro.evaluation.metrics import quick_metrics
from astro.evaluation.posthoc import apply_posthoc
from astro.training.aligned_step import AlignedStep
from astro.training.checkpoints import RunCheckpoints, Snapshot
from astro.training.optim import LRSchedule, current_lr
from astro.training.rng import restore_rng
from astro.training.stopping import GracefulStop

log = logging.getLogger(__name__)
EpochRow = dict[str, float]


class Trainer:
    """Optimises a model on batches; keeps running sums on the device and syncs once per epoch."""

    def __init__(
        self,
        model: nn.Module,
        loss_fn: nn.Module,
        optimizer: torch.optim.Optimizer,
        schedule: LRSchedule,
        device: torch.device,
        grad_clip: float | None = None,
        progress: bool = True,
        perf: Performance | None = None,
        aligned: AlignedStep | None = None,
    ) -> None:
        self.perf = perf or Performance()
        self.aligned, self.epochs = aligned, 1
        if aligned:
            aligned.alignment.to(device)
        self.model = model.to(device, memory_format=self.perf.memory_format)
        self.forward = torch.compile(self.model) if self.perf.compile else self.model
        self.loss_fn, self.optimizer = loss_fn.to(device), optimizer
        self.schedule, self.device = schedule, device
        self.grad_clip, self.progress = grad_clip, progress
        # On CPU a per-step finiteness check costs nothing; on a GPU it would sync every step.
        self.check_every = 1 if device.type == "cpu" else 50

    def fit(
        self,
        train: Batches,
        val: Batches,
        epochs: int,
        checkpoints: RunCheckpoints,
        val_steps: PosthocSteps,
        on_epoch: Callable[[EpochRow], None] = lambda row: None,
        state: ResumeState | None = None,
    ) -> list[EpochRow]:
        """Train to `epochs` (from `state`'s epoch when resuming); validate after each epoch with the
        logit adjustment of `val_steps`; return the per-epoch history."""
        history = list(state.history) if state else []
        self.epochs = epochs  # for the alignment ramp's progress
        partial = state.partial if state else None
        with GracefulStop() as stop:
            for epoch in range((state.epoch if state else 0) + 1, epochs + 1):
                resumed = partial is not None and partial.epoch == epoch
                plan = partial.plan if resumed else train.plan()
                before = partial.progress if resumed else None
                start = time.perf_counter()
                progress = self.train_epoch(train, plan, epoch, before, stop)
                if progress.stopped:
                    checkpoints.save_last(
                        self.snapshot(), epoch - 1, history, PartialEpoch(epoch, plan, progress)
                    )
                    raise stop.interrupted(epoch, progress.steps, str(checkpoints.last))
                trained = time.perf_counter() - start  # train_epoch syncs with the device at its end
                row = {"epoch": epoch, "train/loss": progress.mean_loss, **self.validate(val, val_steps)}
                row.update(self.aligned.end_epoch() if self.aligned else {})
                row["lr"] = current_lr(self.optimizer)
                row["time/epoch_s"] = time.perf_counter() - start
                row["time/train_images_per_s"] = (progress.seen - (before.seen if before else 0)) / trained
                history.append(row)
                self.schedule.after_epoch(row)
                checkpoints.end_epoch(self.snapshot(), row, history)
                on_epoch(row)  # after the checkpoints: a hook that stops training (pruning) keeps them
                _log_epoch(row, epochs)
                if stop.requested:
                    raise stop.interrupted(epoch + 1, 0, str(checkpoints.last))
        return history

    def validate(self, val: Batches, steps: PosthocSteps) -> dict[str, float]:
        out = self.predict(val)
        metrics = quick_metrics(out.labels, apply_posthoc(out.logits, steps), out.logits.shape[1])
        return {
            "val/loss": out.loss,
            "val/macro_f1": metrics["macro_f1"],
            "val/accuracy": metrics["accuracy"],
        }

    def snapshot(self) -> Snapshot:
        """The state a checkpoint keeps, so that RunCheckpoints never needs the trainer itself."""
        alignment = self.aligned.alignment.state_dict() if self.aligned else None
        return Snapshot(
            self.model.state_dict(),
            self.optimizer.state_dict(),
            self.schedule.scheduler.state_dict(),
            alignment,
        )

    def restore(
        self, weights: dict[str, torch.Tensor], state: ResumeState, generator: torch.Generator
    ) -> None:
        """Continue exactly where last.pt left off: weights, optimizer, schedule and every RNG."""
        self.model.load_state_dict(weights)
        self.optimizer.load_state_dict(state.optimizer_state)
        self.schedule.scheduler.load_state_dict(state.scheduler_state)
        if self.aligned and state.alignment_state is not None:
            self.aligned.alignment.load_state_dict(state.alignment_state)
        restore_rng(state.rng, generator)

    def train_epoch(
        self,
        batches: Batches,
        plan: list[list[int]],
        epoch: int,
        start: EpochProgress | None = None,
        stop: GracefulStop | None = None,
    ) -> EpochProgress:
        """Run the plan's batches from `start.steps`; return early (stopped) after a step if asked."""
        self.model.train()
        done = start or EpochProgress()
        total = torch.tensor(done.loss_sum, device=self.device)
        seen, steps = done.seen, done.steps
        remaining = batches.iterate(plan[steps:])
        bar = tqdm(
            remaining, desc=f"epoch {epoch}", total=len(plan) - steps, leave=False, disable=not self.progress
        )
        first_bad = torch.zeros((), dtype=torch.long, device=self.device)
        for x, y in bar:
            loss = self.train_step(x, y, (epoch - 1 + steps / len(plan)) / self.epochs)
            # Record the first non-finite step on the device; look at it only every check_every steps.
            first_bad = torch.where((first_bad == 0) & ~torch.isfinite(loss), steps + 1, first_bad)
            total += loss * len(y)
            seen += len(y)
            steps += 1
            if steps % self.check_every == 0 or steps == len(plan):
                _raise_if_non_finite(first_bad, epoch)
            if stop is not None and stop.requested and steps < len(plan):
                _raise_if_non_finite(first_bad, epoch)
                return EpochProgress(steps, float(total.item()), seen, stopped=True)
        return EpochProgress(steps, float(total.item()), seen)

    def train_step(self, x: torch.Tensor, y: torch.Tensor, progress: float = 1.0) -> torch.Tensor:
        """One optimisation step (`progress` through training ramps an alignment term); returns the
        detached loss without syncing with the device."""
        if self.aligned:
            loss = self.aligned.loss(self._forward_step, self.loss_fn, x, y, progress)
        else:
            loss = self.loss_fn(self._forward_step(x), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimizer.step()
        self.schedule.after_batch()
        return loss.detach()

    def _forward_step(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.perf.amp):
            return self.forward(x.contiguous(memory_format=self.perf.memory_format))

    def predict(self, batches: Iterable, views: Views | None = None) -> Predictions:
        return predict(self.forward, batches, self.loss_fn, views, self.perf)


def _raise_if_non_finite(first_bad: torch.Tensor, epoch: int) -> None:
    step = int(first_bad.item())
    if step:
        raise NonFiniteLossError(
            f"loss became nan/inf at epoch {epoch}, step {step - 1}: lower the learning rate "
            "(optim.optimizer.lr) or the focal gamma (loss.gamma), or set grad_clip"
        )


def _log_epoch(row: EpochRow, epochs: int) -> None:
    aligned = "".join(f"  {k} {v:.4f}" for k, v in row.items() if k.endswith("_distance"))
    log.info(
        "epoch %d/%d  train/loss %.4f  val/loss %.4f  val/macro_f1 %.4f  val/accuracy %.4f  lr %.2e%s",
        row["epoch"],
        epochs,
        row["train/loss"],
        row["val/loss"],
        row["val/macro_f1"],
        row["val/accuracy"],
        row["lr"],
        aligned,
    )
