"""The training loop: epochs of optimisation with per-epoch validation, no Hydra or MLflow inside."""

from __future__ import annotations

import logging
import math
import random
import signal
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from astro.data.datamodule import Batches
from astro.errors import AstroError
from astro.schedule import LRSchedule

log = logging.getLogger(__name__)


class NonFiniteLossError(AstroError):
    """The loss became NaN/Inf; the message names where and the likely causes."""


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch (CPU and CUDA); return a generator for samplers/augmentation."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class TrainingInterrupted(AstroError):
    """SIGINT/SIGTERM stopped training after a finished step; last.pt holds the state to resume."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class GracefulStop:
    """SIGINT/SIGTERM set a flag that the loop checks after each step; a second signal stops at once."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: object) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum
        log.warning("%s received: stopping after this step (again to stop now)", signal.Signals(signum).name)

    @property
    def requested(self) -> bool:
        return self.signal is not None


@dataclass
class EpochProgress:
    """How far an epoch got: a stopped epoch resumes at `steps` with the running loss sums."""

    steps: int = 0
    loss_sum: float = 0.0
    seen: int = 0
    stopped: bool = False

    @property
    def mean_loss(self) -> float:
        return self.loss_sum / max(self.seen, 1)


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
    ) -> None:
        self.model, self.loss_fn, self.optimizer = model.to(device), loss_fn.to(device), optimizer
        self.schedule, self.device = schedule, device
        self.grad_clip, self.progress = grad_clip, progress

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
        for x, y in bar:
            loss = self.loss_fn(self.model(x), y)
            if not torch.isfinite(loss):
                raise NonFiniteLossError(
                    f"loss became {loss.item()} at epoch {epoch}, step {steps}: lower the learning "
                    "rate (schedule.optimizer.lr) or the focal gamma (loss.gamma), or set grad_clip"
                )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.grad_clip:
                nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
            self.optimizer.step()
            self.schedule.after_batch()
            total += loss.detach() * len(y)
            seen += len(y)
            steps += 1
            if stop is not None and stop.requested and steps < len(plan):
                return EpochProgress(steps, float(total.item()), seen, stopped=True)
        return EpochProgress(steps, float(total.item()), seen)

    def predict(
        self, batches: Iterable, views: Callable[[torch.Tensor], list[torch.Tensor]] | None = None
    ) -> tuple[np.ndarray, np.ndarray, float]:
        return predict(self.model, batches, self.loss_fn, views)


@torch.no_grad()
def predict(
    model: nn.Module,
    batches: Iterable,
    loss_fn: nn.Module | None = None,
    views: Callable[[torch.Tensor], list[torch.Tensor]] | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Softmax probabilities, labels and mean loss; `views` averages probabilities over views (TTA)."""
    model.eval()
    probs, labels = [], []
    total = 0.0
    for x, y in batches:
        logits = model(x)
        if loss_fn is not None:
            total += loss_fn(logits, y).detach() * len(y)
        p = logits.float().softmax(1)
        if views is not None:
            p = torch.stack([model(v).float().softmax(1) for v in views(x)]).mean(0)
        probs.append(p)
        labels.append(y)
    n = sum(len(y) for y in labels)
    loss = float(total) / max(n, 1)
    if not math.isfinite(loss):
        log.warning("evaluation loss is %s", loss)
    return torch.cat(probs).cpu().numpy(), torch.cat(labels).cpu().numpy(), loss
