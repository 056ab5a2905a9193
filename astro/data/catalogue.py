"""What batch prediction reads: an unlabelled catalogue of images, as numbered rows with an id.

Three layouts: an image folder (searched recursively; the id is the file name relative to it), a CSV
manifest (a `filename` column relative to the CSV's folder; its other columns are carried into the
output) and a Galaxy10-schema HDF5 file (the id is the row index, plus ra/dec/redshift/pxscale when the
file has them; labels are not needed). Every layout gives the same thing: the model input of rows
[start, stop), preprocessed exactly as in training (astro.data.images.model_input for files, resize_batch
for the HDF5 cutouts), with a reason for each row that cannot be read instead of an exception.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import h5py
import numpy as np
import torch
from torchvision.datasets.folder import IMG_EXTENSIONS

from astro.checkpoint.card import Preprocessing
from astro.data.galaxy10_file import Galaxy10File
from astro.data.images import DECODE_ERRORS, model_input, square_box
from astro.data.listing import image_files, read_manifest
from astro.data.transforms import resize_batch
from astro.errors import AstroError, DataError

H5_SUFFIXES = (".h5", ".hdf5")
SLICE = 32  # HDF5 rows read and resized together
READ_ERRORS = (AstroError, *DECODE_ERRORS)


@dataclass
class Batch:
    """Rows [start, stop): the model input of the readable ones, and per row None or why it is not."""

    start: int
    stop: int
    pixels: torch.Tensor  # uint8 (readable rows, 3, S, S)
    errors: list[str | None]


class Catalogue(Protocol):
    key: str  # the id column: "filename" or "index"
    columns: dict[str, list]  # the id and carried columns, one value per row

    def __len__(self) -> int: ...

    def fingerprint(self) -> str: ...

    def read(self, start: int, stop: int) -> Batch: ...


def open_catalogue(
    path: str, preprocessing: Preprocessing, workers: int | None = None, field: float = 1.0
) -> Catalogue:
    """The catalogue at `path`, chosen by what it is: a folder, a .csv manifest or an .h5 file; each
    image's centre `field` of its square is what is resized (1: all of it, as in training)."""
    source = Path(path).expanduser()
    if not source.exists():
        raise DataError(f"{source}: input not found (give an image folder, a CSV manifest or an HDF5 file)")
    if source.is_dir():
        return FileCatalogue.from_folder(source, preprocessing, workers, field)
    if source.suffix.lower() == ".csv":
        return FileCatalogue.from_manifest(source, preprocessing, workers, field)
    if source.suffix.lower() in H5_SUFFIXES or h5py.is_hdf5(source):
        return H5Catalogue(source, preprocessing, field)
    raise DataError(f"{source}: not an image folder, a .csv manifest or an HDF5 file")


class FileCatalogue:
    """Image files decoded in a thread pool (PIL releases the GIL while decoding)."""

    key = "filename"

    def __init__(
        self,
        root: Path,
        names: list[str],
        extra: dict[str, list],
        prep: Preprocessing,
        workers: int | None,
        field: float = 1.0,
    ) -> None:
        self.root, self.preprocessing, self.field = root, prep, field
        self.columns = {"filename": names, **extra}
        self._pool = ThreadPoolExecutor(workers or min(os.cpu_count() or 1, 8))

    @classmethod
    def from_folder(
        cls, root: Path, prep: Preprocessing, workers: int | None, field: float = 1.0
    ) -> FileCatalogue:
        names = [path.relative_to(root).as_posix() for path in image_files(root)]
        if not names:
            raise DataError(f"{root}: no images in this folder (looked for {', '.join(IMG_EXTENSIONS)})")
        return cls(root, names, {}, prep, workers, field)

    @classmethod
    def from_manifest(
        cls, manifest: Path, prep: Preprocessing, workers: int | None, field: float = 1.0
    ) -> FileCatalogue:
        listed = read_manifest(manifest)
        duplicated = len(listed.filenames) - len(set(listed.filenames))
        if duplicated:
            raise DataError(f"{manifest}: {duplicated} file names appear more than once (each row once)")
        return cls(manifest.parent, listed.filenames, listed.columns, prep, workers, field)

    def __len__(self) -> int:
        return len(self.columns["filename"])

    def fingerprint(self) -> str:
        """The listed names, not the folder's path: the same catalogue mounted elsewhere on a cluster
        node is the same input."""
        digest = hashlib.sha1("\n".join(self.columns["filename"]).encode()).hexdigest()
        return f"files:{len(self)}:{digest}"

    def read(self, start: int, stop: int) -> Batch:
        loaded = list(self._pool.map(self._load, self.columns["filename"][start:stop]))
        good = [x for x in loaded if isinstance(x, torch.Tensor)]
        pixels = torch.cat(good) if good else self._empty()
        return Batch(start, stop, pixels, [None if isinstance(x, torch.Tensor) else x for x in loaded])

    def _load(self, name: str) -> torch.Tensor | str:
        try:
            return model_input(self.root / name, self.preprocessing, self.field)
        except READ_ERRORS as exc:
            return str(exc) or type(exc).__name__

    def _empty(self) -> torch.Tensor:
        size = self.preprocessing.image_size
        return torch.empty((0, 3, size, size), dtype=torch.uint8)


class H5Catalogue:
    """A Galaxy10-schema file's `images`, read in slices; in a slice h5py cannot read, only the damaged
    rows are reported (astro.data.galaxy10_file reads around them)."""

    key = "index"

    def __init__(self, path: Path, prep: Preprocessing, field: float = 1.0) -> None:
        self.path, self.preprocessing, self.field = path, prep, field
        self._file = Galaxy10File(path)
        self.columns: dict[str, list] = {"index": list(range(len(self._file))), **self._file.metadata()}

    def __len__(self) -> int:
        return len(self._file)

    def fingerprint(self) -> str:
        return f"hdf5:{self._file.images.shape}:{self.path.stat().st_size}"

    def read(self, start: int, stop: int) -> Batch:
        """Read and resize SLICE rows at a time: a whole batch of 256 px cutouts (and its float copy for
        resizing) would be hundreds of MB at once, and such big short-lived buffers fragment the heap."""
        pieces, errors = [], []
        for first in range(start, stop, SLICE):
            chunk, slice_errors = self._rows(first, min(first + SLICE, stop))
            left, top, right, bottom = square_box((chunk.shape[2], chunk.shape[1]), self.field)
            chunk = np.ascontiguousarray(chunk[:, top:bottom, left:right])
            size, method = self.preprocessing.image_size, self.preprocessing.resize
            pieces.append(resize_batch(torch.from_numpy(chunk), size, method))
            errors += slice_errors
        return Batch(start, stop, torch.cat(pieces), errors)

    def _rows(self, start: int, stop: int) -> tuple[np.ndarray, list[str | None]]:
        chunk, reasons = self._file.read(slice(start, stop))
        errors = [
            None if reason is None else f"image {index} cannot be read (corrupt HDF5 chunk: {reason})"
            for index, reason in enumerate(reasons, start)
        ]
        return chunk, errors
