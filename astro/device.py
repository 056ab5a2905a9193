"""Where and how fast a run computes: the device, and the speed switches that suit it."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from astro.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """auto -> cuda when torch sees a GPU, else cpu; a cuda request without a usable GPU is one line."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device={name}: torch finds no CUDA GPU on this machine (use device=auto or cpu)"
            )
        if (device.index or 0) >= torch.cuda.device_count():
            raise ConfigError(f"device={name}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
        torch.backends.cudnn.benchmark = True  # fixed input shapes: let cuDNN pick the fastest kernels
    return device


def keep_data_on(device: torch.device, setting: str | bool) -> bool:
    """data_on_device: auto keeps the uint8 splits resident on a GPU, never on the CPU (no gain there)."""
    return setting is True or (setting == "auto" and device.type == "cuda")


@dataclass
class Performance:
    """Speed switches. Defaults suit both CPU and GPU: channels_last helps the convolutions on both;
    bf16 autocast is used on CUDA only (most CPUs lack fast bf16); compile is opt-in."""

    channels_last: bool = True
    amp: bool = False
    compile: bool = False

    @classmethod
    def resolve(cls, channels_last: bool, amp: str | bool, compile: bool, device: torch.device):
        use_amp = device.type == "cuda" if amp == "auto" else bool(amp)
        return cls(channels_last, use_amp, compile)

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format
