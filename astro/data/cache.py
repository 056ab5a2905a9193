"""Preprocessed cache: decode and resize a source once, then train from uint8 memory maps.

The key covers the source's identity (file, size, mtime), the resolution and the resize method, so a
changed setting builds a new cache and an unchanged one is reused. Building streams the source in chunks,
so peak memory is one chunk plus the output memory map, not the file.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from tqdm import tqdm

from astro.data.transforms import resize_batch

log = logging.getLogger(__name__)
CACHE_VERSION = 2  # 2: bilinear/bicubic resize in uint8 (within one level of version 1's float path)
# Resizing works in float32 (4x the uint8 chunk): a few images at a time keep that copy small.
RESIZE_BATCH = 32


class ImageSource(Protocol):
    """What a data source offers: labelled uint8 RGB images streamed in chunks."""

    @property
    def class_names(self) -> tuple[str, ...]: ...

    def __len__(self) -> int: ...

    def fingerprint(self) -> str: ...

    @property
    def location(self) -> str:
        """The file or folder the images come from (the MLflow dataset's source)."""
        ...

    def labels(self) -> np.ndarray:
        """Read after `iter_chunks` is exhausted: a source that skips unreadable images returns the labels
        of the images it yielded, fewer than `len(source)`."""
        ...

    def iter_chunks(self, chunk_size: int = 256): ...


@dataclass
class CachedImages:
    """uint8 images (N,3,S,S) as a read-only memory map, with labels and class names."""

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    directory: Path


def cache_key(source: ImageSource, image_size: int, resize: str) -> str:
    text = f"v{CACHE_VERSION}|{source.fingerprint()}|{image_size}|{resize}"
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def build_cache(
    source: ImageSource, image_size: int, resize: str, cache_root: str, chunk_size: int = 256
) -> CachedImages:
    """Return the cache for (source, size, method), building it atomically if it is missing.

    Jobs of a sweep start together and all find the cache missing: one builds it under a lock while
    the others wait, then read it. A folder with meta.json is finished and is never removed."""
    directory = Path(cache_root) / cache_key(source, image_size, resize)
    if not (directory / "meta.json").exists():
        with _build_lock(directory):
            if (directory / "meta.json").exists():
                log.info("Reusing preprocessed cache %s, built meanwhile by another process", directory)
            else:
                _write(source, image_size, resize, directory, chunk_size)
    else:
        log.info("Reusing preprocessed cache %s", directory)
    return _open(directory)


@contextmanager
def _build_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock beside the cache folder (flock: released by the kernel if the holder dies).

    The lock file is removed before the lock is released: a process still waiting on it then finds
    meta.json (or, after a failed build, builds it in turn), and later ones never need the lock."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    path = directory.with_name(f"{directory.name}.lock")
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("Waiting for another process that is building the cache %s", directory)
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            path.unlink(missing_ok=True)
    finally:
        os.close(fd)


def _write(source: ImageSource, size: int, resize: str, directory: Path, chunk_size: int) -> None:
    """Build into a temporary folder, then rename it into place (called under _build_lock)."""
    tmp = directory.with_name(f"{directory.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        n = _write_images(source, size, resize, tmp / "images.npy", chunk_size)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    np.save(tmp / "labels.npy", source.labels())
    meta = {
        "source": source.fingerprint(),
        "image_size": size,
        "resize": resize,
        "num_images": n,
        "class_names": list(source.class_names),
        "version": CACHE_VERSION,
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    shutil.rmtree(directory, ignore_errors=True)  # an incomplete leftover of a killed build
    os.replace(tmp, directory)
    log.info("Wrote preprocessed cache %s (%d images at %dpx)", directory, n, size)


def _write_images(source: ImageSource, size: int, resize: str, path: Path, chunk_size: int) -> int:
    """Stream the source into a (len(source),3,S,S) memory map; shrink it if the source skipped images."""
    n = len(source)
    images = np.lib.format.open_memmap(path, "w+", np.uint8, (n, 3, size, size))
    start = 0
    with tqdm(total=n, desc=f"caching {size}px", unit="img") as bar:
        for chunk in source.iter_chunks(chunk_size):
            for first in range(0, len(chunk), RESIZE_BATCH):
                part = np.ascontiguousarray(chunk[first : first + RESIZE_BATCH])
                block = resize_batch(torch.from_numpy(part), size, resize)
                images[start : start + len(block)] = block.numpy()
                start += len(block)
                bar.update(len(block))
    images.flush()
    del images
    if len(source.labels()) != start:
        raise RuntimeError(f"source yielded {start} images but has {len(source.labels())} labels")
    if start < n:
        _truncate(path, start, chunk_size)
    return start


def _truncate(path: Path, rows: int, chunk_size: int) -> None:
    """Keep the first `rows` images of an .npy memory map (copied in chunks, then renamed over it)."""
    full = np.load(path, mmap_mode="r")
    part = path.with_suffix(".part")
    kept = np.lib.format.open_memmap(part, "w+", np.uint8, (rows, *full.shape[1:]))
    for first in range(0, rows, chunk_size):
        kept[first : first + chunk_size] = full[first : min(first + chunk_size, rows)]
    kept.flush()
    del kept, full
    os.replace(part, path)


def _open(directory: Path) -> CachedImages:
    meta = json.loads((directory / "meta.json").read_text())
    return CachedImages(
        images=np.load(directory / "images.npy", mmap_mode="r"),
        labels=np.load(directory / "labels.npy"),
        class_names=tuple(meta["class_names"]),
        directory=directory,
    )
