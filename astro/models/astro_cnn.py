"""AstroCNN: the seed project's 0.42M-parameter CNN (423,562 parameters for 3 channels, 10 classes)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn


class ConvBlock(nn.Sequential):
    """Conv3x3 - BatchNorm - ReLU - MaxPool2 - Dropout."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Dropout(dropout),
        )


class AstroCNN(nn.Module):
    """Four ConvBlocks, global average pooling, and a two-layer head."""

    size_multiple = 16  # four 2x poolings

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        widths: Sequence[int] = (32, 64, 128, 256),
        hidden: int = 128,
        dropout: float = 0.25,
        head_dropout: float = 0.5,
    ) -> None:
        super().__init__()
        channels = [in_channels, *widths]
        self.features = nn.Sequential(
            *(ConvBlock(c_in, c_out, dropout) for c_in, c_out in itertools.pairwise(channels))
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels[-1], hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(head_dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)))
