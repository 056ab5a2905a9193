"""Batched tensor transforms: resize once (cache, demo), dihedral augmentation and TTA views, and
normalisation per batch.

Everything works on whole uint8 batches so that the same code runs on CPU and GPU without per-image
Python work.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

RESIZE_METHODS = ("area", "bilinear", "bicubic", "nearest")


def resize_batch(images: torch.Tensor, size: int, method: str = "bilinear") -> torch.Tensor:
    """uint8 (N,H,W,3) -> uint8 (N,3,size,size); anti-aliased so downsampling does not alias noise.

    Bilinear and bicubic resize the uint8 pixels directly on the CPU (torch's vectorised uint8 kernel,
    5x faster than going through float32, within one level of it): training's cache, evaluation, the
    demo and batch prediction all call this one function, so they agree exactly."""
    if method not in RESIZE_METHODS:
        raise ValueError(f"resize method '{method}' is not one of {RESIZE_METHODS}")
    if method in ("bilinear", "bicubic") and images.dtype == torch.uint8 and images.device.type == "cpu":
        x = images.permute(0, 3, 1, 2)  # a channels_last view: what the uint8 kernel reads fastest
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode=method, antialias=True)
        return x.contiguous()
    x = images.permute(0, 3, 1, 2).float()
    if x.shape[-2:] != (size, size):
        antialias = method in ("bilinear", "bicubic")
        x = F.interpolate(x, size=(size, size), mode=method, antialias=antialias)
    return x.round_().clamp_(0, 255).to(torch.uint8)


def dihedral(x: torch.Tensor, view: int) -> torch.Tensor:
    """One of the 8 symmetries of the square: view % 4 quarter turns, then a flip if view >= 4."""
    x = torch.rot90(x, view % 4, dims=(-2, -1))
    return torch.flip(x, dims=(-1,)) if view >= 4 else x


def dihedral_views(x: torch.Tensor) -> list[torch.Tensor]:
    """The 8 rotations/flips of a batch, for test-time augmentation."""
    return [dihedral(x, view) for view in range(8)]


def apply_views(x: torch.Tensor, views: torch.Tensor) -> torch.Tensor:
    """dihedral(x[i], views[i]) for every image of a square batch, chosen per image with torch.where:
    the views (drawn on the CPU) are copied without waiting, and nothing reads back from a GPU."""
    views = views.to(x.device, non_blocking=True).view(-1, *([1] * (x.dim() - 1)))
    turns = views % 4
    out = torch.where(turns == 1, torch.rot90(x, 1, dims=(-2, -1)), x)
    out = torch.where(turns == 2, torch.rot90(x, 2, dims=(-2, -1)), out)
    out = torch.where(turns == 3, torch.rot90(x, 3, dims=(-2, -1)), out)
    out = torch.where(views >= 4, torch.flip(out, dims=(-1,)), out)
    return out.contiguous(memory_format=_layout(x))


def _layout(x: torch.Tensor) -> torch.memory_format:
    channels_last = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
    return torch.channels_last if channels_last and not x.is_contiguous() else torch.contiguous_format


class DihedralAugment:
    """Random rotation by k*90 degrees and random flip per image: galaxies have no canonical orientation.

    Optionally also a small random rotation (up to `max_angle` degrees) and zoom-in crop (scale down to
    `min_scale`), batched with one affine grid, so the model sees orientations between the 8 exact ones.
    """

    def __init__(
        self, rotate: bool = True, flip: bool = True, max_angle: float = 0.0, min_scale: float = 1.0
    ) -> None:
        self.rotate, self.flip = rotate, flip
        self.max_angle, self.min_scale = max_angle, min_scale

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        n = x.shape[0]
        turns = torch.randint(0, 4 if self.rotate else 1, (n,), generator=generator)
        flips = torch.randint(0, 2 if self.flip else 1, (n,), generator=generator)
        out = apply_views(x, turns + 4 * flips)
        if self.max_angle > 0 or self.min_scale < 1:
            out = self._jitter(out, generator)
        return out

    def _jitter(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        n = x.shape[0]
        angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(self.max_angle)
        scale = self.min_scale + torch.rand(n, generator=generator) * (1 - self.min_scale)
        cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
        theta = torch.stack(
            [torch.stack([cos, -sin, torch.zeros(n)], 1), torch.stack([sin, cos, torch.zeros(n)], 1)], 1
        )
        warped = warp(x.float(), theta.to(x.device), "reflection")
        return warped.round_().clamp_(0, 255).to(torch.uint8).contiguous(memory_format=torch.channels_last)


def warp(x: torch.Tensor, theta: torch.Tensor, padding: str) -> torch.Tensor:
    """Float images through their own affine maps `theta` (n, 2, 3), bilinear, in one sampling grid."""
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)


class Normalize:
    """uint8 batch -> float, standardised with the training split's per-channel statistics.

    One fused multiply-add (x * 1/(255 std) - mean/std) keeps the input's memory layout and makes a
    single float temporary."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        mean_t = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        std_t = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        self.scale, self.shift = 1.0 / (255.0 * std_t), -mean_t / std_t

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale.device != x.device:  # move once, not a host-to-device copy per batch
            self.scale, self.shift = self.scale.to(x.device), self.shift.to(x.device)
        return torch.addcmul(self.shift, x.float(), self.scale)
