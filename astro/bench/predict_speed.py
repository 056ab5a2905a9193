"""Batch prediction speed and memory, variants side by side: `python -m astro bench predict`.

For each model input size: the model's pure forward on in-memory batches (the ceiling), then predict's
end to end rate (read, decode, preprocess, forward, post-hoc, write Parquet) on a folder of JPEGs and on
an HDF5 file of the same images, with the same batch size. Then peak RSS of end-to-end runs in fresh
processes at two catalogue sizes: it should not grow with N (streaming). The images are the synthetic
generator's 256 px galaxies, repeated to the sizes asked for; weights are untrained (speed does not
depend on them). Writes outputs/bench/predict.json.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch
from PIL import Image

from astro.bench.inference_latency import untrained_checkpoint
from astro.bench.machine import machine
from astro.checkpoint.io import load_checkpoint
from astro.data.catalogue import open_catalogue
from astro.data.synthetic import generate_h5
from astro.data.transforms import Normalize
from astro.device import Performance, resolve_device
from astro.evaluation.forward import predict
from astro.prediction.batch import Settings, label_catalogue
from astro.prediction.table import ChunkStore, Identity

DISTINCT = 256  # distinct synthetic galaxies; the catalogues repeat them


def make_inputs(root: Path, rows: int) -> tuple[Path, Path]:
    """A JPEG folder and an HDF5 file (chunked per image, like Galaxy10_DECals.h5) of `rows` images."""
    source = root / "distinct.h5"
    generate_h5(str(source), DISTINCT, seed=0)
    with h5py.File(source) as f:
        images = f["images"][:]
    folder, h5 = root / "jpegs", root / "catalogue.h5"
    folder.mkdir()
    with h5py.File(h5, "w") as f:
        data = f.create_dataset("images", (rows, *images.shape[1:]), np.uint8, chunks=(1, *images.shape[1:]))
        for start in range(0, rows, DISTINCT):
            stop = min(start + DISTINCT, rows)
            data[start:stop] = images[: stop - start]
        f["ans"] = np.zeros(rows, np.uint8)
    for i in range(rows):
        Image.fromarray(images[i % DISTINCT]).save(folder / f"g{i:06d}.jpg", quality=90)
    return folder, h5


def end_to_end(checkpoint: Path, source: Path, rows: int, batch_size: int, out: Path) -> float:
    """Images/s of predict on the first `rows` images of `source` (model load and listing excluded)."""
    ck = load_checkpoint(checkpoint)
    catalogue = open_catalogue(str(source), ck.card.preprocessing)
    identity = Identity(
        "bench",
        str(checkpoint),
        ck.card.class_names,
        str(source),
        "",
        len(catalogue),
        0,
        1,
        0,
        rows,
        False,
        4096,
    )
    store = ChunkStore(out, "parquet")
    store.prepare(identity, overwrite=True)
    settings = Settings(batch_size, 4096, False, 0.01, progress=False)
    device = resolve_device("auto")
    summary = label_catalogue(ck, ck.model().to(device), catalogue, store, identity, settings, device, 0)
    store.finish()
    return summary.images_per_second


def pure_forward(checkpoint: Path, rows: int, batch_size: int) -> float:
    """Images/s of the same forward pass and post-hoc input on batches already in memory."""
    ck = load_checkpoint(checkpoint)
    device = resolve_device("auto")
    perf = Performance(channels_last=True, amp=False)
    model = ck.model().to(device).to(memory_format=perf.memory_format)
    size = ck.card.preprocessing.image_size
    normalize = Normalize(ck.card.preprocessing.mean, ck.card.preprocessing.std)
    x = torch.randint(0, 256, (batch_size, 3, size, size), dtype=torch.uint8, device=device)
    batches = [(normalize(x), torch.zeros(batch_size))] * max(rows // batch_size, 1)
    predict(model, batches[:1], perf=perf)  # warm-up
    started = time.perf_counter()
    predict(model, batches, perf=perf)
    return len(batches) * batch_size / (time.perf_counter() - started)


def peak_rss_mb(checkpoint: Path, source: Path, rows: int, batch_size: int, out: Path) -> float:
    """Peak RSS (VmHWM, kB) of an end-to-end run in a fresh process; not ru_maxrss, which Linux carries
    over from the forking parent across exec."""
    code = (
        "import sys, resource; from pathlib import Path; from astro.bench.predict_speed import end_to_end; "
        f"end_to_end(Path({str(checkpoint)!r}), Path({str(source)!r}), {rows}, {batch_size}, "
        f"Path({str(out)!r})); "
        "print(Path('/proc/self/status').read_text().split('VmHWM:')[1].split()[0])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(result.stdout.split()[-1]) / 1024


def bench_predict(rows: int, sizes: tuple[int, int], image_sizes: list[int], batch_size: int) -> dict:
    """Throughput at each input size, then peak RSS at the two catalogue sizes (and its growth)."""
    results: dict = {"benchmark": "predict", "machine": machine(), "batch_size": batch_size, "rows": rows}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder, h5 = make_inputs(root, max(rows, *sizes))
        for size in image_sizes:
            checkpoint = Path(untrained_checkpoint(root / f"untrained{size}.pt", size))
            forward = pure_forward(checkpoint, rows, batch_size)
            jpeg = end_to_end(checkpoint, folder, rows, batch_size, root / "out.parquet")
            hdf5 = end_to_end(checkpoint, h5, rows, batch_size, root / "out.parquet")
            results[f"{size}px"] = {
                "pure_forward_img_s": forward,
                "jpeg_folder_img_s": jpeg,
                "hdf5_img_s": hdf5,
                "jpeg_vs_forward": jpeg / forward,
                "hdf5_vs_forward": hdf5 / forward,
            }
        checkpoint = Path(untrained_checkpoint(root / "rss.pt", image_sizes[0]))
        for name, source in (("jpeg_folder", folder), ("hdf5", h5)):
            rss = {n: peak_rss_mb(checkpoint, source, n, batch_size, root / "rss.parquet") for n in sizes}
            results[f"peak_rss_mb_{name}_{image_sizes[0]}px"] = {
                **{str(n): rss[n] for n in sizes},
                "growth": rss[sizes[1]] / rss[sizes[0]] - 1,
            }
    results["self_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return results
