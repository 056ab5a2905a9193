"""A run's checkpoints: the top k by validation macro F1, last.pt for resuming, best.pt at the end."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from astro.checkpoint.card import ModelCard
from astro.checkpoint.io import Checkpoint, save_checkpoint
from astro.checkpoint.state import PartialEpoch, ResumeState
from astro.training.rng import capture_rng


@dataclass(frozen=True)
class Snapshot:
    """The training objects' state at a checkpoint, handed over by the trainer (which checkpoints never
    hold): the weights, and for last.pt the optimizer's and the scheduler's state."""

    weights: dict[str, torch.Tensor]
    optimizer_state: dict
    scheduler_state: dict
    alignment_state: dict | None = None  # train-time adaptation's own weights (a domain classifier)


@dataclass
class TopK:
    """Keep the k best checkpoints by a monitored metric (higher is better)."""

    directory: Path
    k: int = 3
    entries: list[tuple[float, int, str]] = field(default_factory=list)

    def update(self, score: float, epoch: int, checkpoint: Checkpoint) -> bool:
        """Save if the score makes the top k; delete the one it displaces. Returns True if saved."""
        if len(self.entries) >= self.k and score <= self.entries[-1][0]:
            return False
        path = self.directory / f"epoch{epoch:03d}-score{score:.4f}.pt"
        save_checkpoint(path, checkpoint)
        self.entries.append((score, epoch, str(path)))
        self.entries.sort(key=lambda e: (-e[0], e[1]))
        for _, _, dropped in self.entries[self.k :]:
            Path(dropped).unlink(missing_ok=True)
        self.entries = self.entries[: self.k]
        return True

    @property
    def best(self) -> Path | None:
        return Path(self.entries[0][2]) if self.entries else None


class RunCheckpoints:
    """Writes every checkpoint of one run from its card: top-k and last.pt at each epoch end, last.pt
    with the partial epoch on a stop, and best.pt (a copy of the best top-k file) when training ends."""

    def __init__(
        self, directory: Path, k: int, card: ModelCard, config_hash: str, generator: torch.Generator
    ) -> None:
        self.directory, self.card = directory, card
        self.config_hash, self.generator = config_hash, generator
        self.top_k = TopK(directory, k)

    @property
    def last(self) -> Path:
        return self.directory / "last.pt"

    @property
    def best(self) -> Path:
        return self.directory / "best.pt"

    def restore(self, state: ResumeState) -> None:
        self.top_k.entries = [tuple(entry) for entry in state.top_k]

    def end_epoch(self, snapshot: Snapshot, row: dict[str, float], history: list[dict[str, float]]) -> None:
        epoch = int(row["epoch"])
        self.top_k.update(row["val/macro_f1"], epoch, self._checkpoint(snapshot, epoch, row))
        self.save_last(snapshot, epoch, history)

    def save_last(
        self,
        snapshot: Snapshot,
        epoch: int,
        history: list[dict[str, float]],
        partial: PartialEpoch | None = None,
    ) -> None:
        """Everything a resume needs: optimizer, scheduler, RNG states, history, top-k, a partial epoch."""
        state = ResumeState(
            epoch=epoch,
            optimizer_state=snapshot.optimizer_state,
            scheduler_state=snapshot.scheduler_state,
            rng=capture_rng(self.generator),
            history=history,
            top_k=self.top_k.entries,
            output_dir=str(self.directory.parent.resolve()),
            config_hash=self.config_hash,
            partial=partial,
            alignment_state=snapshot.alignment_state,
        )
        save_checkpoint(
            self.last,
            replace(self._checkpoint(snapshot, epoch, history[-1] if history else {}), resume=state),
        )

    def finish(self) -> Path:
        shutil.copy2(self.top_k.best, self.best)
        return self.best

    def _checkpoint(self, snapshot: Snapshot, epoch: int, metrics: dict[str, float]) -> Checkpoint:
        training = replace(self.card.training, epoch=epoch, metrics=dict(metrics))
        return Checkpoint(replace(self.card, training=training), snapshot.weights)
