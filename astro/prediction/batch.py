"""Label a catalogue with a checkpoint: streaming, batched, resumable, with bounded memory.

A background thread reads (decodes, preprocesses) the next batches while the model runs on the current
one; finished chunks go to disk as they complete, so memory holds a few batches and one chunk whatever
the catalogue's size. Logits become probabilities only through astro.evaluation.posthoc.apply_posthoc
with the checkpoint's post-hoc steps, and the forward pass is astro.evaluation.forward.predict (TTA: the 8
dihedral views averaged in log space), so a row equals what the demo's Classifier.predict shows for that
image.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from astro.checkpoint.io import Checkpoint
from astro.data.catalogue import Batch, Catalogue
from astro.data.transforms import Normalize, dihedral_views
from astro.device import Performance
from astro.errors import DataError
from astro.evaluation.forward import predict
from astro.evaluation.posthoc import apply_posthoc
from astro.prediction.table import ChunkStore, Identity, build_table

log = logging.getLogger(__name__)
PREFETCH = 2  # batches read ahead of the forward pass


@dataclass(frozen=True)
class Settings:
    batch_size: int
    chunk_size: int
    tta: bool
    max_bad_fraction: float
    progress: bool


@dataclass(frozen=True)
class Summary:
    rows: int
    resumed_rows: int
    bad: int
    seconds: float

    @property
    def images_per_second(self) -> float:
        return (self.rows - self.resumed_rows) / self.seconds if self.seconds > 0 else 0.0


def checkpoint_digest(checkpoint: Checkpoint) -> str:
    """sha256 of the model card and the weights: what the model is, wherever its file was fetched to."""
    digest = hashlib.sha256(json.dumps(checkpoint.card.to_dict(), sort_keys=True, default=str).encode())
    for name in sorted(checkpoint.weights):
        tensor = checkpoint.weights[name].detach().cpu().contiguous()
        digest.update(name.encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def label_catalogue(
    checkpoint: Checkpoint,
    model: torch.nn.Module,
    catalogue: Catalogue,
    store: ChunkStore,
    identity: Identity,
    settings: Settings,
    device: torch.device,
    done_chunks: int,
) -> Summary:
    """Predict rows [identity.start, identity.stop) chunk by chunk after the `done_chunks` finished ones,
    with `model` (the checkpoint's, on `device`, adapted or not)."""
    card = checkpoint.card
    normalize = Normalize(card.preprocessing.mean, card.preprocessing.std)
    perf = Performance(channels_last=True, amp=False)  # fp32 everywhere: the same numbers as the demo
    model = model.to(memory_format=perf.memory_format)
    views = dihedral_views if settings.tta else None
    total = identity.stop - identity.start
    resumed = min(done_chunks * settings.chunk_size, total)
    bad = store.bad_rows()
    limit = settings.max_bad_fraction * total
    started = time.perf_counter()
    with tqdm(total=total, initial=resumed, unit="img", desc="predict", disable=not settings.progress) as bar:
        for k, (chunk_start, chunk_stop) in enumerate(
            spans(identity.start, identity.stop, settings.chunk_size)
        ):
            if k < done_chunks:
                continue
            probs, errors = [], []
            for batch in prefetched(catalogue, spans(chunk_start, chunk_stop, settings.batch_size)):
                probs.append(_probabilities(model, batch, normalize, views, perf, device, card))
                errors += batch.errors
                bad += sum(e is not None for e in batch.errors)
                if bad > limit:
                    raise DataError(_too_many_bad(catalogue, batch, bad, total, settings.max_bad_fraction))
                bar.update(batch.stop - batch.start)
            columns = {name: values[chunk_start:chunk_stop] for name, values in catalogue.columns.items()}
            store.write_chunk(k, build_table(columns, np.concatenate(probs), errors, identity))
    return Summary(total, resumed, bad, time.perf_counter() - started)


def _probabilities(model, batch: Batch, normalize, views, perf, device, card) -> np.ndarray:
    """Calibrated probabilities for every row of the batch; NaN rows where the image was unreadable."""
    out = np.full((batch.stop - batch.start, card.num_classes), np.nan)
    ok = np.array([e is None for e in batch.errors], dtype=bool)
    if ok.any():
        x = normalize(batch.pixels.to(device, non_blocking=True))
        logits = predict(model, [(x, torch.zeros(len(x)))], views=views, perf=perf).logits
        out[ok] = apply_posthoc(logits, card.posthoc)
    return out


def spans(start: int, stop: int, size: int) -> list[tuple[int, int]]:
    return [(s, min(s + size, stop)) for s in range(start, stop, size)]


def prefetched(catalogue: Catalogue, ranges: list[tuple[int, int]]) -> Iterator[Batch]:
    """The batches of `ranges` in order, each read in a background thread while the caller works."""
    with ThreadPoolExecutor(1, thread_name_prefix="read") as reader:
        pending = deque(reader.submit(catalogue.read, *r) for r in ranges[:PREFETCH])
        queued = iter(ranges[PREFETCH:])
        while pending:
            batch = pending.popleft().result()
            following = next(queued, None)
            if following is not None:
                pending.append(reader.submit(catalogue.read, *following))
            yield batch


def _too_many_bad(catalogue: Catalogue, batch: Batch, bad: int, total: int, fraction: float) -> str:
    first = next(i for i, e in enumerate(batch.errors) if e is not None)
    name = catalogue.columns[catalogue.key][batch.start + first]
    return (
        f"{bad} of {total} images are unreadable, more than max_bad_fraction={fraction} allows "
        f"(e.g. {catalogue.key} {name}: {batch.errors[first]}); the chunks done so far are kept"
    )
