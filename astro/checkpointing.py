"""Checkpoints: atomic writes, self-describing contents, top-k retention and clear load errors.

A checkpoint carries the weights, the resolved config, the class names and the normalisation, so it can
be used (evaluate.py, the demo) without the config files.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from astro.errors import CheckpointError

FORMAT_VERSION = 1
REQUIRED_KEYS = ("model_state", "config", "class_names", "normalization", "image_size")


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write to a temp file in the same folder, fsync, then rename: readers see old or new, never half."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save({"format_version": FORMAT_VERSION, **payload}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load and check a checkpoint; every failure is one CheckpointError sentence naming the file."""
    file = Path(path)
    if not file.is_file():
        raise CheckpointError(f"{file}: checkpoint not found")
    try:
        payload = torch.load(file, map_location=map_location, weights_only=False)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, OSError) as exc:
        raise CheckpointError(f"{file}: not a readable checkpoint (truncated or corrupt: {exc})") from None
    if not isinstance(payload, dict) or any(key not in payload for key in REQUIRED_KEYS):
        missing = [k for k in REQUIRED_KEYS if not isinstance(payload, dict) or k not in payload]
        raise CheckpointError(f"{file}: not an astro checkpoint (missing {', '.join(missing)})")
    return payload


def load_weights(model: torch.nn.Module, payload: dict[str, Any], source: str | Path) -> None:
    """Load weights, turning an architecture or class-count mismatch into one clear sentence."""
    try:
        model.load_state_dict(payload["model_state"])
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if "\n" in str(exc) else str(exc)
        raise CheckpointError(
            f"{source}: weights do not fit model {type(model).__name__} "
            f"with {len(payload['class_names'])} classes ({first})"
        ) from None


@dataclass
class TopK:
    """Keep the k best checkpoints by a monitored metric (higher is better)."""

    directory: Path
    k: int = 3
    entries: list[tuple[float, int, str]] = field(default_factory=list)

    def update(self, score: float, epoch: int, payload: dict[str, Any]) -> bool:
        """Save if the score makes the top k; delete the one it displaces. Returns True if saved."""
        if len(self.entries) >= self.k and score <= self.entries[-1][0]:
            return False
        path = self.directory / f"epoch{epoch:03d}-score{score:.4f}.pt"
        save_checkpoint(path, payload)
        self.entries.append((score, epoch, str(path)))
        self.entries.sort(key=lambda e: (-e[0], e[1]))
        for _, _, dropped in self.entries[self.k :]:
            Path(dropped).unlink(missing_ok=True)
        self.entries = self.entries[: self.k]
        return True

    @property
    def best(self) -> Path | None:
        return Path(self.entries[0][2]) if self.entries else None
