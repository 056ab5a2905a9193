"""Checkpoints: one typed file format, written atomically, read and checked in one place.

A checkpoint is a `ModelCard` (how to use the model), the weights and, for last.pt, the `ResumeState`.
`save_checkpoint` is the only writer and `load_checkpoint` the only reader: every failure to read is one
CheckpointError sentence naming the file. Files of format 1 (astro 0.1's flat dict) still load.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from astro.checkpoint.card import FORMAT_VERSION, V1_KEYS, ModelCard, from_v1
from astro.checkpoint.state import ResumeState
from astro.errors import CheckpointError


@dataclass
class Checkpoint:
    card: ModelCard
    weights: dict[str, torch.Tensor]
    resume: ResumeState | None = None
    source: str = ""

    def load_into(self, model: nn.Module) -> nn.Module:
        """Load the weights, turning an architecture or class-count mismatch into one sentence."""
        try:
            model.load_state_dict(self.weights)
        except RuntimeError as exc:
            first = str(exc).splitlines()[1].strip() if "\n" in str(exc) else str(exc)
            raise CheckpointError(
                f"{self.source}: weights do not fit model {type(model).__name__} "
                f"with {self.card.num_classes} classes ({first})"
            ) from None
        return model

    def model(self) -> nn.Module:
        """The trained model, rebuilt from the card, in eval mode."""
        return self.load_into(self.card.build_model()).eval()


def save_checkpoint(path: str | Path, checkpoint: Checkpoint) -> Path:
    """Write to a temp file in the same folder, fsync, then rename: readers see old or new, never half."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format_version": FORMAT_VERSION,
        "card": checkpoint.card.to_dict(),
        "weights": checkpoint.weights,
        "resume": checkpoint.resume.to_dict() if checkpoint.resume else None,
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read and check a checkpoint of this format or of format 1."""
    file = Path(path)
    if not file.is_file():
        raise CheckpointError(f"{file}: checkpoint not found")
    try:
        payload = torch.load(file, map_location=map_location, weights_only=False)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, OSError) as exc:
        raise CheckpointError(f"{file}: not a readable checkpoint (truncated or corrupt: {exc})") from None
    if not isinstance(payload, dict):
        raise CheckpointError(f"{file}: not an astro checkpoint (a {type(payload).__name__}, not a dict)")
    version = payload.get("format_version")
    if version == 1:
        return _from_v1(payload, file)
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{file}: checkpoint format {version!r} is not one this astro reads (1 or {FORMAT_VERSION}); "
            "it was written by another program or a newer astro"
        )
    missing = [key for key in ("card", "weights") if key not in payload]
    if missing:
        raise CheckpointError(f"{file}: not an astro checkpoint (missing {', '.join(missing)})")
    try:
        card = ModelCard.from_dict(payload["card"])
        resume = ResumeState.from_dict(payload["resume"]) if payload.get("resume") else None
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"{file}: incomplete model card or resume state (missing {exc})") from None
    return Checkpoint(card, payload["weights"], resume, str(file))


def _from_v1(payload: dict[str, Any], file: Path) -> Checkpoint:
    missing = [key for key in V1_KEYS if key not in payload]
    if missing:
        raise CheckpointError(f"{file}: not an astro checkpoint (missing {', '.join(missing)})")
    resume = ResumeState.from_dict(payload) if "optimizer_state" in payload else None
    return Checkpoint(from_v1(payload), payload["model_state"], resume, str(file))
