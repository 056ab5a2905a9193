"""One data abstraction for every source: cache, split, normalisation and batch iteration."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import torch
from torch.utils.data import BatchSampler, Sampler, SequentialSampler

from astro.data.cache import CachedImages, ImageSource, build_cache
from astro.data.split import SPLITS, stratified_split
from astro.data.transforms import DihedralAugment, Normalize
from astro.data.unlabeled import TargetBatches, UnlabeledImages, load_unlabeled

log = logging.getLogger(__name__)


@dataclass
class SplitConfig:
    train: float = 0.70
    val: float = 0.15
    test: float = 0.15
    seed: int = 42


class Batches:
    """Iterable of (x, y) batches gathered from an in-memory uint8 tensor and transformed as a batch."""

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_sampler: BatchSampler,
        transform: Callable[[torch.Tensor], torch.Tensor],
        device: torch.device,
    ) -> None:
        self.images, self.labels = images, labels
        self.batch_sampler, self.transform, self.device = batch_sampler, transform, device

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def plan(self) -> list[list[int]]:
        """This epoch's batches of indices, drawn now: saved in last.pt so a resumed epoch continues
        with the same order."""
        return [list(indices) for indices in self.batch_sampler]

    def iterate(self, plan: list[list[int]]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        # The whole plan goes to where the images are in one copy: indexing a GPU tensor with a CPU index
        # would copy the index and wait for the GPU at every step.
        flat = torch.as_tensor([i for indices in plan for i in indices], dtype=torch.long)
        flat = flat.to(self.images.device)
        start = 0
        for indices in plan:
            idx = flat[start : start + len(indices)]
            start += len(indices)
            x = self.images[idx].to(self.device, non_blocking=True)
            y = self.labels[idx].to(self.device, non_blocking=True)
            yield self.transform(x), y

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.iterate(self.plan())


class GalaxyDataModule:
    """Prepares a source at one resolution and serves the stratified splits as batches."""

    def __init__(
        self,
        source: ImageSource,
        image_size: int,
        cache_dir: str,
        split: SplitConfig | dict | None = None,
        resize: str = "bilinear",
        name: str = "data",
        unlabeled: str | None = None,
        unlabeled_field: float = 1.0,
        unlabeled_max_images: int = 4096,
    ) -> None:
        self.source, self.image_size, self.name = source, image_size, name
        self.unlabeled_source = unlabeled
        self.unlabeled_sample = (unlabeled_field, unlabeled_max_images)
        self.resize, self.cache_dir = resize, cache_dir
        self.split_cfg = SplitConfig(**split) if isinstance(split, dict) else split or SplitConfig()
        self._tensors: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    @cached_property
    def cache(self) -> CachedImages:
        """Built on first use, so config checks against the source's classes run before this work."""
        return build_cache(self.source, self.image_size, self.resize, self.cache_dir)

    @cached_property
    def unlabeled(self) -> UnlabeledImages | None:
        """The target survey's unlabelled cutouts (data.unlabeled), sampled with the split's seed."""
        if self.unlabeled_source is None:
            return None
        field, limit = self.unlabeled_sample
        return load_unlabeled(
            self.unlabeled_source, self.image_size, self.resize, field, limit, self.split_cfg.seed
        )

    @cached_property
    def splits(self) -> dict[str, np.ndarray]:
        fractions = (self.split_cfg.train, self.split_cfg.val, self.split_cfg.test)
        return stratified_split(self.cache.labels, fractions, self.split_cfg.seed)

    @cached_property
    def _stats(self) -> tuple[list[float], list[float]]:
        return self._channel_stats(self.splits["train"])

    @property
    def mean(self) -> list[float]:
        return self._stats[0]

    @property
    def std(self) -> list[float]:
        return self._stats[1]

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.source.class_names)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def labels(self, split: str) -> np.ndarray:
        return self.cache.labels[self.splits[split]] if split != "all" else self.cache.labels

    def class_counts(self, split: str = "train") -> np.ndarray:
        return np.bincount(self.labels(split), minlength=self.num_classes)

    def class_table(self) -> list[dict[str, int | str]]:
        """Per-class image counts for each split (the data set table logged with every run)."""
        counts = {s: self.class_counts(s) for s in SPLITS}
        return [
            {"class": name, **{s: int(counts[s][i]) for s in SPLITS}}
            for i, name in enumerate(self.class_names)
        ]

    def tensors(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The split's images as one uint8 tensor in memory (gathered from the cache once)."""
        if split not in self._tensors:
            index = self.splits[split] if split != "all" else np.arange(len(self.cache.labels))
            images = torch.from_numpy(np.ascontiguousarray(self.cache.images[index]))
            # Batches inherit this layout: channels_last is what the convolutions want on CPU and GPU.
            images = images.contiguous(memory_format=torch.channels_last)
            labels = torch.from_numpy(self.cache.labels[index].astype(np.int64))
            self._tensors[split] = (images, labels)
        return self._tensors[split]

    def keep_on(self, device: torch.device) -> None:
        """Hold every split's uint8 tensors on `device`, so a GPU never waits for host copies
        (12.4k training images at 3x128x128 are 0.6 GB)."""
        for split in SPLITS:
            images, labels = self.tensors(split)
            self._tensors[split] = (images.to(device), labels.to(device))
        if self.unlabeled is not None:
            self.unlabeled = replace(self.unlabeled, images=self.unlabeled.images.to(device))

    def normalize(self) -> Normalize:
        return Normalize(self.mean, self.std)

    def train_batches(
        self,
        sampler: Sampler,
        batch_size: int,
        device: torch.device,
        augment: DihedralAugment | None,
        generator: torch.Generator | None = None,
    ) -> Batches:
        images, labels = self.tensors("train")
        drop_last = len(labels) > batch_size
        transform = self._train_transform(augment, generator)
        return Batches(images, labels, BatchSampler(sampler, batch_size, drop_last), transform, device)

    def target_batches(
        self,
        batch_size: int,
        device: torch.device,
        augment: DihedralAugment | None,
        generator: torch.Generator | None = None,
    ) -> TargetBatches | None:
        """Batches of the unlabelled target images for train-time adaptation; None without them."""
        if self.unlabeled is None:
            return None
        transform = self._train_transform(augment, generator)
        return TargetBatches(self.unlabeled.images, batch_size, transform, device, generator)

    def _train_transform(
        self, augment: DihedralAugment | None, generator: torch.Generator | None
    ) -> Callable[[torch.Tensor], torch.Tensor]:
        normalize = self.normalize()
        return lambda x: normalize(augment(x, generator) if augment else x)

    def eval_batches(self, split: str, batch_size: int, device: torch.device) -> Batches:
        images, labels = self.tensors(split)
        sampler = BatchSampler(SequentialSampler(range(len(labels))), batch_size, False)
        return Batches(images, labels, sampler, self.normalize(), device)

    def _channel_stats(self, index: np.ndarray, chunk: int = 256) -> tuple[list[float], list[float]]:
        """Exact integer sums over uint8 chunks: no float64 copy of the split, so memory stays small."""
        total = np.zeros(3, np.int64)
        squares = np.zeros(3, np.int64)
        for start in range(0, len(index), chunk):
            block = self.cache.images[index[start : start + chunk]]
            total += block.sum(axis=(0, 2, 3), dtype=np.int64)
            squares += np.square(block, dtype=np.uint32).sum(axis=(0, 2, 3), dtype=np.int64)
        pixels = len(index) * self.image_size**2
        mean = total / pixels / 255.0
        std = np.sqrt(np.maximum(squares / pixels / 255.0**2 - mean**2, 1e-12))
        return mean.round(6).tolist(), std.round(6).tolist()
