"""Training throughput, side by side: naive PNG + PIL + DataLoader vs this framework vs pure compute."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from astro.bench.machine import machine
from astro.bench.training_setup import bench_trainer, cycle, synthetic_data
from astro.data.galaxy10 import CLASS_NAMES, Galaxy10H5
from astro.data.transforms import DihedralAugment
from astro.device import Performance, resolve_device
from astro.training.samplers import weighted
from astro.training.trainer import Trainer


def _rate(
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]], trainer: Trainer, steps: int, warmup: int
) -> float:
    """Images per second over `steps` training steps after `warmup` steps."""
    trainer.model.train()
    seen, start = 0, 0.0
    for i, (x, y) in enumerate(batches):
        if i == warmup:
            if trainer.device.type == "cuda":
                torch.cuda.synchronize()
            start, seen = time.perf_counter(), 0
        trainer.train_step(x.to(trainer.device, non_blocking=True), y.to(trainer.device, non_blocking=True))
        seen += len(y)
        if i + 1 == warmup + steps:
            break
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - start)


def _write_pngs(source: Galaxy10H5, folder: Path) -> None:
    """The naive layout: one PNG per image in class-named folders."""
    labels = source.labels()
    index = 0
    for chunk in source.iter_chunks(256):
        for image in chunk:
            target = folder / CLASS_NAMES[labels[index]] / f"{index:06d}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(target)
            index += 1


def bench_train(images: int, image_size: int, batch_size: int, steps: int, rounds: int, workers: int) -> dict:
    device = resolve_device("auto")
    perf = Performance.resolve(True, "auto", False, device)
    with tempfile.TemporaryDirectory() as tmp:
        data = synthetic_data(Path(tmp), images, image_size, device)
        _write_pngs(data.source, Path(tmp) / "png")
        labels = data.labels("train")
        generator = torch.Generator().manual_seed(0)

        naive_tf = transforms.Compose(
            [
                transforms.Resize(image_size),
                transforms.RandomHorizontalFlip(),
                transforms.RandomVerticalFlip(),
                transforms.ToTensor(),
                transforms.Normalize(data.mean, data.std),
            ]
        )
        folder = datasets.ImageFolder(str(Path(tmp) / "png"), transform=naive_tf)
        sampler = weighted(np.asarray(folder.targets), generator)
        loader = DataLoader(
            folder,
            batch_size=batch_size,
            sampler=sampler,
            num_workers=workers,
            pin_memory=device.type == "cuda",
            persistent_workers=workers > 0,
        )
        batches = data.train_batches(
            weighted(labels, generator), batch_size, device, DihedralAugment(), generator
        )
        fixed_x, fixed_y = next(iter(batches))

        variants: dict[str, Callable[[], float]] = {
            "a_naive_png_pil_dataloader": lambda: _rate(cycle(lambda: iter(loader)), t(), steps, 3),
            "b_framework": lambda: _rate(cycle(lambda: iter(batches)), t(), steps, 3),
            "c_pure_compute": lambda: _rate(cycle(lambda: iter([(fixed_x, fixed_y)])), t(), steps, 3),
        }

        def t() -> Trainer:
            return bench_trainer(device, perf)

        results: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name, run in variants.items():
                results[name].append(run())
    rates = {name: statistics.median(values) for name, values in results.items()}
    return {
        "benchmark": "train_throughput",
        "machine": machine(),
        "settings": {
            "images": images,
            "image_size": image_size,
            "batch_size": batch_size,
            "steps": steps,
            "rounds": rounds,
            "naive_workers": workers,
            "channels_last": perf.channels_last,
            "amp_bf16": perf.amp,
        },
        "images_per_s": rates,
        "all_rounds": results,
        "b_over_c": rates["b_framework"] / rates["c_pure_compute"],
        "b_over_a": rates["b_framework"] / rates["a_naive_png_pil_dataloader"],
    }
