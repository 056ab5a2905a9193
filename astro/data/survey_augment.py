"""Survey randomisation for sim-to-real transfer: what differs between synthetic and real cutouts, and
between survey fields, drawn anew per image at training time.

On top of the dihedral views: per-channel gain and sky offset and saturation (colour calibration and
composite stretch vary), added pixel noise (depth varies), Gaussian blur (seeing varies), and zoom out or
in and shift (galaxy distance and centring vary). Everything runs on whole uint8 batches, on CPU or GPU;
each part is off at 0, so every config option (conf/augment/*.yaml) switches on just its own part.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from astro.data.transforms import DihedralAugment, warp


class SurveyAugment:
    """Dihedral views, then the enabled randomisations. Strengths: `gain` and `saturation` are log-normal
    sigmas, `offset` and `noise` are in 0-255 levels, `blur` is the largest Gaussian sigma in pixels,
    `scale` the largest log zoom (zoom in or out up to exp(scale)), `shift` a fraction of the frame."""

    def __init__(
        self,
        gain: float = 0.0,
        offset: float = 0.0,
        saturation: float = 0.0,
        noise: float = 0.0,
        blur: float = 0.0,
        scale: float = 0.0,
        shift: float = 0.0,
        rotate: bool = True,
        flip: bool = True,
    ) -> None:
        self.dihedral = DihedralAugment(rotate=rotate, flip=flip)
        self.gain, self.offset, self.saturation = gain, offset, saturation
        self.noise, self.blur, self.scale, self.shift = noise, blur, scale, shift

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = self.dihedral(x, generator)
        if not (
            self.gain or self.offset or self.saturation or self.noise or self.blur or self.scale or self.shift
        ):
            return x
        n = x.shape[0]
        # Drawn on the CPU (the generator is saved with last.pt), copied without waiting for the GPU.
        rand = lambda *shape: torch.randn(*shape, generator=generator).to(x.device, non_blocking=True)  # noqa: E731
        uniform = lambda *shape: torch.rand(*shape, generator=generator).to(x.device, non_blocking=True)  # noqa: E731
        y = x.float()
        if self.scale or self.shift:
            y = _affine(
                y, torch.exp((uniform(n) * 2 - 1) * self.scale), (uniform(n, 2) * 2 - 1) * self.shift * 2
            )
        if self.blur:
            y = _blur(y, uniform(n) * self.blur, self.blur)
        if self.gain or self.offset or self.saturation:
            sky = y.flatten(2).median(dim=2).values[:, :, None, None]
            light = y - sky
            if self.saturation:
                grey = light.mean(1, keepdim=True)
                light = grey + (light - grey) * torch.exp(rand(n, 1, 1, 1) * self.saturation)
            gain = torch.exp(rand(n, 3, 1, 1) * self.gain + rand(n, 1, 1, 1) * self.gain)
            y = sky + self.offset * rand(n, 3, 1, 1) + light * gain
        if self.noise:
            y = y + rand(*y.shape) * (uniform(n, 1, 1, 1) * self.noise)
        out = y.round_().clamp_(0, 255).to(torch.uint8)
        return out.contiguous(memory_format=torch.channels_last)


def _affine(x: torch.Tensor, zoom: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Zoom (>1 shows the galaxy larger) and shift each image; the border's sky fills what comes in."""
    n = x.shape[0]
    inverse = 1.0 / zoom
    zeros = torch.zeros(n, device=x.device)
    theta = torch.stack(
        [torch.stack([inverse, zeros, shift[:, 0]], 1), torch.stack([zeros, inverse, shift[:, 1]], 1)], 1
    )
    return warp(x, theta, "border")


def _blur(x: torch.Tensor, sigma: torch.Tensor, largest: float) -> torch.Tensor:
    """A separable Gaussian blur with its own sigma per image (one grouped convolution per axis); the
    kernel spans 3 x the largest possible sigma, so its size is known without reading `sigma` back."""
    n, c, h, w = x.shape
    radius = max(1, math.ceil(3 * largest))
    taps = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-(taps[None] ** 2) / (2 * sigma[:, None].clamp(min=1e-3) ** 2))
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (n * c, taps)
    flat = F.pad(x.reshape(1, n * c, h, w), (radius, radius, radius, radius), mode="replicate")
    flat = F.conv2d(flat, kernel[:, None, None, :], groups=n * c)
    flat = F.conv2d(flat, kernel[:, None, :, None], groups=n * c)
    return flat.reshape(n, c, h, w)
