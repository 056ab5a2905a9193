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
from astro.errors import NonFiniteLossError
from astro.schedule import LRSchedule

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch (CPU and CUDA); return a generator for samplers/augmentation."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input shapes: let cuDNN pick the fastest kernels
    return device


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
class Performance:
    """Speed switches. Defaults suit both CPU and GPU: channels_last helps the convolutions on both;
    bf16 autocast is used on CUDA only (most CPUs lack fast bf16); compile is opt-in."""

    channels_last: bool = True
    amp: bool = False
    compile: bool = False

    @classmethod
    def resolve(cls, channels_last: bool, amp: str | bool, compile: bool, device: torch.device):
        use_amp = device.type == "cuda" if amp == "auto" else bool(amp)
        return cls(channels_last, use_amp, compile)

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format


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
        perf: Performance | None = None,
    ) -> None:
        self.perf = perf or Performance()
        self.model = model.to(device, memory_format=self.perf.memory_format)
        self.forward = torch.compile(self.model) if self.perf.compile else self.model
        self.loss_fn, self.optimizer = loss_fn.to(device), optimizer
        self.schedule, self.device = schedule, device
        self.grad_clip, self.progress = grad_clip, progress
        # On CPU a per-step finiteness check costs nothing; on a GPU it would sync every step.
        self.check_every = 1 if device.type == "cpu" else 50

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
            loss = self.train_step(x, y)
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

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One optimisation step; returns the detached loss without syncing with the device."""
        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.perf.amp):
            logits = self.forward(x.contiguous(memory_format=self.perf.memory_format))
        loss = self.loss_fn(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimizer.step()
        self.schedule.after_batch()
        return loss.detach()

    def predict(
        self, batches: Iterable, views: Callable[[torch.Tensor], list[torch.Tensor]] | None = None
    ) -> tuple[np.ndarray, np.ndarray, float]:
        return predict(self.forward, batches, self.loss_fn, views, self.perf)


def _raise_if_non_finite(first_bad: torch.Tensor, epoch: int) -> None:
    step = int(first_bad.item())
    if step:
        raise NonFiniteLossError(
            f"loss became nan/inf at epoch {epoch}, step {step - 1}: lower the learning rate "
            "(schedule.optimizer.lr) or the focal gamma (loss.gamma), or set grad_clip"
        )


@torch.no_grad()
def predict(
    model: nn.Module,
    batches: Iterable,
    loss_fn: nn.Module | None = None,
    views: Callable[[torch.Tensor], list[torch.Tensor]] | None = None,
    perf: Performance | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Softmax probabilities, labels and mean loss; `views` averages probabilities over views (TTA)."""
    perf = perf or Performance(channels_last=False)
    model.eval()
    probs, labels = [], []
    total = 0.0

    def forward(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, torch.bfloat16, enabled=perf.amp):
            return model(x.contiguous(memory_format=perf.memory_format)).float()

    for x, y in batches:
        logits = forward(x)
        if loss_fn is not None:
            total += loss_fn(logits, y).detach() * len(y)
        p = logits.softmax(1)
        if views is not None:
            p = torch.stack([forward(v).softmax(1) for v in views(x)]).mean(0)
        probs.append(p)
        labels.append(y)
    n = sum(len(y) for y in labels)
    loss = float(total) / max(n, 1)
    if not math.isfinite(loss):
        log.warning("evaluation loss is %s", loss)
    return torch.cat(probs).cpu().numpy(), torch.cat(labels).cpu().numpy(), loss
