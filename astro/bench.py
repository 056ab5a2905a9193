"""Benchmarks that run their variants side by side in one process, so ratios hold on a noisy machine.

    python -m astro.bench train       # images/s: naive PNG+PIL+DataLoader vs this framework vs pure compute
    python -m astro.bench inference   # single-upload latency p50/p95, with and without 8-view TTA
    python -m astro.bench epoch       # epoch wall time and peak RSS on a Galaxy10-sized synthetic file

Each prints a table and writes JSON under outputs/bench/.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from rich.console import Console
from rich.table import Table
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from astro.checkpointing import Checkpoint, save_checkpoint
from astro.config import PROJECT_ROOT
from astro.data.datamodule import GalaxyDataModule
from astro.data.galaxy10 import CLASS_NAMES, Galaxy10H5
from astro.data.synthetic import generate_h5, render
from astro.data.transforms import DihedralAugment
from astro.device import Performance, resolve_device
from astro.losses import FocalLoss
from astro.model_card import ModelCard, PosthocSteps, Preprocessing, TrainingRecord
from astro.models.astro_cnn import AstroCNN
from astro.optim import warmup_cosine
from astro.samplers import weighted
from astro.trainer import Trainer

console = Console()


def machine() -> dict[str, str | int]:
    device = resolve_device("auto")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    return {
        "device": str(device),
        "device_name": name,
        "cpu_cores": os.cpu_count() or 0,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def _trainer(device: torch.device, image_size: int, perf: Performance) -> Trainer:
    torch.manual_seed(0)
    model = AstroCNN()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    schedule = warmup_cosine(optimizer, steps_per_epoch=1000, epochs=1)
    return Trainer(model, FocalLoss(gamma=2.0), optimizer, schedule, device, progress=False, perf=perf)


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


def _cycle(make: Callable[[], Iterator]) -> Iterator:
    while True:
        yield from make()


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
        h5 = Path(tmp) / "bench.h5"
        generate_h5(str(h5), images, seed=0)
        source = Galaxy10H5(str(h5))
        _write_pngs(source, Path(tmp) / "png")
        data = GalaxyDataModule(source, image_size, str(Path(tmp) / "cache"))
        if device.type == "cuda":
            data.keep_on(device)
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
            "a_naive_png_pil_dataloader": lambda: _rate(_cycle(lambda: iter(loader)), t(), steps, 3),
            "b_framework": lambda: _rate(_cycle(lambda: iter(batches)), t(), steps, 3),
            "c_pure_compute": lambda: _rate(_cycle(lambda: iter([(fixed_x, fixed_y)])), t(), steps, 3),
        }

        def t() -> Trainer:
            return _trainer(device, image_size, perf)

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


def bench_inference(checkpoint: str | None, image_size: int, repeats: int) -> dict:
    from astro.inference import Classifier

    with tempfile.TemporaryDirectory() as tmp:
        path = checkpoint or _untrained_checkpoint(Path(tmp) / "bench.pt", image_size)
        classifier = Classifier.from_checkpoint(path)
        upload = io.BytesIO()
        Image.fromarray(render(5, np.random.default_rng(0))).save(upload, format="JPEG", quality=90)
        payload = upload.getvalue()
        timings = {}
        for tta in (False, True):
            for _ in range(5):
                classifier.predict(payload, tta=tta)
            samples = []
            for _ in range(repeats):
                start = time.perf_counter()
                classifier.predict(payload, tta=tta)
                samples.append((time.perf_counter() - start) * 1000)
            key = "tta_8_views" if tta else "no_tta"
            timings[key] = {
                "p50_ms": float(np.percentile(samples, 50)),
                "p95_ms": float(np.percentile(samples, 95)),
            }
    return {
        "benchmark": "inference_latency",
        "machine": machine(),
        "settings": {
            "checkpoint": str(checkpoint or "untrained AstroCNN"),
            "image_size": image_size,
            "input": "256x256 JPEG bytes (decode + preprocess + forward)",
            "repeats": repeats,
        },
        "latency": timings,
    }


def _untrained_checkpoint(path: Path, image_size: int) -> str:
    """Latency does not depend on the weights: a fresh AstroCNN checkpoint stands in for a trained one."""
    model = {"_target_": "astro.models.astro_cnn.AstroCNN"}
    card = ModelCard(
        class_names=CLASS_NAMES,
        preprocessing=Preprocessing(image_size, "bilinear", (0.12,) * 3, (0.1,) * 3),
        model=model,
        posthoc=PosthocSteps(),
        training=TrainingRecord(run_id=None, data_name="none (untrained)", epoch=0),
        config={"model": model},
    )
    save_checkpoint(path, Checkpoint(card, AstroCNN().state_dict()))
    return str(path)


def bench_epoch(images: int, image_size: int, batch_size: int) -> dict:
    """Two `train.py` runs of one epoch on a Galaxy10-sized file: the first builds the cache, the second
    reuses it. Wall time and peak RSS per process."""
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = PROJECT_ROOT / "data"
        for name in ("first_run_builds_cache", "second_run_reuses_cache"):
            args = [
                sys.executable,
                str(PROJECT_ROOT / "train.py"),
                "epochs=1",
                f"image_size={image_size}",
                f"batch_size={batch_size}",
                f"data.source.num_images={images}",
                "progress=false",
                f"paths.data_dir={data_dir}",
                f"paths.cache_dir={tmp}/cache",
                f"hydra.run.dir={tmp}/{name}",
                f"tracking.uri=sqlite:///{tmp}/mlflow.db",
                f"tracking.artifact_root={tmp}/art",
            ]
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            start = time.perf_counter()
            subprocess.run(args, check=True, capture_output=True, text=True)
            wall = time.perf_counter() - start
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            log = (Path(tmp) / name / "train.log").read_text()
            runs[name] = {
                "wall_s": wall,
                "peak_rss_mb": max(peak, before) / 1024,
                "epoch_s": _epoch_seconds(log),
            }
    return {
        "benchmark": "epoch_galaxy10_size",
        "machine": machine(),
        "settings": {
            "images": images,
            "image_size": image_size,
            "batch_size": batch_size,
            "note": "synthetic file generated under data/ on first use (not timed here if present)",
        },
        "runs": runs,
    }


def _epoch_seconds(log: str) -> float | None:
    """Seconds between the model line and the end of epoch 1 in train.log (training + validation)."""
    stamps = {}
    for line in log.splitlines():
        for key, marker in (("start", "parameters"), ("end", "epoch 1/1")):
            if marker in line and key not in stamps:
                stamps[key] = (
                    time.mktime(time.strptime(line[1:20], "%Y-%m-%d %H:%M:%S")) + int(line[21:24]) / 1000
                )
    return stamps["end"] - stamps["start"] if len(stamps) == 2 else None


def save_result(result: dict, name: str) -> Path:
    out = PROJECT_ROOT / "outputs" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    table = Table(
        title=f"{result['benchmark']} on {result['machine']['device_name']} "
        f"({result['machine']['cpu_cores']} cores, {result['machine']['device']})"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in _flat(result).items():
        if not key.startswith(("machine", "all_rounds")):
            table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    console.print(table)
    console.print(f"written {path}")
    return path


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m astro bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="name", required=True)
    train = sub.add_parser("train", help="training throughput: naive vs framework vs pure compute")
    train.add_argument("--images", type=int, default=1500)
    train.add_argument("--image-size", type=int, default=128)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--steps", type=int, default=12)
    train.add_argument("--rounds", type=int, default=2)
    train.add_argument("--workers", type=int, default=2, help="DataLoader workers for the naive variant")
    infer = sub.add_parser("inference", help="single-image latency with and without TTA")
    infer.add_argument("--checkpoint", default=None)
    infer.add_argument("--image-size", type=int, default=64)
    infer.add_argument("--repeats", type=int, default=200)
    epoch = sub.add_parser("epoch", help="epoch wall time and peak RSS at Galaxy10 size")
    epoch.add_argument("--images", type=int, default=17_736)
    epoch.add_argument("--image-size", type=int, default=64)
    epoch.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    if args.name == "train":
        result = bench_train(
            args.images, args.image_size, args.batch_size, args.steps, args.rounds, args.workers
        )
    elif args.name == "inference":
        result = bench_inference(args.checkpoint, args.image_size, args.repeats)
    else:
        result = bench_epoch(args.images, args.image_size, args.batch_size)
    save_result(result, args.name)


if __name__ == "__main__":
    main()
