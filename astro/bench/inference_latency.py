"""Single-upload latency of the demo's classifier (decode + preprocess + forward), with and without TTA."""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from astro.bench.machine import machine
from astro.checkpoint.card import ModelCard, PosthocSteps, Preprocessing, TrainingRecord
from astro.checkpoint.io import Checkpoint, save_checkpoint
from astro.data.galaxy10 import CLASS_NAMES
from astro.data.synthetic import render
from astro.models.astro_cnn import AstroCNN


def bench_inference(checkpoint: str | None, image_size: int, repeats: int) -> dict:
    from astro.serving.classifier import Classifier

    with tempfile.TemporaryDirectory() as tmp:
        path = checkpoint or untrained_checkpoint(Path(tmp) / "bench.pt", image_size)
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


def untrained_checkpoint(path: Path, image_size: int) -> str:
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
