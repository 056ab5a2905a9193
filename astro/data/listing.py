"""Which image files a catalogue holds: a folder listed recursively, or a CSV manifest's `filename` column.

Training (astro.data.folder, labelled) and batch prediction (astro.data.catalogue, unlabelled) both
list through here, so a folder or a manifest means the same images to both.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from torchvision.datasets.folder import IMG_EXTENSIONS

from astro.errors import DataError


def image_files(folder: Path) -> list[Path]:
    """Every file under `folder` whose name ends in one of torchvision's IMG_EXTENSIONS, at any depth and
    through linked folders, sorted folder by folder and by name within one: torchvision's ImageFolder
    order, which the training caches of class subfolders were keyed and split by."""
    found: list[Path] = []
    for parent, _, names in sorted(os.walk(folder, followlinks=True)):
        found += [Path(parent, name) for name in sorted(names) if name.lower().endswith(IMG_EXTENSIONS)]
    return found


@dataclass(frozen=True)
class Manifest:
    """A CSV manifest's rows: `filenames` as written (each reader joins them to its own folder) and every
    other column by name, one string per row."""

    path: Path
    filenames: list[str]
    columns: dict[str, list[str]]


def read_manifest(path: Path, required: Sequence[str] = ()) -> Manifest:
    """The manifest at `path`, with a `filename` column and the `required` ones (e.g. a training label);
    a missing file or column, or no rows, is one DataError sentence naming the file."""
    if not path.is_file():
        raise DataError(f"{path}: manifest CSV not found")
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        found = list(reader.fieldnames or [])
        for column in ("filename", *required):
            if column not in found:
                raise DataError(f"{path}: missing column '{column}' (found: {', '.join(found) or 'none'})")
        rows = list(reader)
    if not rows:
        raise DataError(f"{path}: no rows")
    columns = {column: [row[column] for row in rows] for column in found if column != "filename"}
    return Manifest(path, [row["filename"] for row in rows], columns)
