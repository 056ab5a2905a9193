"""The Galaxy10-schema HDF5 file, labels optional: training reads it labelled, batch prediction unlabelled.

`images` uint8 (N, H, W, 3) is what both need; `ans` (labels) is checked only when the reader asks for
labels, and ra/dec/redshift/pxscale are carried when present. Every problem with the file is one DataError
sentence naming it, and a truncated or corrupt chunk costs only the rows stored in it.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from astro.errors import DataError

METADATA_KEYS = ("ra", "dec", "redshift", "pxscale")


class Galaxy10File:
    """An open Galaxy10-schema file with its `images` checked; given `num_classes`, also its `ans` labels
    (0..num_classes-1, one per image) and that each metadata column has a row per image, as training needs."""

    def __init__(self, path: str | Path, num_classes: int | None = None) -> None:
        self.path = path
        self._file = _open(path)
        try:
            self.images = check_images(path, self._file)
            if num_classes is not None:
                _check_labelled(path, self._file, num_classes)
        except OSError as exc:
            self.close()
            raise DataError(_unreadable(path, exc)) from None
        except DataError:
            self.close()
            raise

    def __enter__(self) -> Galaxy10File:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    def labels(self) -> np.ndarray:
        return np.asarray(self._file["ans"][:], dtype=np.int64)

    def metadata(self) -> dict[str, list[float]]:
        """The metadata columns that have one value per image, as floats, in METADATA_KEYS order."""
        f, n = self._file, len(self)
        return {
            key: np.asarray(f[key][:], dtype=np.float64).tolist()
            for key in METADATA_KEYS
            if key in f and f[key].shape == (n,)
        }

    def read(self, rows: slice | np.ndarray) -> tuple[np.ndarray, list[str | None]]:
        """The rows (a slice, or increasing indices) in one read, or row by row if h5py cannot read them all,
        so only damaged rows are lost: the readable ones stacked in order, and per row None or why not."""
        try:
            chunk = self.images[rows]
        except OSError:
            return self._row_by_row(np.arange(len(self))[rows])
        return chunk, [None] * len(chunk)

    def _row_by_row(self, rows: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
        kept, errors = [], []
        for index in rows:
            try:
                kept.append(self.images[int(index)])
                errors.append(None)
            except OSError as exc:
                errors.append(" ".join(str(exc).split()))
        return (np.stack(kept) if kept else np.empty((0, *self.image_shape), np.uint8)), errors


def _open(path: str | Path) -> h5py.File:
    if not Path(path).exists():
        raise DataError(f"{path}: file not found")
    if not h5py.is_hdf5(path):
        raise DataError(f"{path}: not an HDF5 file (expected Galaxy10_DECals.h5 format)")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise DataError(_unreadable(path, exc)) from None


def _unreadable(path: str | Path, exc: OSError) -> str:
    return f"{path}: cannot be read as HDF5 (truncated or corrupt: {' '.join(str(exc).split())})"


def check_images(path: str | Path, f: h5py.File) -> h5py.Dataset:
    """The file's `images` dataset if it holds uint8 (N>0, H, W, 3) cutouts."""
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


def _check_labelled(path: str | Path, f: h5py.File, num_classes: int) -> None:
    """`ans` holds one integer label in 0..num_classes-1 per image; metadata columns have a row per image."""
    if "ans" not in f:
        raise DataError(f"{path}: missing dataset 'ans' (found: {sorted(f.keys())})")
    ans, n = f["ans"], f["images"].shape[0]
    if ans.shape != (n,):
        raise DataError(f"{path}: 'ans' has shape {ans.shape}, expected ({n},) to match 'images'")
    for key in METADATA_KEYS:
        if key in f and f[key].shape[0] != n:
            raise DataError(f"{path}: '{key}' has {f[key].shape[0]} rows, 'images' has {n}")
    labels = np.asarray(ans[:])
    bad = (labels < 0) | (labels >= num_classes) | (labels != np.round(labels))
    if bad.any():
        raise DataError(
            f"{path}: 'ans' has {int(bad.sum())} labels outside 0-{num_classes - 1} "
            f"(first: {labels[bad][0]} at index {int(np.flatnonzero(bad)[0])})"
        )
