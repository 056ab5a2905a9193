"""Optimizer schedules behind one interface: step per batch or per epoch, optionally on a metric."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch.optim import AdamW, Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, OneCycleLR, ReduceLROnPlateau


@dataclass
class LRSchedule:
    scheduler: LRScheduler | ReduceLROnPlateau
    interval: str  # "step" or "epoch"
    monitor: str | None = None

    def after_batch(self) -> None:
        if self.interval == "step":
            self.scheduler.step()

    def after_epoch(self, metrics: dict[str, float]) -> None:
        if self.interval != "epoch":
            return
        if self.monitor:
            self.scheduler.step(metrics[self.monitor])
        else:
            self.scheduler.step()


def adamw(params: Iterable[torch.Tensor], lr: float, weight_decay: float, fused: bool | None = None) -> AdamW:
    """AdamW; fused=None means one fused kernel per step where CUDA is present and torch's default path
    elsewhere. A small model on a GPU is bound by kernel launches: on an H200 the fused update cut a 128 px
    AstroCNN step from 6.1 to 5.0 ms (`python -m astro bench step`, docs/performance.md)."""
    return AdamW(
        params, lr=lr, weight_decay=weight_decay, fused=torch.cuda.is_available() if fused is None else fused
    )


def warmup_cosine(
    optimizer: Optimizer,
    steps_per_epoch: int,
    epochs: int,
    warmup_epochs: float = 1.0,
    min_lr_ratio: float = 0.01,
) -> LRSchedule:
    """Linear warmup then cosine decay to min_lr_ratio x the base LR, stepped per batch."""
    total = max(steps_per_epoch * epochs, 1)
    warmup = min(int(steps_per_epoch * warmup_epochs), total - 1)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = (step - warmup) / max(total - warmup, 1)
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return LRSchedule(LambdaLR(optimizer, factor), "step")


def one_cycle(
    optimizer: Optimizer, steps_per_epoch: int, epochs: int, max_lr: float, pct_start: float = 0.3
) -> LRSchedule:
    """Smith's one-cycle policy (pairs with SGD + momentum)."""
    scheduler = OneCycleLR(
        optimizer, max_lr=max_lr, total_steps=max(steps_per_epoch * epochs, 1), pct_start=pct_start
    )
    return LRSchedule(scheduler, "step")


def plateau(
    optimizer: Optimizer,
    steps_per_epoch: int,
    epochs: int,
    monitor: str = "val/macro_f1",
    mode: str = "max",
    factor: float = 0.5,
    patience: int = 3,
) -> LRSchedule:
    """Cut the LR when the monitored validation metric stops improving."""
    del steps_per_epoch, epochs
    scheduler = ReduceLROnPlateau(optimizer, mode=mode, factor=factor, patience=patience)
    return LRSchedule(scheduler, "epoch", monitor)


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])
