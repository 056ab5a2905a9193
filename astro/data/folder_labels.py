"""Where an image folder's labels come from: class-named subfolders or a CSV manifest, then the label map
(rename, merge, drop), checked so that every mistake is one DataError sentence naming the file."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from torchvision.datasets.folder import find_classes

from astro.data.listing import image_files, read_manifest
from astro.errors import DataError

log = logging.getLogger(__name__)


def scan_folders(root: Path) -> tuple[list[Path], np.ndarray, tuple[str, ...]]:
    """Class-named subfolders, sorted by name; images are the files with an image extension."""
    try:
        classes, _ = find_classes(root)
    except FileNotFoundError:
        raise DataError(f"{root}: no class subfolders (and no manifest CSV given)") from None
    listed = [image_files(root / name) for name in classes]
    labels = np.concatenate(
        [np.full(len(files), label, dtype=np.int64) for label, files in enumerate(listed)]
    )
    return [file for files in listed for file in files], labels, tuple(classes)


def manifest_labels(
    manifest: Path, root: Path, class_names: Sequence[str] | None
) -> tuple[list[Path], np.ndarray, tuple[str, ...]]:
    """Rows of (filename relative to root, integer label[, class_name]) and the class names they use."""
    listed = read_manifest(manifest, required=("label",))
    raw = listed.columns["label"]
    labels = np.empty(len(raw), dtype=np.int64)
    named: dict[int, str] = {}
    class_names_column = listed.columns.get("class_name", [None] * len(raw))
    for line, (value, name) in enumerate(zip(raw, class_names_column, strict=True), start=2):
        try:
            labels[line - 2] = int(value)
        except (TypeError, ValueError):
            raise DataError(f"{manifest}: line {line} has label '{value}', not an integer") from None
        if name and named.setdefault(labels[line - 2], name) != name:
            raise DataError(
                f"{manifest}: label {labels[line - 2]} is named both "
                f"'{named[labels[line - 2]]}' and '{name}' (line {line})"
            )
    files = [root / name for name in listed.filenames]
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
