"""The two sides of the comparison as one shape: uint8 (N, 256, 256, 3) cutouts with Galaxy10 labels."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from PIL import Image, ImageOps

from astro.data.galaxy10 import IMAGE_SHAPE
from astro.errors import DataError

SIZE = IMAGE_SHAPE[0]


@dataclass
class Cutouts:
    """Cutouts of one domain (label -1 where unknown), and what they are called in the report."""

    name: str
    images: np.ndarray
    labels: np.ndarray


def read_real(folder: Path, include: str | None = None) -> Cutouts:
    """JPEG/PNG cutouts of a folder, labelled by its labels.csv (filename, label) where there is one;
    `include` keeps only file names matching that regular expression (a dev or holdout half)."""
    if not folder.is_dir():
        raise DataError(f"{folder}: real image folder not found")
    labelled = _manifest(folder / "labels.csv")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if include is not None:
        files = [p for p in files if re.fullmatch(include, p.name)]
    if not files:
        raise DataError(f"{folder}: no .jpg/.png images" + (f" match include='{include}'" if include else ""))
    images = np.stack([_decode(p) for p in files])
    labels = np.array([labelled.get(p.name, -1) for p in files], np.int64)
    return Cutouts(f"real ({folder.name})", images, labels)


def read_synthetic(path: Path, count: int, seed: int = 0) -> Cutouts:
    """A class-mixed random subset of `count` images of a Galaxy10-schema file."""
    if not path.is_file():
        raise DataError(f"{path}: synthetic file not found (train once, or run python -m astro prepare)")
    with h5py.File(path, "r") as f:
        total = len(f["ans"])
        index = np.sort(np.random.default_rng(seed).choice(total, min(count, total), replace=False))
        images, labels = f["images"][index], f["ans"][index].astype(np.int64)
    return Cutouts(f"synthetic ({path.name})", images, labels)


def _manifest(path: Path) -> dict[str, int]:
    if not path.is_file():
        return {}
    with open(path, newline="") as fh:
        return {row["filename"]: int(row["label"]) for row in csv.DictReader(fh)}


def _decode(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(ImageOps.fit(image.convert("RGB"), (SIZE, SIZE), Image.Resampling.BILINEAR))
