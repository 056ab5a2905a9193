"""Unlabelled cutouts of the survey a model is meant for (`data.unlabeled=<folder | manifest.csv | .h5>`).

Train-time adaptation (`adapt=mmd|coral|dann`) aligns the features of the labelled training images with
those of these images, whose labels are never read. They are read like batch prediction's input (the
same catalogue layouts and preprocessing, `unlabeled_field` as predict.py's `field`), from a bounded,
seeded sample, and held in memory as uint8 at the training resolution (4,096 images at 64 px: 50 MB).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from astro.checkpoint.card import Preprocessing
from astro.data.catalogue import Batch, Catalogue, open_catalogue
from astro.errors import DataError

log = logging.getLogger(__name__)
READ_AT_ONCE = 256


@dataclass(frozen=True)
class UnlabeledImages:
    """The sampled target images and what they are, for the model card and the run's parameters."""

    images: torch.Tensor  # uint8 (N, 3, S, S)
    source: str
    available: int  # images the source lists; `len(images)` of them were sampled and readable
    fingerprint: str
    field: float

    def __len__(self) -> int:
        return len(self.images)


def sample_rows(total: int, limit: int, seed: int) -> np.ndarray:
    """At most `limit` of `total` rows, drawn without replacement by `seed`, in file order."""
    if total <= limit:
        return np.arange(total)
    return np.sort(np.random.default_rng(seed).choice(total, size=limit, replace=False))


def load_unlabeled(
    source: str, image_size: int, resize: str, field: float, max_images: int, seed: int
) -> UnlabeledImages:
    """Read a seeded sample of at most `max_images` of `source`; unreadable images are left out with a
    warning, and a source with fewer than two readable images is refused in one line."""
    if not 0 < field <= 1:
        raise DataError(f"data.unlabeled_field={field} must be in (0, 1]")
    catalogue = open_catalogue(source, Preprocessing(image_size, resize, (), ()), field=field)
    rows = sample_rows(len(catalogue), max_images, seed)
    pieces, bad = [], 0
    for batch in _read(catalogue, rows):
        pieces.append(batch.pixels)
        bad += sum(error is not None for error in batch.errors)
    images = torch.cat(pieces) if pieces else torch.empty((0, 3, image_size, image_size), dtype=torch.uint8)
    if len(images) < 2:
        raise DataError(f"data.unlabeled={source}: {len(images)} readable image(s) to adapt to (need 2+)")
    if bad:
        log.warning("data.unlabeled=%s: %d of %d sampled images unreadable, left out", source, bad, len(rows))
    sample = f"{len(images)} of {len(catalogue)} (seed {seed}, field {field:g})"
    return UnlabeledImages(images, source, len(catalogue), f"{catalogue.fingerprint()}|{sample}", field)


def _read(catalogue: Catalogue, rows: np.ndarray) -> Iterator[Batch]:
    """All rows in ranges (decoded in parallel), or a sample row by row."""
    if len(rows) == len(catalogue):
        for start in range(0, len(rows), READ_AT_ONCE):
            yield catalogue.read(start, min(start + READ_AT_ONCE, len(rows)))
    else:
        for row in rows:
            yield catalogue.read(int(row), int(row) + 1)


class TargetBatches:
    """One batch of target images per training step, drawn with replacement by the run's generator and
    transformed as the training batches are (augmentation, then the training split's normalisation), so a
    resumed run draws what the uninterrupted one would."""

    def __init__(
        self,
        images: torch.Tensor,
        batch_size: int,
        transform: Callable[[torch.Tensor], torch.Tensor],
        device: torch.device,
        generator: torch.Generator | None,
    ) -> None:
        self.images, self.batch_size, self.transform = images, batch_size, transform
        self.device, self.generator = device, generator

    def draw(self) -> torch.Tensor:
        index = torch.randint(len(self.images), (self.batch_size,), generator=self.generator)
        return self.transform(self.images[index.to(self.images.device)].to(self.device, non_blocking=True))
