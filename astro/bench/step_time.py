"""Where a training epoch's time goes, part by part: the data path alone, one optimisation step on a fixed
batch (bf16 or fp32, foreach or fused AdamW, compiled or not), the framework's whole step, and the
once-per-epoch work (validation, checkpoints). Milliseconds per call, device synchronised around each
timing: on a GPU a small model is bound by kernel launches and Python, and this says which part to cut.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from astro.bench.machine import machine
from astro.bench.training_setup import bench_trainer, cycle, synthetic_data
from astro.checkpoint.card import ModelCard, PosthocSteps, Preprocessing, TrainingRecord
from astro.data.transforms import DihedralAugment
from astro.device import Performance, resolve_device
from astro.training.checkpoints import RunCheckpoints
from astro.training.samplers import weighted


def _ms(fn: Callable[[], object], calls: int, device: torch.device, warmup: int = 5) -> float:
    """Milliseconds per call after `warmup` calls, the device synchronised before and after."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    sync()
    return (time.perf_counter() - start) / calls * 1000


def bench_step(images: int, image_size: int, batch_size: int, steps: int, compile_model: bool) -> dict:
    device = resolve_device("auto")
    amp = Performance.resolve(True, "auto", False, device)
    with tempfile.TemporaryDirectory() as tmp:
        data = synthetic_data(Path(tmp), images, image_size, device)
        generator = torch.Generator().manual_seed(0)
        batches = data.train_batches(
            weighted(data.labels("train"), generator), batch_size, device, DihedralAugment(), generator
        )
        stream = cycle(lambda: iter(batches))
        x, y = next(stream)
        variants = [
            (amp, False),
            (amp, True),
            (Performance(amp=False), False),
            (Performance(amp=False), True),
        ]
        if compile_model:
            variants.append((Performance(amp=amp.amp, compile=True), True))
        ms = {"data_path_only": _ms(lambda: next(stream), steps, device)}
        for perf, fused in variants:
            name = f"{'bf16' if perf.amp else 'fp32'}_{'fused' if fused else 'foreach'}"
            name += "_compiled" if perf.compile else ""
            trainer = bench_trainer(device, perf, fused)
            ms[f"step_fixed_batch_{name}"] = _ms(lambda t=trainer: t.train_step(x, y), steps, device)
        trainer = bench_trainer(device, amp, False)
        ms["framework_step_default"] = _ms(lambda: trainer.train_step(*next(stream)), steps, device)
        val = data.eval_batches("val", 256, device)
        ms["validate_per_epoch"] = _ms(lambda: trainer.validate(val, PosthocSteps()), 5, device, 1)
        card = ModelCard(
            class_names=data.class_names,
            preprocessing=Preprocessing(image_size, "bilinear", tuple(data.mean), tuple(data.std)),
            model={"_target_": "astro.models.astro_cnn.AstroCNN"},
            posthoc=PosthocSteps(),
            training=TrainingRecord(None, "bench", 0),
            config={},
        )
        checkpoints = RunCheckpoints(Path(tmp) / "ckpt", 3, card, "bench", generator)
        history: list[dict[str, float]] = []

        def end_epoch() -> None:
            row = {"epoch": len(history) + 1, "val/macro_f1": 0.5 + len(history) * 1e-3}
            history.append(row)
            checkpoints.end_epoch(trainer.snapshot(), row, history)

        ms["checkpoints_per_epoch"] = _ms(end_epoch, 5, device, 1)
    steps_per_epoch = len(batches)
    return {
        "benchmark": "step_breakdown",
        "machine": machine(),
        "settings": {"image_size": image_size, "batch_size": batch_size, "steps": steps},
        "ms": ms,
        "train_steps_per_epoch": steps_per_epoch,
    }
