"""What the training benchmarks start from: a synthetic data module, a fresh AstroCNN trainer, and batches
that never run out. Shared so `bench train` and `bench step` time the same model and data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from astro.data.datamodule import GalaxyDataModule
from astro.data.galaxy10 import Galaxy10H5
from astro.data.synthetic import generate_h5
from astro.device import Performance
from astro.models.astro_cnn import AstroCNN
from astro.training.losses import FocalLoss
from astro.training.optim import adamw, warmup_cosine
from astro.training.trainer import Trainer


def synthetic_data(folder: Path, images: int, image_size: int, device: torch.device) -> GalaxyDataModule:
    """A synthetic Galaxy10 file of `images` in `folder`, cached at `image_size`, on the GPU if present."""
    h5 = folder / "bench.h5"
    generate_h5(str(h5), images, seed=0)
    data = GalaxyDataModule(Galaxy10H5(str(h5)), image_size, str(folder / "cache"))
    if device.type == "cuda":
        data.keep_on(device)
    return data


def bench_trainer(device: torch.device, perf: Performance, fused: bool = False) -> Trainer:
    """AstroCNN with focal loss and AdamW (torch's default path, or fused), the same start every time."""
    torch.manual_seed(0)
    model = AstroCNN()
    optimizer = adamw(model.parameters(), lr=1e-3, weight_decay=0.01, fused=fused)
    schedule = warmup_cosine(optimizer, steps_per_epoch=1000, epochs=1)
    return Trainer(model, FocalLoss(gamma=2.0), optimizer, schedule, device, progress=False, perf=perf)


def cycle(make: Callable[[], Iterator]) -> Iterator:
    """Batches without end: each pass over `make()` is followed by another."""
    while True:
        yield from make()
