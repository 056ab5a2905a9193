"""Where an image folder's labels come from: class-named subfolders or a CSV manifest, then the label map
(rename, merge, drop), checked so that every mistake is one DataError sentence naming the file."""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

from astro.errors import DataError

log = logging.getLogger(__name__)


def scan_folders(root: Path) -> tuple[list[Path], np.ndarray, tuple[str, ...]]:
    """Class-named subfolders, sorted by name; images are the files with an image extension."""
    try:
        classes, class_to_idx = find_classes(root)
    except FileNotFoundError:
        raise DataError(f"{root}: no class subfolders (and no manifest CSV given)") from None
    samples = make_dataset(root, class_to_idx, IMG_EXTENSIONS, allow_empty=True)
    files = [Path(path) for path, _ in samples]
    return files, np.array([label for _, label in samples], dtype=np.int64), tuple(classes)


def read_manifest(
    manifest: Path, root: Path, class_names: Sequence[str] | None
) -> tuple[list[Path], np.ndarray, tuple[str, ...]]:
    """Rows of (filename relative to root, integer label[, class_name]) and the class names they use."""
    if not manifest.is_file():
        raise DataError(f"{manifest}: manifest CSV not found")
    with open(manifest, newline="") as fh:
        reader = csv.DictReader(fh)
        columns = reader.fieldnames or []
        for column in ("filename", "label"):
            if column not in columns:
                raise DataError(f"{manifest}: missing column '{column}' (found: {', '.join(columns)})")
        rows = list(reader)
    if not rows:
        raise DataError(f"{manifest}: no rows")
    labels = np.empty(len(rows), dtype=np.int64)
    named: dict[int, str] = {}
    for line, row in enumerate(rows, start=2):
        try:
            labels[line - 2] = int(row["label"])
        except (TypeError, ValueError):
            raise DataError(f"{manifest}: line {line} has label '{row['label']}', not an integer") from None
        name = row.get("class_name")
        if name and named.setdefault(labels[line - 2], name) != name:
            raise DataError(
                f"{manifest}: label {labels[line - 2]} is named both "
                f"'{named[labels[line - 2]]}' and '{name}' (line {line})"
            )
    files = [root / row["filename"] for row in rows]
    if class_names is not None:
        return files, labels, check_named(manifest, labels, named, tuple(class_names))
    values = np.unique(labels)
    return files, np.searchsorted(values, labels), tuple(named.get(v, str(v)) for v in values)


def check_named(
    manifest: Path, labels: np.ndarray, named: dict[int, str], class_names: tuple[str, ...]
) -> tuple[str, ...]:
    outside = (labels < 0) | (labels >= len(class_names))
    if outside.any():
        raise DataError(
            f"{manifest}: label {labels[outside][0]} is outside 0-{len(class_names) - 1} "
            f"({len(class_names)} class_names configured)"
        )
    for label, name in named.items():
        if class_names[label] != name:
            raise DataError(
                f"{manifest}: label {label} is '{name}' in the CSV but '{class_names[label]}' in class_names"
            )
    return class_names


def apply_label_map(
    labels: np.ndarray, names: tuple[str, ...], mapping: dict[str, str | None], root: Path
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Rename, merge (two names to one) or drop (to None) classes; dropped images get label -1."""
    unknown = sorted(set(mapping) - set(names))
    if unknown:
        raise DataError(f"{root}: label_map names unknown classes {unknown} (classes: {', '.join(names)})")
    targets = [mapping.get(name, name) for name in names]
    final = tuple(dict.fromkeys(t for t in targets if t is not None))
    lookup = np.array([final.index(t) if t is not None else -1 for t in targets], dtype=np.int64)
    return (lookup[labels] if len(labels) else labels), final


def check_classes(labels: np.ndarray, names: tuple[str, ...], root: Path, pinned: bool) -> None:
    """An empty class is an error, unless class_names pins the numbering (a subset of a known label
    set, e.g. Galaxy10's, to evaluate a model on): then it is a warning."""
    if len(labels) == 0:
        raise DataError(f"{root}: no images found (after label_map and max_images)")
    counts = np.bincount(labels, minlength=len(names))
    empty = [name for name, count in zip(names, counts, strict=True) if count == 0]
    if empty and not pinned:
        raise DataError(f"{root}: classes {empty} have no images (drop them with label_map: {{name: null}})")
    if empty:
        log.warning("%s: classes %s have no images", root, empty)
