"""Galaxy10 DECaLS as a training source: its classes, the published checksum, and chunked labelled reading.

The real file and the synthetic generator's output share the schema, so both go through this source; the
file itself is read by astro.data.galaxy10_file, which batch prediction uses too, without labels.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from astro.data.galaxy10_file import Galaxy10File
from astro.data.split import stratified_split
from astro.errors import DataError

CLASS_NAMES: tuple[str, ...] = (
    "disturbed",
    "merging",
    "round_smooth",
    "in_between_round_smooth",
    "cigar_shaped_smooth",
    "barred_spiral",
    "unbarred_tight_spiral",
    "unbarred_loose_spiral",
    "edge_on_without_bulge",
    "edge_on_with_bulge",
)
# Class counts of the published Galaxy10_DECals.h5 (17,736 images, max/min = 7.9).
CLASS_COUNTS: tuple[int, ...] = (1081, 1853, 2645, 2027, 334, 2043, 1829, 2628, 1423, 1873)
IMAGE_SHAPE = (256, 256, 3)
# The checksum published with Galaxy10_DECals.h5 (henrysky/Galaxy10 README, astroNN's loader); `sha256:
# published` in the data config checks against it.
PUBLISHED_SHA256 = "19aefc477c41bb7f77ff07599a6b82a038dc042f889a111b0d4d98bb755c1571"


@dataclass
class Galaxy10H5:
    """A validated Galaxy10-schema HDF5 file (`images` uint8 (N,H,W,3), `ans` labels 0-9); with
    `max_images`, a class-stratified subset of about that many (read without touching the rest)."""

    path: str
    sha256: str | None = None
    max_images: int | None = None

    def __post_init__(self) -> None:
        self.path = str(Path(self.path).expanduser())
        with Galaxy10File(self.path, num_classes=len(CLASS_NAMES)) as f:
            total, self._image_shape = len(f), f.image_shape
            subset = self.max_images is not None and self.max_images < total
            labels = f.labels() if subset else None
        if self.sha256:
            verify_sha256(self.path, PUBLISHED_SHA256 if self.sha256 == "published" else self.sha256)
        self._index = np.arange(total)
        if labels is not None:
            share = self.max_images / total
            self._index = np.sort(stratified_split(labels, (share, 1 - share, 0), seed=0)["train"])
        self._num_images = len(self._index)

    @property
    def class_names(self) -> tuple[str, ...]:
        return CLASS_NAMES

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self._image_shape

    def __len__(self) -> int:
        return self._num_images

    @property
    def location(self) -> str:
        return self.path

    def fingerprint(self) -> str:
        """Identity of the file content for cache keys: path, size and modification time."""
        stat = Path(self.path).stat()
        subset = f":subset{self._num_images}" if self.max_images is not None else ""
        return f"{Path(self.path).resolve()}:{stat.st_size}:{stat.st_mtime_ns}{subset}"

    def labels(self) -> np.ndarray:
        with Galaxy10File(self.path) as f:
            return f.labels()[self._index]

    def iter_chunks(self, chunk_size: int = 256) -> Iterator[np.ndarray]:
        """Yield uint8 (n,H,W,3) chunks in file order; peak memory stays at one chunk."""
        with Galaxy10File(self.path) as f:
            whole = self._num_images == len(f)
            for start in range(0, self._num_images, chunk_size):
                stop = min(start + chunk_size, self._num_images)
                chunk, errors = f.read(slice(start, stop) if whole else self._index[start:stop])
                bad = next((i for i, error in enumerate(errors) if error is not None), None)
                if bad is not None:
                    row = int(self._index[start + bad])
                    raise DataError(
                        f"{self.path}: cannot read image {row} of {self._num_images} "
                        f"(file truncated or corrupt: {errors[bad]})"
                    )
                yield chunk


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in 16 MiB blocks (a 2.5 GB file never sits in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 24), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: str, expected: str) -> None:
    actual = file_sha256(path)
    if actual != expected.lower():
        raise DataError(f"{path}: sha256 {actual} does not match expected {expected}")
