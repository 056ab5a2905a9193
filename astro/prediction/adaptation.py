"""The images a model adapts to before labelling a catalogue (adapt=bn): by default a seeded sample of the
catalogue itself (of all of it, not of this shard, so every shard adapts alike), or of another set given
as `adapt_on=<folder | manifest.csv | .h5>`. Its fingerprint joins the output's identity."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from astro.checkpoint.card import Preprocessing
from astro.data.catalogue import Catalogue, open_catalogue
from astro.data.unlabeled import sample_rows
from astro.errors import DataError


@dataclass(frozen=True)
class AdaptationSet:
    """A bounded, seeded sample of rows of a catalogue, and what it is (for identities and reports)."""

    catalogue: Catalogue
    rows: np.ndarray
    source: str
    seed: int

    def fingerprint(self) -> str:
        sample = f"{len(self.rows)} of {len(self.catalogue)}"
        return f"{self.source}|{self.catalogue.fingerprint()}|{sample}|seed {self.seed}"

    def batches(self, batch_size: int, normalize, device: torch.device) -> Iterator[torch.Tensor]:
        """The sampled rows as normalised model inputs; unreadable images are left out."""
        for start in range(0, len(self.rows), batch_size):
            pixels = [
                self.catalogue.read(int(row), int(row) + 1).pixels
                for row in self.rows[start : start + batch_size]
            ]
            x = torch.cat(pixels)
            if len(x):
                yield normalize(x.to(device))


def adaptation_set(
    adapt_on: str | None,
    catalogue: Catalogue | None,
    preprocessing: Preprocessing,
    limit: int,
    seed: int,
    workers: int | None = None,
    field: float = 1.0,
) -> AdaptationSet:
    """The sample to adapt to: of `adapt_on` when given (read like an input), else of `catalogue`."""
    source = open_catalogue(adapt_on, preprocessing, workers, field) if adapt_on else catalogue
    if source is None:
        raise DataError("adapt=bn: no images to adapt to (pass adapt_on=<folder | manifest.csv | .h5>)")
    if len(source) == 0:
        raise DataError(f"adapt_on={adapt_on}: no images to adapt to")
    return AdaptationSet(source, sample_rows(len(source), limit, seed), adapt_on or "input", seed)
