"""SmallResNet: a from-scratch residual network sized for 64-128 px galaxy cutouts on a CPU.

Compared with AstroCNN it is wider early (a 32-channel stride-2 stem, then a 48-channel residual stage at
half resolution, where AstroCNN has 32 channels and has already max-pooled) and uses residual blocks
throughout (stages 48-96-192-256). 1,769,610 parameters at the default widths (AstroCNN: 423,562;
torchvision ResNet-18: 11.2M).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and an identity (or 1x1 projection) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.shortcut = (
            nn.Identity()
            if stride == 1 and in_channels == out_channels
            else nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)
            )
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


class SmallResNet(nn.Module):
    size_multiple = 16

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        stem: int = 32,
        widths: Sequence[int] = (48, 96, 192, 256),
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, stem, 3, 2, 1, bias=False), nn.BatchNorm2d(stem), nn.ReLU(inplace=True)
        )
        blocks, previous = [], stem
        for i, width in enumerate(widths):
            blocks.append(BasicBlock(previous, width, stride=1 if i == 0 else 2))
            previous = width
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(previous, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(self.stem(x)))
