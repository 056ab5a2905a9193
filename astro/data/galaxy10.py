"""The Galaxy10 DECaLS HDF5 schema: validation and chunked reading.

The real file and the synthetic generator's output share this schema, so both go through this reader.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

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
METADATA_KEYS = ("ra", "dec", "redshift", "pxscale")


@dataclass
class Galaxy10H5:
    """A validated Galaxy10-schema HDF5 file (`images` uint8 (N,H,W,3), `ans` labels 0-9); with
    `max_images`, a class-stratified subset of about that many (read without touching the rest)."""

    path: str
    sha256: str | None = None
    max_images: int | None = None

    def __post_init__(self) -> None:
        self.path = str(Path(self.path).expanduser())
        total, self._image_shape = validate_h5(self.path)
        if self.sha256:
            verify_sha256(self.path, PUBLISHED_SHA256 if self.sha256 == "published" else self.sha256)
        self._index = np.arange(total)
        if self.max_images is not None and self.max_images < total:
            with h5py.File(self.path, "r") as f:
                labels = np.asarray(f["ans"][:], dtype=np.int64)
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
        with h5py.File(self.path, "r") as f:
            return np.asarray(f["ans"][:], dtype=np.int64)[self._index]

    def iter_chunks(self, chunk_size: int = 256) -> Iterator[np.ndarray]:
        """Yield uint8 (n,H,W,3) chunks in file order; peak memory stays at one chunk."""
        with h5py.File(self.path, "r") as f:
            images = f["images"]
            whole = self._num_images == len(images)
            for start in range(0, self._num_images, chunk_size):
                stop = min(start + chunk_size, self._num_images)
                try:
                    chunk = images[start:stop] if whole else images[self._index[start:stop]]
                except OSError as exc:
                    bad = _first_unreadable(images, int(self._index[start]), int(self._index[stop - 1]) + 1)
                    raise DataError(
                        f"{self.path}: cannot read image {bad} of {self._num_images} "
                        f"(file truncated or corrupt: {' '.join(str(exc).split())})"
                    ) from None
                yield chunk


def _first_unreadable(images: h5py.Dataset, start: int, stop: int) -> int:
    """Index of the first image in [start, stop) that h5py cannot read, to name it in the error."""
    for index in range(start, stop):
        try:
            images[index]
        except OSError:
            return index
    return start


def validate_h5(path: str) -> tuple[int, tuple[int, int, int]]:
    """Check the schema and return (N, image shape); every failure is one DataError sentence."""
    file = Path(path)
    if not file.exists():
        raise DataError(f"{path}: file not found")
    if not h5py.is_hdf5(path):
        raise DataError(f"{path}: not an HDF5 file (expected Galaxy10_DECals.h5 format)")
    try:
        with h5py.File(path, "r") as f:
            return _check_schema(path, f)
    except OSError as exc:
        reason = " ".join(str(exc).split())
        raise DataError(f"{path}: cannot be read as HDF5 (truncated or corrupt: {reason})") from None


def check_images(path: str | Path, f: h5py.File) -> h5py.Dataset:
    """The file's `images` dataset if it holds uint8 (N>0, H, W, 3) cutouts: the part of the schema that
    training and unlabelled prediction share."""
    if "images" not in f:
        found = ", ".join(sorted(f.keys())) or "nothing"
        raise DataError(f"{path}: no 'images' dataset, so no images to read (found: {found})")
    images = f["images"]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise DataError(f"{path}: 'images' has shape {images.shape}, expected (N, H, W, 3)")
    if images.dtype != np.uint8:
        raise DataError(f"{path}: 'images' has dtype {images.dtype}, expected uint8")
    if images.shape[0] == 0:
        raise DataError(f"{path}: 'images' is empty (0 images)")
    return images


def _check_schema(path: str, f: h5py.File) -> tuple[int, tuple[int, int, int]]:
    images = check_images(path, f)
    if "ans" not in f:
        raise DataError(f"{path}: missing dataset 'ans' (found: {sorted(f.keys())})")
    ans, n = f["ans"], images.shape[0]
    if ans.shape != (n,):
        raise DataError(f"{path}: 'ans' has shape {ans.shape}, expected ({n},) to match 'images'")
    for key in METADATA_KEYS:
        if key in f and f[key].shape[0] != n:
            raise DataError(f"{path}: '{key}' has {f[key].shape[0]} rows, 'images' has {n}")
    labels = np.asarray(ans[:])
    bad = (labels < 0) | (labels >= len(CLASS_NAMES)) | (labels != np.round(labels))
    if bad.any():
        raise DataError(
            f"{path}: 'ans' has {int(bad.sum())} labels outside 0-9 "
            f"(first: {labels[bad][0]} at index {int(np.flatnonzero(bad)[0])})"
        )
    return n, tuple(images.shape[1:])


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
