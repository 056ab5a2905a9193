"""Labelled images on disk as an ImageSource: class-named subfolders, or a CSV manifest plus an image folder.

Everything downstream (cache, split, sampler, metrics) is the same as for Galaxy10: this module only turns
files into same-shape uint8 chunks. Images are decoded with PIL to RGB, centre-cropped to a square and
resized to `decode_size` in a thread pool (PIL releases the GIL while decoding); JPEGs are decoded at a
reduced DCT scale when that still covers `decode_size` (PIL's draft mode), which makes 423 px -> 64 px three
times faster. A label map merges or drops classes before anything is cached and is part of the fingerprint,
so changing it builds a new cache. Unreadable images are skipped with a warning, up to `max_bad_fraction`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from astro.data.folder_labels import apply_label_map, check_classes, manifest_labels, scan_folders
from astro.data.images import DECODE_ERRORS
from astro.data.split import stratified_split
from astro.errors import DataError

log = logging.getLogger(__name__)

RESAMPLE = {
    "area": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
}
SHOWN_NAMES = 5


class ImageFolderSource:
    """Images under `root`, labelled by class subfolder or by a CSV manifest (filename, label[, class_name]).

    Class names come from the subfolder names (sorted), else from `class_names` (index = CSV label), else
    from the CSV's class_name column (sorted labels, renumbered 0..K-1). `label_map` renames classes
    (two names mapped to one merge them) or drops them (mapped to null); the classes are then numbered in
    order of first appearance. `include` keeps only files whose relative path fully matches a regular
    expression (a dev or holdout half). `max_images` keeps a class-stratified subset of about that many.
    """

    def __init__(
        self,
        root: str,
        manifest: str | None = None,
        class_names: Sequence[str] | None = None,
        label_map: Mapping[str, str | None] | None = None,
        decode_size: int = 256,
        resample: str = "bilinear",
        max_images: int | None = None,
        include: str | None = None,
        max_bad_fraction: float = 0.01,
        workers: int | None = None,
        seed: int = 0,
    ) -> None:
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise DataError(f"{self.root}: image folder not found")
        if resample not in RESAMPLE:
            raise DataError(f"resample='{resample}' is not one of {tuple(RESAMPLE)}")
        if not 0 <= max_bad_fraction < 1:
            raise DataError(f"max_bad_fraction={max_bad_fraction} must be in [0, 1)")
        self.decode_size, self.resample, self.max_bad_fraction = int(decode_size), resample, max_bad_fraction
        self.workers = workers or min(os.cpu_count() or 1, 8)
        mapping = {str(k): v for k, v in (label_map or {}).items()}
        if manifest is None and class_names is not None:
            raise DataError(f"{self.root}: class_names needs a manifest; subfolders name their own classes")
        if manifest is None:
            files, labels, raw_names = scan_folders(self.root)
        else:
            files, labels, raw_names = manifest_labels(
                Path(manifest).expanduser().resolve(), self.root, class_names
            )
        labels, self._class_names = apply_label_map(labels, raw_names, mapping, self.root)
        files, labels = _select(files, labels, np.flatnonzero(labels >= 0))
        if include is not None:
            files, labels = _select(files, labels, _matching(files, include, self.root))
        if max_images is not None and max_images < len(labels):
            share = max_images / len(labels)
            files, labels = _select(
                files, labels, stratified_split(labels, (share, 1 - share, 0), seed)["train"]
            )
        self._listed = len(files)
        stats = [_stat(f) for f in files]
        self._bad = [f for f, s in zip(files, stats, strict=True) if s is None]
        self._files, self._labels = _select(files, labels, [i for i, s in enumerate(stats) if s is not None])
        self._check_bad()
        check_classes(self._labels, self._class_names, self.root, pinned=class_names is not None)
        self._fingerprint = self._digest([s for s in stats if s is not None], mapping)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self._class_names

    def __len__(self) -> int:
        """Images listed and present; `iter_chunks` may skip unreadable ones, see `labels`."""
        return len(self._files)

    @property
    def location(self) -> str:
        return str(self.root)

    def fingerprint(self) -> str:
        """Identity for the cache key: root, every file's name, label, size and mtime, the label map and
        the decoding settings."""
        return self._fingerprint

    def labels(self) -> np.ndarray:
        """Labels of the images listed, or after `iter_chunks` has run, of the images it yielded."""
        return self._labels.astype(np.int64)

    def iter_chunks(self, chunk_size: int = 256) -> Iterator[np.ndarray]:
        """Yield uint8 (n, decode_size, decode_size, 3) chunks in file order, skipping unreadable images."""
        kept: list[int] = []
        with ThreadPoolExecutor(self.workers) as pool:
            for start in range(0, len(self._files), chunk_size):
                names = self._files[start : start + chunk_size]
                images = list(pool.map(self._decode, names))
                good = [i for i, image in enumerate(images) if image is not None]
                self._bad += [name for name, image in zip(names, images, strict=True) if image is None]
                self._check_bad()
                kept += [start + i for i in good]
                if good:
                    yield np.stack([images[i] for i in good])
        if self._bad:
            more = f" and {len(self._bad) - SHOWN_NAMES} more" if len(self._bad) > SHOWN_NAMES else ""
            log.warning(
                "%s: skipped %d of %d images that are missing or unreadable: %s%s",
                self.root,
                len(self._bad),
                self._listed,
                self._bad_names(),
                more,
            )
        self._files, self._labels = _select(self._files, self._labels, kept)

    def _decode(self, path: Path) -> np.ndarray | None:
        """Not astro.data.images.load_image: the cache's pixels and keys predate it, and that reader drafts
        JPEGs at another scale, turns phone photos upright, puts transparency over black and rejects tiny
        images, so sharing it would silently change every cached dataset."""
        size = self.decode_size
        try:
            with Image.open(path) as image:
                image.draft("RGB", (size, size))
                rgb = image.convert("RGB")
            return np.asarray(ImageOps.fit(rgb, (size, size), RESAMPLE[self.resample]))
        except DECODE_ERRORS:
            return None

    def _check_bad(self) -> None:
        if len(self._bad) > self.max_bad_fraction * self._listed:
            raise DataError(
                f"{self.root}: {len(self._bad)} of {self._listed} images are missing or unreadable, "
                f"more than max_bad_fraction={self.max_bad_fraction} allows (first: {self._bad_names()})"
            )

    def _bad_names(self) -> str:
        return ", ".join(os.path.relpath(path, self.root) for path in self._bad[:SHOWN_NAMES])

    def _digest(self, stats: list[tuple[int, int]], mapping: dict[str, str | None]) -> str:
        digest = hashlib.sha1()
        for path, label, (size, mtime) in zip(self._files, self._labels, stats, strict=True):
            digest.update(f"{os.path.relpath(path, self.root)}|{label}|{size}|{mtime}\n".encode())
        settings = f"{sorted(mapping.items())}|{self._class_names}|{self.decode_size}|{self.resample}"
        digest.update(settings.encode())
        return f"{self.root}:{len(self._files)}:{digest.hexdigest()}"


def _select(files: list[Path], labels: np.ndarray, index: Sequence[int]) -> tuple[list[Path], np.ndarray]:
    return [files[i] for i in index], labels[np.asarray(index, dtype=np.int64)]


def _matching(files: list[Path], include: str, root: Path) -> list[int]:
    """Indices of the files whose path relative to root matches the regular expression `include`."""
    try:
        pattern = re.compile(include)
    except re.error as exc:
        raise DataError(f"include='{include}' is not a valid regular expression ({exc})") from None
    index = [i for i, f in enumerate(files) if pattern.fullmatch(os.path.relpath(f, root))]
    if not index:
        raise DataError(f"{root}: no listed image matches include='{include}'")
    return index


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns
